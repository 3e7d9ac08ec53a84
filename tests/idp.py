"""A tiny real OAuth2 identity provider over HTTP for tests: a token endpoint
(refresh-token grant, RFC 6749 §6) and an introspection endpoint (RFC 7662) that
Dovecot's oauth2 passdb asks whether an access token is good."""

from __future__ import annotations

import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class IdentityProvider:
    """Issues ``at-1``, ``at-2`` ... for a known refresh token; remembers every request."""

    def __init__(self, user: str, client_id: str = "maild-client",
                 client_secret: str = "s3cret-client", refresh_token: str = "rt-initial",
                 expires_in: int = 3600, rotate: bool = False) -> None:
        self.user = user
        self.client_id = client_id
        self.client_secret = client_secret
        self.refresh_tokens = {refresh_token}
        self.expires_in = expires_in
        self.rotate = rotate
        self.issued: list[str] = []
        self.revoked: set[str] = set()
        self.requests: list[tuple[str, dict[str, str]]] = []  # (path, form)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,),
                                        daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> IdentityProvider:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def token_requests(self) -> list[dict[str, str]]:
        return [form for path, form in self.requests if path == "/token"]

    def _token(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if (form.get("grant_type") != "refresh_token" or form.get("client_id") != self.client_id
                or form.get("client_secret") != self.client_secret):
            return 401, {"error": "invalid_client", "error_description": "bad client"}
        if form.get("refresh_token") not in self.refresh_tokens:
            return 400, {"error": "invalid_grant", "error_description": "refresh token expired"}
        token = f"at-{len(self.issued) + 1}"
        self.issued.append(token)
        reply: dict[str, Any] = {"access_token": token, "token_type": "Bearer",
                                 "expires_in": self.expires_in}
        if self.rotate:
            new = f"rt-{len(self.issued)}"
            self.refresh_tokens = {new}
            reply["refresh_token"] = new
        return 200, reply

    def _introspect(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        token = form.get("token", "")
        if token in self.issued and token not in self.revoked:
            return 200, {"active": True, "email": self.user}
        return 200, {"active": False}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        idp = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
                idp.requests.append((self.path, form))
                if self.path == "/token":
                    code, body = idp._token(form)
                elif self.path == "/introspect":
                    code, body = idp._introspect(form)
                else:
                    code, body = 404, {"error": "not_found"}
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:  # keep pytest output clean
                pass

        return Handler
