"""[imap]/[smtp] TLS keys and [oauth2]: checked at start-up, errors name file and key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from maild.config import ConfigError, load_settings

SOURCE = Path("/etc/maild/config.toml")
HELPDESK = {"address": "helpdesk@corp.example", "secret": "x" * 20}
GRANT = {"token_url": "https://login.microsoftonline.com/corp/oauth2/v2.0/token",
         "client_id": "app-id", "client_secret": "env:T_CLIENT_SECRET",
         "refresh_token": "env:T_REFRESH_TOKEN",
         "scope": "https://outlook.office.com/IMAP.AccessAsUser.All offline_access"}


def load(source: Path = SOURCE, **sections: dict[str, Any]) -> Any:
    return load_settings({"helpdesk": HELPDESK, **sections}, source)


def error(**sections: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as info:
        load(**sections)
    assert str(SOURCE) in str(info.value)
    return str(info.value)


def test_ca_file_is_relative_to_the_config_file(tmp_path: Path) -> None:
    (tmp_path / "corp-ca.pem").write_text("PEM")
    s = load(tmp_path / "config.toml", imap={"ca_file": "corp-ca.pem"},
             smtp={"ca_file": "corp-ca.pem", "verify": False})
    assert s.imap.ca_file == str(tmp_path / "corp-ca.pem") and s.imap.verify is True
    assert s.smtp.ca_file == str(tmp_path / "corp-ca.pem") and s.smtp.verify is False


def test_missing_ca_file_is_named() -> None:
    assert "[smtp] ca_file '/etc/maild/nope.pem' does not exist" in error(
        smtp={"ca_file": "nope.pem"})


@pytest.mark.parametrize(("sections", "message"), [
    ({"imap": {"auth": "oauth"}}, "[imap] auth must be one of password, xoauth2"),
    ({"imap": {"verify": "no"}}, "[imap] verify must be true or false"),
    ({"imap": {"auth": "xoauth2", "username": "hd@corp.example"}},
     "[imap] auth = \"xoauth2\" needs an [oauth2] section"),
    ({"smtp": {"auth": "xoauth2", "username": "hd@corp.example"},
      "oauth2": {"token_command": "oama access hd@corp.example", **GRANT}}, "(not both)"),
    ({"smtp": {"auth": "xoauth2"}, "oauth2": {"token_command": "x"}},
     "[smtp] username is required"),
    ({"imap": {"auth": "xoauth2", "username": "hd@corp.example"},
      "oauth2": {**GRANT, "client_id": ""}}, "[oauth2] client_id is required"),
    ({"imap": {"auth": "xoauth2", "username": "hd@corp.example"},
      "oauth2": {**GRANT, "token_url": "login.example/token"}}, "token_url must be an https://"),
    ({"oauth2": {"tenant": "x"}}, "unknown key(s) in [oauth2]: tenant"),
])
def test_bad_tls_and_oauth2_settings_are_explained(
        sections: dict[str, Any], message: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("T_CLIENT_SECRET", "client-secret")
    monkeypatch.setenv("T_REFRESH_TOKEN", "refresh-secret")
    assert message in error(**sections)


def test_oauth2_secrets_from_env_attached_to_xoauth2_sections_and_hidden(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("T_CLIENT_SECRET", "client-secret")
    monkeypatch.setenv("T_REFRESH_TOKEN", "refresh-secret")
    s = load(tmp_path / "config.toml", imap={"auth": "xoauth2", "username": "hd@corp.example"},
             oauth2=GRANT)
    assert s.imap.oauth2 is not None and s.imap.oauth2.refresh_token == "refresh-secret"
    assert s.imap.oauth2.client_secret == "client-secret"
    assert s.smtp.oauth2 is None  # [smtp] still logs in with its password
    assert s.oauth2.token_cache == str(tmp_path / "store" / "oauth2-token.json")
    for text in (repr(s.imap), repr(s.oauth2), repr(s)):
        assert "client-secret" not in text and "refresh-secret" not in text


def test_missing_oauth2_env_variable_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("T_REFRESH_TOKEN", raising=False)
    monkeypatch.setenv("T_CLIENT_SECRET", "client-secret")
    assert "[oauth2] refresh_token: environment variable T_REFRESH_TOKEN is not set" in error(
        oauth2=GRANT)
