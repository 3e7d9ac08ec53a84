"""OAuth2 access tokens: the refresh-token grant against a real local HTTP token
endpoint, and a real token command; expiry and refresh driven by a fake clock."""

from __future__ import annotations

import json
import logging
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from idp import IdentityProvider

from maild.config import OAuth2Settings
from maild.edges import oauth2
from maild.edges.oauth2 import OAuth2Error, TokenSource

USER = "helpdesk@corp.example"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def idp() -> Iterator[IdentityProvider]:
    server = IdentityProvider(USER).start()
    yield server
    server.stop()


def grant(idp: IdentityProvider, tmp_path: Path, **kw: object) -> OAuth2Settings:
    values: dict[str, object] = {
        "token_url": idp.url + "/token", "client_id": idp.client_id,
        "client_secret": idp.client_secret, "refresh_token": "rt-initial",
        "scope": "https://mail.google.com/", "token_cache": str(tmp_path / "oauth2.json"),
        "timeout_seconds": 5, **kw}
    return OAuth2Settings(**values)  # type: ignore[arg-type]


def test_refresh_grant_posts_the_form_and_caches_until_five_minutes_before_expiry(
        idp: IdentityProvider, tmp_path: Path) -> None:
    clock = Clock()
    src = TokenSource(grant(idp, tmp_path), clock=clock)
    assert src.token_sync() == "at-1"
    assert idp.token_requests() == [{
        "grant_type": "refresh_token", "client_id": "maild-client",
        "client_secret": "s3cret-client", "refresh_token": "rt-initial",
        "scope": "https://mail.google.com/"}]
    clock.now += 3600 - 301  # still more than 300 s left: the cached token
    assert src.token_sync() == "at-1"
    clock.now += 2  # 299 s left: refreshed ahead of expiry
    assert src.token_sync() == "at-2"
    assert len(idp.token_requests()) == 2
    src.invalidate()  # the server refused it: a new one at once
    assert src.token_sync() == "at-3"


async def test_async_token_and_one_source_per_config(idp: IdentityProvider,
                                                     tmp_path: Path) -> None:
    cfg = grant(idp, tmp_path)
    assert oauth2.source_for(cfg) is oauth2.source_for(cfg)
    assert await oauth2.source_for(cfg).token() == "at-1"
    assert await oauth2.source_for(cfg).token() == "at-1"
    assert len(idp.token_requests()) == 1


def test_rotated_refresh_token_is_kept_across_restarts(idp: IdentityProvider,
                                                       tmp_path: Path) -> None:
    idp.rotate = True
    cfg = grant(idp, tmp_path)
    assert TokenSource(cfg).token_sync() == "at-1"
    cache = tmp_path / "oauth2.json"
    assert stat.S_IMODE(cache.stat().st_mode) == 0o600
    assert json.loads(cache.read_text())["refresh_token"] == "rt-1"
    # a restart: the configured rt-initial is no longer valid, the saved rt-1 is
    assert TokenSource(cfg).token_sync() == "at-2"
    assert idp.token_requests()[-1]["refresh_token"] == "rt-1"
    # a new refresh token in the config wins over the cache
    idp.refresh_tokens.add("rt-new")
    TokenSource(grant(idp, tmp_path, refresh_token="rt-new")).token_sync()
    assert idp.token_requests()[-1]["refresh_token"] == "rt-new"


def test_refused_refresh_token_is_a_readable_error_without_secrets(
        idp: IdentityProvider, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    src = TokenSource(grant(idp, tmp_path, refresh_token="rt-stale-SECRET"))
    with pytest.raises(OAuth2Error) as err:
        src.token_sync()
    assert "HTTP 400 invalid_grant: refresh token expired" in str(err.value)
    assert "SECRET" not in str(err.value) and "s3cret" not in str(err.value)
    assert "s3cret" not in caplog.text and "SECRET" not in caplog.text


def test_access_token_is_never_logged(idp: IdentityProvider, tmp_path: Path,
                                      caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    TokenSource(grant(idp, tmp_path)).token_sync()
    assert "oauth2: new access token" in caplog.text
    assert "at-1" not in caplog.text and "rt-initial" not in caplog.text


def test_unreachable_token_endpoint(tmp_path: Path) -> None:
    from servers import free_port

    cfg = OAuth2Settings(token_url=f"http://127.0.0.1:{free_port()}/token", client_id="c",
                         refresh_token="r", timeout_seconds=2)
    with pytest.raises(OAuth2Error, match="unreachable"):
        TokenSource(cfg).token_sync()


def _script(tmp_path: Path, body: str) -> str:
    path = tmp_path / "get-token.py"
    path.write_text(body)
    return f"{sys.executable} {path} helpdesk@corp.example"


def test_token_command_prints_the_token(tmp_path: Path) -> None:
    cmd = _script(tmp_path, "import sys\nprint('cmd-token-for-' + sys.argv[1])\n")
    src = TokenSource(OAuth2Settings(token_command=cmd))
    assert src.token_sync() == "cmd-token-for-helpdesk@corp.example"
    assert src.token_sync() == "cmd-token-for-helpdesk@corp.example"
    assert src.fetches == 2  # the command does its own caching: asked every login


def test_failing_token_command_says_why(tmp_path: Path) -> None:
    cmd = _script(tmp_path, "import sys\nsys.stderr.write('no keyring')\nsys.exit(3)\n")
    with pytest.raises(OAuth2Error, match="exited with 3: no keyring"):
        TokenSource(OAuth2Settings(token_command=cmd)).token_sync()
    with pytest.raises(OAuth2Error, match="exactly one line"):
        TokenSource(OAuth2Settings(token_command=_script(tmp_path, "print()"))).token_sync()
    with pytest.raises(OAuth2Error, match="could not run"):
        TokenSource(OAuth2Settings(token_command=str(tmp_path / "missing"))).token_sync()


def test_xoauth2_string() -> None:
    import base64

    raw = base64.b64decode(oauth2.xoauth2_string("a@b.example", "tok"))
    assert raw == b"user=a@b.example\x01auth=Bearer tok\x01\x01"
