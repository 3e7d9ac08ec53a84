"""OAuth2 access tokens for XOAUTH2 logins (Microsoft 365, Gmail).

Two sources, chosen in ``[oauth2]``:

* ``token_command``: a program (e.g. ``oama access helpdesk@corp.example``
  or a company script) prints the access token; it is run for every login and
  does its own caching.
* the refresh-token grant (RFC 6749 §6): POST to ``token_url``; the access
  token is kept until ``refresh_before_seconds`` before it expires. A refresh
  token the provider rotates (Microsoft does) is written to ``token_cache``
  (mode 0600) so a restart months later still works; the configured one is
  used again as soon as it is changed in the config.

Runs synchronously in a worker thread (``await source.token()``), so one lock
serves the IMAP and SMTP edges whatever event loop they run in. Tokens and
secrets are never logged.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import shlex
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from base64 import b64encode
from collections.abc import Callable
from pathlib import Path

from maild.config import OAuth2Settings

log = logging.getLogger("maild.oauth2")

DEFAULT_LIFETIME = 3600  # seconds, when the endpoint sends no expires_in


class OAuth2Error(RuntimeError):
    """No access token could be had; the message says why, without secrets."""


def xoauth2_string(user: str, token: str) -> str:
    """The base64 SASL XOAUTH2 initial response (Google's and Microsoft's format)."""
    return b64encode(f"user={user}\x01auth=Bearer {token}\x01\x01".encode()).decode("ascii")


class TokenSource:
    """Hands out a valid access token, fetching a new one only when needed."""

    def __init__(self, cfg: OAuth2Settings, clock: Callable[[], float] = time.monotonic) -> None:
        self.cfg = cfg
        self.clock = clock
        self.token_cache = Path(cfg.token_cache) if cfg.token_cache else None
        self._lock = threading.Lock()
        self._access: str | None = None
        self._expires_at = 0.0
        self._refresh_token = cfg.refresh_token
        self.fetches = 0  # how many times a token was fetched (for tests and metrics)

    async def token(self) -> str:
        """A valid access token (runs the command or refreshes when due)."""
        return await asyncio.to_thread(self.token_sync)

    def token_sync(self) -> str:
        with self._lock:
            if self.cfg.token_command:
                self.fetches += 1
                return run_token_command(self.cfg.token_command, self.cfg.timeout_seconds)
            now = self.clock()
            if self._access is None or now >= self._expires_at - self.cfg.refresh_before_seconds:
                self._refresh(now)
            assert self._access is not None
            return self._access

    def invalidate(self) -> None:
        """Forget the cached access token (the server refused it): fetch anew next time."""
        with self._lock:
            self._access = None

    def _refresh(self, now: float) -> None:
        self.fetches += 1
        reply = post_refresh(self.cfg, self._current_refresh_token())
        token = reply.get("access_token")
        if not isinstance(token, str) or not token:
            raise OAuth2Error(f"token endpoint {self.cfg.token_url} sent no access_token")
        try:
            lifetime = float(str(reply.get("expires_in", DEFAULT_LIFETIME)))
        except ValueError:
            lifetime = DEFAULT_LIFETIME
        self._access, self._expires_at = token, now + lifetime
        rotated = reply.get("refresh_token")
        if isinstance(rotated, str) and rotated and rotated != self._refresh_token:
            self._refresh_token = rotated
            self._save_refresh_token(rotated)
        log.info("oauth2: new access token from %s, valid %d s", self.cfg.token_url, lifetime)

    def _current_refresh_token(self) -> str:
        """The rotated refresh token from the cache, if it descends from the configured one."""
        if self._refresh_token != self.cfg.refresh_token or self.token_cache is None:
            return self._refresh_token
        try:
            saved = json.loads(self.token_cache.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return self._refresh_token
        if saved.get("configured_sha256") == _sha256(self.cfg.refresh_token):
            self._refresh_token = str(saved.get("refresh_token") or self._refresh_token)
        return self._refresh_token

    def _save_refresh_token(self, token: str) -> None:
        if self.token_cache is None:
            return
        data = json.dumps({"configured_sha256": _sha256(self.cfg.refresh_token),
                           "refresh_token": token})
        tmp = self.token_cache.with_suffix(".tmp")
        try:
            self.token_cache.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(data)
            os.replace(tmp, self.token_cache)
        except OSError as exc:
            log.warning("oauth2: cannot save the rotated refresh token to %s: %s",
                        self.token_cache, exc)


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def post_refresh(cfg: OAuth2Settings, refresh_token: str) -> dict[str, object]:
    """POST the refresh-token grant; the endpoint's JSON reply, or OAuth2Error."""
    form = {"grant_type": "refresh_token", "client_id": cfg.client_id,
            "refresh_token": refresh_token}
    if cfg.client_secret:
        form["client_secret"] = cfg.client_secret
    if cfg.scope:
        form["scope"] = cfg.scope
    req = urllib.request.Request(
        cfg.token_url, data=urllib.parse.urlencode(form).encode(), method="POST",
        headers={"Content-Type": "application/x-www-form-urlencoded",
                 "Accept": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=cfg.timeout_seconds) as resp:
            body = resp.read()
    except urllib.error.HTTPError as exc:
        raise OAuth2Error(f"token endpoint {cfg.token_url} refused the refresh token: "
                          f"HTTP {exc.code} {_error_text(exc.read())}") from None
    except (OSError, ValueError) as exc:
        raise OAuth2Error(f"token endpoint {cfg.token_url} unreachable: {exc}") from None
    try:
        reply = json.loads(body)
    except ValueError:
        raise OAuth2Error(f"token endpoint {cfg.token_url} did not answer JSON") from None
    if not isinstance(reply, dict):
        raise OAuth2Error(f"token endpoint {cfg.token_url} did not answer a JSON object")
    return reply


def _error_text(body: bytes) -> str:
    """``error: error_description`` from an OAuth2 error reply (RFC 6749 §5.2)."""
    try:
        data = json.loads(body)
        return f"{data.get('error', '?')}: {str(data.get('error_description', ''))[:300]}"
    except (ValueError, AttributeError):
        return body[:200].decode(errors="replace")


def run_token_command(command: str, timeout: float) -> str:
    """Run ``command`` (split like a shell would, but without one); its stdout is the token."""
    argv = shlex.split(command)
    try:
        done = subprocess.run(argv, capture_output=True, timeout=timeout, check=False,
                              stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise OAuth2Error(f"[oauth2] token_command {argv[0]!r} could not run: {exc}") from None
    if done.returncode != 0:
        err = done.stderr.decode(errors="replace").strip()[-300:]
        raise OAuth2Error(f"[oauth2] token_command {argv[0]!r} exited with "
                          f"{done.returncode}: {err}")
    token = done.stdout.decode(errors="replace").strip()
    if not token or "\n" in token:
        raise OAuth2Error(f"[oauth2] token_command {argv[0]!r} must print exactly one line, "
                          "the access token")
    return token


_SOURCES: dict[OAuth2Settings, TokenSource] = {}
_SOURCES_LOCK = threading.Lock()


def source_for(cfg: OAuth2Settings) -> TokenSource:
    """The one TokenSource per configuration, shared by the IMAP and SMTP edges."""
    with _SOURCES_LOCK:
        if cfg not in _SOURCES:
            _SOURCES[cfg] = TokenSource(cfg)
        return _SOURCES[cfg]
