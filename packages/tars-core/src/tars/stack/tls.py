"""A private CA with a broker certificate and one client certificate per credential (openssl)."""

from __future__ import annotations

import ipaddress
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from tars.runtime.broker import BrokerTls
from tars.runtime.errors import ConfigError

_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]


def _openssl(*args: str, cwd: Path) -> None:
    exe = shutil.which("openssl")
    if exe is None:
        raise ConfigError("tls: openssl is not installed (apt-get install openssl)")
    done = subprocess.run([exe, *args], cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise ConfigError(f"tls: openssl {args[0]} failed: {done.stderr.strip()[-300:]}")


def _alt_names(hosts: list[str]) -> str:
    names = []
    for host in dict.fromkeys(["localhost", "127.0.0.1", *hosts]):
        try:
            ipaddress.ip_address(host)
            names.append(f"IP:{host}")
        except ValueError:
            names.append(f"DNS:{host}")
    return ",".join(names)


@dataclass(frozen=True)
class Pki:
    """``<dir>/ca.crt`` (+ key), ``broker.crt``/``broker.key``, ``<user>.crt``/``<user>.key``."""

    dir: Path

    @property
    def ca(self) -> Path:
        return self.dir / "ca.crt"

    def broker_tls(self, require_certificate: bool = False) -> BrokerTls:
        return BrokerTls(self.ca, self.dir / "broker.crt", self.dir / "broker.key", require_certificate)

    def client_query(self, user: str) -> str:
        """The ``mqtts://`` URL query naming the CA and ``user``'s certificate and key."""
        parts = {"ca": self.ca, "cert": self.dir / f"{user}.crt", "key": self.dir / f"{user}.key"}
        return "&".join(f"{k}={quote(str(v), safe='/')}" for k, v in parts.items())

    def ensure(self, users: list[str], hosts: list[str]) -> Pki:
        """Create whatever is missing: the CA (10 years), the broker certificate for ``hosts``
        (plus localhost / 127.0.0.1) and a client certificate per user. Keys are 0600."""
        self.dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.dir, 0o700)
        if not self.ca.is_file():
            _openssl("req", "-x509", *_KEY, "-keyout", "ca.key", "-out", "ca.crt", "-days", "3650",
                     "-subj", "/CN=tars local CA", cwd=self.dir)
        alt = self.dir / "broker.alt"
        wanted = f"subjectAltName={_alt_names(hosts)}\nextendedKeyUsage=serverAuth\n"
        if not (self.dir / "broker.crt").is_file() or not alt.is_file() or alt.read_text() != wanted:
            alt.write_text(wanted)
            self._issue("broker", alt)
        ext = self.dir / "client.ext"
        ext.write_text("extendedKeyUsage=clientAuth\n")
        for user in users:
            if not (self.dir / f"{user}.crt").is_file():
                self._issue(user, ext)
        for key in self.dir.glob("*.key"):
            os.chmod(key, 0o600)
        return self

    def _issue(self, name: str, ext: Path) -> None:
        _openssl("req", *_KEY, "-keyout", f"{name}.key", "-out", f"{name}.csr",
                 "-subj", f"/CN={name}", cwd=self.dir)
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
                 "-CAcreateserial", "-out", f"{name}.crt", "-days", "825", "-extfile", ext.name,
                 cwd=self.dir)
        (self.dir / f"{name}.csr").unlink(missing_ok=True)
