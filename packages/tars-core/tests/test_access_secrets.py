"""`tars secrets`: .env keeps existing passwords and gains satellites; the ACL matches the registry."""

from __future__ import annotations

from pathlib import Path

from tars.cli.secrets import read_env, write_secrets
from tars.stack import access

ROOT = Path(__file__).resolve().parents[3]


def test_secrets_keep_passwords_and_add_a_satellite(tmp_path: Path) -> None:
    env_path, acl_path, new = write_secrets(tmp_path, [])
    first = read_env(env_path)
    assert set(new) == set(access.users()) and env_path.stat().st_mode & 0o777 == 0o600
    (tmp_path / ".env").write_text(env_path.read_text() + "OTHER=kept\n")
    _, _, new = write_secrets(tmp_path, ["kitchen"])
    second = read_env(env_path)
    assert new == ["satellite-kitchen"]
    assert {k: v for k, v in second.items() if k in first and k != "TARS_SATELLITES"} == {
        k: v for k, v in first.items() if k != "TARS_SATELLITES"}
    assert second["TARS_SATELLITES"] == "kitchen" and second["OTHER"] == "kept"
    assert second["TARS_PASSWORD_SATELLITE_KITCHEN"] not in first.values()
    assert acl_path.read_text() == access.acl_text(access.users(("kitchen",)))


def test_committed_default_acl_is_generated() -> None:
    assert (ROOT / "config" / "mosquitto" / "acl").read_text() == access.acl_text(access.users())
