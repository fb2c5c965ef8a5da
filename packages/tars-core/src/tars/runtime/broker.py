"""A local Mosquitto broker on a loopback port, started from a generated config."""

from __future__ import annotations

import getpass
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from tars.runtime.errors import BusError


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def port_open(host: str, port: int, timeout: float = 0.2) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def mosquitto_path() -> str:
    exe = shutil.which("mosquitto") or next(
        (p for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto") if Path(p).exists()), None)
    if exe is None:
        raise BusError("mosquitto is not installed (apt-get install mosquitto)")
    return exe


@dataclass(frozen=True)
class BrokerTls:
    """TLS on the main listener: the CA, the broker's certificate and key; with
    ``require_certificate`` every client must also present a certificate signed by the CA."""

    cafile: Path
    certfile: Path
    keyfile: Path
    require_certificate: bool = False

    def lines(self) -> list[str]:
        return [f"cafile {self.cafile}", f"certfile {self.certfile}", f"keyfile {self.keyfile}",
                "tls_version tlsv1.2",
                f"require_certificate {'true' if self.require_certificate else 'false'}"]


@dataclass
class LocalBroker:
    """Runs ``mosquitto`` bound to loopback. ``password_file``/``acl_file`` turn on auth.

    With ``admin_password_file`` a second listener on loopback (``admin_port``) takes only those
    credentials (the operator); on the main listener ``bind_client_ids`` makes every client id
    its username, so no credential can take over another's session. ``tls`` puts TLS on the main
    listener (plaintext is refused there).
    """

    port: int = 0
    host: str = "127.0.0.1"
    workdir: Path | None = None
    password_file: Path | None = None
    acl_file: Path | None = None
    persistence: bool = False
    admin_port: int = 0
    admin_password_file: Path | None = None
    bind_client_ids: bool = False
    tls: BrokerTls | None = None
    extra: tuple[str, ...] = ()
    """More configuration lines, appended last (a bridge ``connection`` section)."""
    proc: subprocess.Popen[bytes] | None = field(default=None, init=False)
    _tmp: tempfile.TemporaryDirectory[str] | None = field(default=None, init=False)

    @property
    def url(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"

    @property
    def pid_file(self) -> Path:
        """The running mosquitto's pid, written at each start (in ``workdir``)."""
        assert self.workdir is not None
        return self.workdir / "mosquitto.pid"

    @property
    def admin_url(self) -> str:
        return f"mqtt://127.0.0.1:{self.admin_port}"

    def config_text(self) -> str:
        assert self.workdir is not None
        admin = self.admin_password_file is not None
        lines = ["per_listener_settings true"] if admin else []
        lines += [
            f"persistence {'true' if self.persistence else 'false'}",
            f"persistence_location {self.workdir}/",
            "log_dest stderr",
            "log_type error",
            "log_type warning",
            "max_queued_messages 10000",
            "set_tcp_nodelay true",
            f"user {getpass.getuser()}",
            f"listener {self.port} {self.host}",
            f"allow_anonymous {'false' if self.password_file else 'true'}",
        ]
        if self.password_file:
            lines.append(f"password_file {self.password_file}")
        if self.acl_file:
            lines.append(f"acl_file {self.acl_file}")
        if self.bind_client_ids:
            lines.append("use_username_as_clientid true")
        if self.tls is not None:
            lines += self.tls.lines()
        if admin:
            lines += [f"listener {self.admin_port} 127.0.0.1", "allow_anonymous false",
                      f"password_file {self.admin_password_file}"]
            if self.acl_file:
                lines.append(f"acl_file {self.acl_file}")
        lines += self.extra
        return "\n".join(lines) + "\n"

    def start(self, timeout: float = 10.0) -> LocalBroker:
        exe = mosquitto_path()
        if self.workdir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="tars-mosquitto-")
            self.workdir = Path(self._tmp.name)
        self.workdir.mkdir(parents=True, exist_ok=True)
        if not self.port:
            self.port = free_port(self.host)
        if self.admin_password_file is not None and not self.admin_port:
            self.admin_port = free_port()
        conf = self.workdir / "mosquitto.conf"
        conf.write_text(self.config_text())
        log = (self.workdir / "mosquitto.log").open("ab")
        self.proc = subprocess.Popen([exe, "-c", str(conf)], stdout=log, stderr=log,
                                     stdin=subprocess.DEVNULL)
        self.pid_file.write_text(f"{self.proc.pid}\n")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                tail = (self.workdir / "mosquitto.log").read_text(errors="replace")[-400:]
                raise BusError(f"mosquitto exited with {self.proc.returncode}: {tail.strip()}")
            if port_open(self.host, self.port) and (
                    not self.admin_port or port_open("127.0.0.1", self.admin_port)):
                return self
            time.sleep(0.05)
        self.stop()
        raise BusError(f"mosquitto did not listen on {self.host}:{self.port} within {timeout}s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def close(self) -> None:
        self.stop()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> LocalBroker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
