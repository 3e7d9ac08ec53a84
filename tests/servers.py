"""Real mail servers for tests: a throw-away Dovecot (IMAP + LMTP) and an SMTP sink.

Why real servers: maild's IMAP and SMTP code has to be proven against a real
server's behaviour (IDLE, MOVE, UIDPLUS, reconnects, temporary failures), not
only against a mock.  These are plain helpers without pytest fixtures, so
benchmarks and scripts can use them as well (see tests/conftest.py for the
fixtures).

Dovecot needs: root (it drops privileges itself), the system users ``dovecot``
and ``dovenull`` (Debian's dovecot-core makes them) and ``vmail`` (owner of the
mail; .ci/run makes it), and the Debian packages dovecot-imapd and
dovecot-lmtpd.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import email
import email.policy
import imaplib
import os
import pwd
import re
import shutil
import signal
import smtplib
import socket
import stat
import subprocess
import tempfile
import threading
import time
import weakref
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any, NoReturn

__all__ = [
    "DEFAULT_USERS",
    "Dovecot",
    "SinkMessage",
    "SmtpSink",
    "dovecot_available",
    "dovecot_unavailable_reason",
    "free_port",
    "require_dovecot",
]

DEFAULT_USERS: Mapping[str, str] = {"helpdesk@corp.example": "secret"}
MAIL_OWNER = "vmail"
HOST = "127.0.0.1"

_DOVECOT_BINARIES = ("/usr/sbin/dovecot", "/usr/local/sbin/dovecot", "/usr/bin/dovecot")
_LIBEXEC_DIRS = ("/usr/lib/dovecot", "/usr/libexec/dovecot", "/usr/local/libexec/dovecot")
# Service programs the generated config uses; each comes from a different package.
_SERVICES = {"imap": "dovecot-imapd", "imap-login": "dovecot-imapd", "lmtp": "dovecot-lmtpd"}
# Unix socket paths are limited to 108 bytes; Dovecot puts sockets up to
# ~30 bytes deep inside base_dir, so a longer base_dir goes to a short temp dir.
_MAX_BASE_DIR_LEN = 70


def free_port(host: str = HOST) -> int:
    """A TCP port that was free a moment ago (the kernel picked it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _is_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


def unavailable(reason: str) -> NoReturn:
    """A server a test needs is missing: skip the test, but under CI=true fail it.

    CI installs the servers itself, so a missing one there is a broken CI, not
    a reason to quietly skip the real-server tests."""
    import pytest  # local import: this module must stay importable without pytest

    if _is_ci():
        pytest.fail(f"CI=true but {reason}", pytrace=False)
    pytest.skip(reason)


async def imap_logout(client: Any) -> None:
    """LOGOUT an aioimaplib client and close its socket now. aioimaplib leaves the socket
    to the server's close; if the test's event loop ends first, the transport is
    collected unclosed later, and its ResourceWarning fails whatever test runs then."""
    try:
        await client.logout()
    finally:
        transport = getattr(client.protocol, "transport", None)
        if transport is not None:
            transport.close()


# --------------------------------------------------------------------------- Dovecot


def _dovecot_binary() -> str | None:
    found = shutil.which("dovecot")
    if found:
        return found
    return next((p for p in _DOVECOT_BINARIES if os.access(p, os.X_OK)), None)


def _libexec_dir() -> Path | None:
    """The directory that holds Dovecot's service programs (imap, lmtp, ...)."""
    for d in _LIBEXEC_DIRS:
        if all(os.access(Path(d) / s, os.X_OK) for s in _SERVICES):
            return Path(d)
    return None


def dovecot_available() -> bool:
    """True when the Dovecot binaries this module needs are installed."""
    return _dovecot_binary() is not None and _libexec_dir() is not None


def dovecot_unavailable_reason() -> str | None:
    """Why a test Dovecot cannot run here, or None when it can."""
    if _dovecot_binary() is None:
        return "Dovecot is not installed (apt-get install dovecot-imapd dovecot-lmtpd)"
    if _libexec_dir() is None:
        missing = sorted({pkg for svc, pkg in _SERVICES.items() if not _has_service(svc)})
        return f"Dovecot service programs missing: apt-get install {' '.join(missing)}"
    if os.geteuid() != 0:
        return "a test Dovecot must be started as root (it switches to vmail/dovenull itself)"
    for user in (MAIL_OWNER, "dovecot", "dovenull"):
        try:
            pwd.getpwnam(user)
        except KeyError:
            hint = (
                "useradd --system --user-group --no-create-home "
                f"--home-dir /nonexistent --shell /usr/sbin/nologin {user}"
            )
            return f"system user {user!r} does not exist (create it: {hint})"
    return None


def _has_service(name: str) -> bool:
    return any(os.access(Path(d) / name, os.X_OK) for d in _LIBEXEC_DIRS)


def require_dovecot() -> None:
    """Skip the calling test when Dovecot can't run here; under CI=true fail instead."""
    reason = dovecot_unavailable_reason()
    if reason is not None:
        unavailable(reason)


def _proc_state(pid: int) -> tuple[str, int] | None:
    """(state letter, process group) of a pid from /proc, None if gone."""
    try:
        data = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = data[data.rindex(")") + 2 :].split()
    return fields[0], int(fields[2])


def _group_members(pgid: int) -> list[tuple[int, str]]:
    """(pid, command line) of the live, non-zombie processes in process group pgid.

    Zombies are ignored: in a container whose PID 1 does not reap orphans,
    a dead Dovecot child can stay a zombie for ever, and it holds no port.
    """
    proc = Path("/proc")
    if not proc.is_dir():  # not Linux: fall back to signal 0
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return []
        return [(pgid, "?")]
    members: list[tuple[int, str]] = []
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        st = _proc_state(int(entry.name))
        if st is None or st[1] != pgid or st[0] in ("Z", "X"):
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        members.append((int(entry.name), cmd.strip()))
    return members


def _group_alive(pgid: int) -> bool:
    return bool(_group_members(pgid))


def _ensure_traversable(path: Path) -> None:
    """Give 'others' the search (x) bit on path and its parents.

    Dovecot's mail processes run as vmail and its auth process as dovecot;
    pytest's tmp_path lives under /tmp/pytest-of-root (mode 0700), which they
    could not enter.  Only the x bit is added: directory listings stay private.
    """
    for p in [path, *path.parents]:
        mode = p.stat().st_mode
        if not mode & stat.S_IXOTH:
            os.chmod(p, stat.S_IMODE(mode) | stat.S_IXOTH)


def _imap_utf7(name: str) -> str:
    """Mailbox name in IMAP's modified UTF-7 (RFC 3501 §5.1.3)."""
    out: list[str] = []
    buf: list[str] = []

    def flush() -> None:
        if buf:
            import base64

            b = base64.b64encode("".join(buf).encode("utf-16-be")).decode().rstrip("=")
            out.append("&" + b.replace("/", ",") + "-")
            buf.clear()

    for ch in name:
        if 0x20 <= ord(ch) <= 0x7E:
            flush()
            out.append("&-" if ch == "&" else ch)
        else:
            buf.append(ch)
    flush()
    return "".join(out)


def _imap_utf7_decode(name: str) -> str:
    """Inverse of _imap_utf7: '&XfJZBHQG-' -> '已处理'."""
    import base64

    def dec(m: re.Match[str]) -> str:
        b64 = m.group(1)
        if not b64:
            return "&"
        b64 = b64.replace(",", "/")
        return base64.b64decode(b64 + "=" * (-len(b64) % 4)).decode("utf-16-be")

    return re.sub(r"&([A-Za-z0-9+,]*)-", dec, name)


def _imap_quote(name: str) -> str:
    enc = _imap_utf7(name)
    return '"' + enc.replace("\\", "\\\\").replace('"', '\\"') + '"'


_LIVE: set[Dovecot] = set()  # strong refs: a forgotten instance must still be stopped


@atexit.register
def _stop_leftovers() -> None:
    """Never leave a Dovecot running after the test process ends."""
    for d in list(_LIVE):
        with contextlib.suppress(Exception):
            d.stop()


class Dovecot:
    """A private Dovecot on 127.0.0.1: plaintext IMAP and LMTP on free high ports.

    All its files live under ``base`` (config, passwd-file, maildirs, log);
    nothing touches the system's /etc/dovecot or its running service.  Usable
    as a context manager: ``with Dovecot(tmp_path) as dc: ...``.
    """

    def __init__(self, base: Path | str, users: Mapping[str, str] | None = None,
                 tls: tuple[Path, Path] | None = None,
                 oauth2_introspection_url: str | None = None) -> None:
        """``tls`` = (certificate chain PEM, key PEM): STARTTLS on the IMAP port and IMAPS
        on ``imaps_port``. ``oauth2_introspection_url``: XOAUTH2 logins are checked by
        POSTing the token there (Dovecot's oauth2 passdb, RFC 7662 style)."""
        self.base = Path(base).resolve()
        self.tls = tls
        self.oauth2_introspection_url = oauth2_introspection_url
        self.imaps_port = 0
        self.users: dict[str, str] = dict(DEFAULT_USERS if users is None else users)
        if not self.users:
            raise ValueError("Dovecot needs at least one user")
        self.host = HOST
        self.imap_port = 0
        self.lmtp_port = 0
        self.conf_path = self.base / "dovecot.conf"
        self.passwd_path = self.base / "passwd"
        self.mail_root = self.base / "mail"
        self.state_dir = self.base / "state"
        self.log_path = self.base / "dovecot.log"
        self._stderr_path = self.base / "dovecot.stderr"
        self.base_dir = self.base / "run"
        self._short_base_dir: str | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self.last_start_seconds = 0.0
        self.last_stop_seconds = 0.0

    # -- lifecycle ---------------------------------------------------------

    @property
    def default_user(self) -> str:
        """The first user: the helpdesk mailbox in the default setup."""
        return next(iter(self.users))

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self, timeout: float = 15.0) -> Dovecot:
        """Write the config and start Dovecot; return once IMAP and LMTP greet."""
        if self.running:
            return self
        reason = dovecot_unavailable_reason()
        if reason is not None:
            raise RuntimeError(f"cannot start a test Dovecot: {reason}")
        self._prepare_dirs()
        first_start = self.imap_port == 0
        attempts = 3
        for attempt in range(1, attempts + 1):
            if first_start:
                self.imap_port, self.lmtp_port = self._two_free_ports()
                self.imaps_port = free_port() if self.tls else 0
            self._write_config()
            t0 = time.monotonic()
            err = self._launch_and_wait(timeout)
            if err is None:
                self.last_start_seconds = time.monotonic() - t0
                _LIVE.add(self)
                return self
            self._kill_group()
            # A port taken between free_port() and bind(): pick new ones
            # (or, on a restart, wait for the old ones to be released).
            if "Address already in use" not in err or attempt == attempts:
                raise RuntimeError(f"Dovecot did not start: {err}\n{self.log_tail()}")
            time.sleep(0.2)
        raise AssertionError("unreachable")

    def stop(self, grace: float = 0.5) -> None:
        """Shut Dovecot down as ``systemctl stop`` would, and wait until every one
        of its processes is gone (so the ports are free). Safe to call twice.

        SIGTERM goes to the master (pid from base_dir/master.pid) and to the rest
        of its process group, so IMAP clients get ``* BYE Server shutting down.``
        at once.  (SIGTERM to the master alone leaves a logged-in imap process
        running for 10 s.)  A master left alone with no children (it may sleep a
        fixed 1 s on the way out) and anything still running after ``grace``
        seconds is SIGKILLed.  Takes ~0.03 s.
        """
        proc = self._proc
        if proc is None:
            return
        t0 = time.monotonic()
        master = self._master_pid() or proc.pid
        for pid in {master, proc.pid}:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        log_stopped = False
        master_alone_since: float | None = None
        while time.monotonic() < deadline:
            if proc.poll() is not None and not _group_alive(proc.pid):
                break
            others = [m for m in _group_members(proc.pid) if m[0] != proc.pid]
            if not others:
                # Only the master is left: it has nothing more to do than a
                # fixed sleep of up to 1 s; do not wait for that.
                master_alone_since = master_alone_since or time.monotonic()
                if time.monotonic() - master_alone_since > 0.05:
                    break
            elif not log_stopped and all(cmd.endswith("/log") for _, cmd in others):
                # The master waits for its log process, which lingers; once every
                # other child is gone, ending it lets the master exit now.
                for pid, _ in others:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGTERM)
                log_stopped = True
            time.sleep(0.01)
        self._finish_stop(t0)

    def kill(self) -> None:
        """Crash Dovecot: SIGKILL all its processes at once. Clients see the
        connection drop with no BYE; the mail on disk is kept."""
        if self._proc is not None:
            self._finish_stop(time.monotonic())

    def _finish_stop(self, t0: float) -> None:
        self._kill_group()
        with contextlib.suppress(OSError):
            (self.base_dir / "master.pid").unlink()  # no stale pid for the next start
        self._proc = None
        _LIVE.discard(self)
        self.last_stop_seconds = time.monotonic() - t0

    def restart(self) -> Dovecot:
        """Stop and start again on the same ports; the mail is kept."""
        self.stop()
        return self.start()

    def __enter__(self) -> Dovecot:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<Dovecot {state} imap={self.host}:{self.imap_port} lmtp={self.lmtp_port}>"

    # -- mail --------------------------------------------------------------

    def deliver(
        self,
        raw: bytes | str,
        rcpt: str = "helpdesk@corp.example",
        mail_from: str = "sender@example.org",
    ) -> None:
        """Deliver one message over LMTP, as an MTA would (adds Return-Path,
        Delivered-To and Received). Raises smtplib errors when refused."""
        data = raw.encode() if isinstance(raw, str) else raw
        with smtplib.LMTP(self.host, self.lmtp_port, timeout=10) as lmtp:
            lmtp.sendmail(mail_from, [rcpt], data)

    @contextlib.contextmanager
    def imap(self, user: str | None = None) -> Iterator[imaplib.IMAP4]:
        """A logged-in stdlib IMAP client for assertions (logged out afterwards)."""
        user = user or self.default_user
        conn = imaplib.IMAP4(self.host, self.imap_port, timeout=10)
        try:
            conn.login(user, self.users[user])
            yield conn
        finally:
            with contextlib.suppress(Exception):
                conn.logout()

    def count(self, folder: str = "INBOX", user: str | None = None) -> int:
        """Number of messages in folder; 0 if the folder does not exist."""
        with self.imap(user) as conn:
            typ, data = conn.select(_imap_quote(folder), readonly=True)
            if typ != "OK":
                return 0
            return int(data[0] or 0)

    def fetch_all(self, folder: str = "INBOX", user: str | None = None) -> list[bytes]:
        """Raw bytes of every message in folder, in UID order; [] if it does not exist.
        Uses BODY.PEEK so no \\Seen flag is set."""
        with self.imap(user) as conn:
            typ, data = conn.select(_imap_quote(folder), readonly=True)
            if typ != "OK" or int(data[0] or 0) == 0:
                return []
            typ, items = conn.uid("FETCH", "1:*", "(UID BODY.PEEK[])")
            if typ != "OK":
                raise RuntimeError(f"UID FETCH failed: {items!r}")
            found: list[tuple[int, bytes]] = []
            for item in items:
                if isinstance(item, tuple):
                    m = re.search(rb"UID (\d+)", item[0])
                    found.append((int(m.group(1)) if m else 0, bytes(item[1])))
            return [body for _, body in sorted(found)]

    def folders(self, user: str | None = None) -> list[str]:
        """Mailbox names, decoded from modified UTF-7 (hierarchy separator '.')."""
        with self.imap(user) as conn:
            typ, data = conn.list()
            names: list[str] = []
            for line in data if typ == "OK" else []:
                if isinstance(line, bytes):
                    m = re.match(rb'\(.*?\) (?:"[^"]*"|NIL) (.*)$', line)
                    if m:
                        names.append(_imap_utf7_decode(m.group(1).decode().strip('"')))
            return names

    def wait_for_count(
        self, folder: str, n: int, timeout: float = 10.0, user: str | None = None
    ) -> None:
        """Block until folder holds exactly n messages (raises TimeoutError).
        In an async test use ``await wait_for_count_async(...)`` instead."""
        deadline = time.monotonic() + timeout
        while True:
            got = self.count(folder, user)
            if got == n:
                return
            if time.monotonic() >= deadline:
                raise TimeoutError(f"{folder}: expected {n} messages, have {got} after {timeout}s")
            time.sleep(0.05)

    async def wait_for_count_async(
        self, folder: str, n: int, timeout: float = 10.0, user: str | None = None
    ) -> None:
        """Like wait_for_count, without blocking the event loop."""
        deadline = time.monotonic() + timeout
        while True:
            got = await asyncio.to_thread(self.count, folder, user)
            if got == n:
                return
            if time.monotonic() >= deadline:
                raise TimeoutError(f"{folder}: expected {n} messages, have {got} after {timeout}s")
            await asyncio.sleep(0.05)

    def log_tail(self, lines: int = 40) -> str:
        """The end of Dovecot's log and stderr, for error messages."""
        out = []
        for p in (self._stderr_path, self.log_path):
            if p.exists():
                text = p.read_text(errors="replace").splitlines()[-lines:]
                if text:
                    out.append(f"--- {p.name} ---\n" + "\n".join(text))
        return "\n".join(out)

    # -- internals ---------------------------------------------------------

    @staticmethod
    def _two_free_ports() -> tuple[int, int]:
        a = free_port()
        b = free_port()
        while b == a:
            b = free_port()
        return a, b

    def _prepare_dirs(self) -> None:
        vmail = pwd.getpwnam(MAIL_OWNER)
        self.base.mkdir(parents=True, exist_ok=True)
        for d in (self.mail_root, self.state_dir):
            d.mkdir(exist_ok=True)
        os.chown(self.mail_root, vmail.pw_uid, vmail.pw_gid)
        os.chmod(self.mail_root, 0o700)
        if len(str(self.base_dir)) > _MAX_BASE_DIR_LEN and self._short_base_dir is None:
            self._short_base_dir = tempfile.mkdtemp(prefix="dovecot-")
            weakref.finalize(self, shutil.rmtree, self._short_base_dir, True)
        if self._short_base_dir is not None:
            self.base_dir = Path(self._short_base_dir)
        _ensure_traversable(self.base)
        lines = [f"{user}:{{PLAIN}}{pw}::::::" for user, pw in self.users.items()]
        self.passwd_path.write_text("\n".join(lines) + "\n")
        # read by the auth process (user dovecot); a throw-away test password
        os.chmod(self.passwd_path, 0o644)

    def _tls_and_oauth2_config(self) -> tuple[str, str, str]:
        """(ssl settings, auth_mechanisms, extra passdb) for the opt-in TLS / OAuth2 modes."""
        ssl_conf, mechs, passdb = "ssl = no", "plain login", ""
        if self.tls:
            cert, key = self.tls
            ssl_conf = f"ssl = yes\nssl_cert = <{cert}\nssl_key = <{key}"
        if self.oauth2_introspection_url:
            ext = self.base / "dovecot-oauth2.conf.ext"
            ext.write_text(f"introspection_mode = post\n"
                           f"introspection_url = {self.oauth2_introspection_url}\n"
                           "force_introspection = yes\nusername_attribute = email\n"
                           "active_attribute = active\nactive_value = true\n")
            os.chmod(ext, 0o644)
            mechs += " xoauth2 oauthbearer"
            passdb = f"passdb {{\n  driver = oauth2\n  mechanisms = xoauth2 oauthbearer\n" \
                     f"  args = {ext}\n}}"
        return ssl_conf, mechs, passdb

    def _write_config(self) -> None:
        mail = self.mail_root
        ssl_conf, mechs, oauth2_passdb = self._tls_and_oauth2_config()
        self.conf_path.write_text(
            f"""\
# Generated by tests/servers.py: a throw-away test instance, not the system Dovecot.
base_dir = {self.base_dir}
state_dir = {self.state_dir}
instance_name = maild-test-{self.imap_port}
log_path = {self.log_path}
info_log_path = {self.log_path}
protocols = imap lmtp
listen = {self.host}
{ssl_conf}
disable_plaintext_auth = no
auth_mechanisms = {mechs}
auth_failure_delay = 0
default_internal_user = dovecot
default_internal_group = dovecot
default_login_user = dovenull
first_valid_uid = 1
mail_location = maildir:{mail}/%d/%n/Maildir
mail_fsync = never
mail_max_userip_connections = 200
mailbox_idle_check_interval = 1 secs
verbose_proctitle = no
# helpdesk+token@corp.example is delivered to helpdesk@corp.example's INBOX;
# Delivered-To keeps the address exactly as given in RCPT TO (with +token).
recipient_delimiter = +
lmtp_save_to_detail_mailbox = no
lmtp_hdr_delivery_address = final
lmtp_add_received_header = yes

passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {self.passwd_path}
}}
{oauth2_passdb}
userdb {{
  driver = static
  args = uid={MAIL_OWNER} gid={MAIL_OWNER} home={mail}/%d/%n
}}

service imap-login {{
  inet_listener imap {{
    address = {self.host}
    port = {self.imap_port}
  }}
  inet_listener imaps {{
    address = {self.host}
    port = {self.imaps_port}
  }}
}}
# No per-IP auth penalty (2 s, 4 s, ... up to 15 s on every login after a
# failed one): one wrong-password test would slow all later logins.
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
service lmtp {{
  inet_listener lmtp {{
    address = {self.host}
    port = {self.lmtp_port}
  }}
}}
"""
        )

    def _launch_and_wait(self, timeout: float) -> str | None:
        """Start dovecot in the foreground (-F: we are its parent and reap it)
        and poll until both ports greet. Returns an error text or None."""
        binary = _dovecot_binary()
        assert binary is not None
        with open(self._stderr_path, "wb") as err:
            self._proc = subprocess.Popen(
                [binary, "-F", "-c", str(self.conf_path)],
                stdin=subprocess.DEVNULL,
                stdout=err,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # own process group: stop() can find every child
            )
        deadline = time.monotonic() + timeout
        pending = {"IMAP": (self.imap_port, b"* OK"), "LMTP": (self.lmtp_port, b"220")}
        while pending:
            if self._proc.poll() is not None:
                text = self._stderr_path.read_text(errors="replace") + self._log_text()
                return f"dovecot exited with {self._proc.returncode}: {text.strip()[-2000:]}"
            for name, (port, greeting) in list(pending.items()):
                if self._greets(port, greeting):
                    del pending[name]
            if not pending:
                return None
            if time.monotonic() >= deadline:
                return f"no greeting from {', '.join(pending)} within {timeout}s"
            time.sleep(0.01)
        return None

    def _greets(self, port: int, greeting: bytes) -> bool:
        try:
            with socket.create_connection((self.host, port), timeout=2) as s:
                s.settimeout(2)
                return s.recv(256).startswith(greeting)
        except OSError:
            return False

    def _log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def _master_pid(self) -> int | None:
        try:
            return int((self.base_dir / "master.pid").read_text().strip())
        except (OSError, ValueError):
            return None

    def _kill_group(self) -> None:
        proc = self._proc
        if proc is None:
            return
        if _group_alive(proc.pid):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)
        deadline = time.monotonic() + 5
        while _group_alive(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.01)


# --------------------------------------------------------------------------- SMTP sink


@dataclass(frozen=True)
class SinkMessage:
    """One message the sink accepted: the envelope and the raw bytes as sent."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes
    received_at: float  # time.time()
    login: str | None = None  # the AUTH user, when the sink requires auth

    def message(self) -> EmailMessage:
        """The data parsed with the modern email policy."""
        msg = email.message_from_bytes(self.data, policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        return msg


class _SinkHandler:
    """aiosmtpd handler: runs in the Controller's thread, stores into the sink."""

    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = envelope.original_content or envelope.content or b""
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        login = session.auth_data  # (login_data is deprecated and logs a warning)
        rec = SinkMessage(
            mail_from=str(envelope.mail_from or ""),
            rcpt_tos=tuple(envelope.rcpt_tos),
            data=bytes(raw),
            received_at=time.time(),
            login=login.decode() if isinstance(login, bytes) else (login and str(login)),
        )
        await self.sink._maybe_stall()
        return self.sink._accept(rec)


class _XOAuth2SinkHandler(_SinkHandler):
    """Also offers AUTH XOAUTH2, accepting the sink's ``xoauth2_tokens`` (user -> token)."""

    async def auth_XOAUTH2(self, server: Any, args: list[str]) -> Any:
        import base64
        import json

        from aiosmtpd.smtp import AuthResult

        try:
            fields = base64.b64decode(args[1], validate=True).decode().split("\x01")
            user = fields[0].removeprefix("user=")
            token = fields[1].removeprefix("auth=Bearer ")
        except (IndexError, ValueError):
            await server.push("501 5.5.2 Can't decode XOAUTH2 response")
            return AuthResult(success=False, handled=True)
        self.sink.xoauth2_seen.append((user, token))
        if self.sink.xoauth2_tokens.get(user) == token:
            return AuthResult(success=True, auth_data=user)
        # Gmail's way: a 334 challenge with a JSON error, then 535 after the empty answer
        await server.challenge_auth(json.dumps({"status": "401", "schemes": "bearer"}))
        return AuthResult(success=False, handled=False)


class SmtpSink:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 that keeps every message.

    ``.stop()`` then ``.start()`` comes back on the same port, so tests can
    take "the mail relay" down and bring it back.  ``fail_next(n)`` answers the
    next n messages with a temporary failure (451) to exercise retries.
    """

    def __init__(
        self,
        port: int | None = None,
        auth: tuple[str, str] | None = None,
        host: str = HOST,
        tls_context: Any = None,
        implicit_tls: bool = False,
        xoauth2_tokens: Mapping[str, str] | None = None,
        smtputf8: bool = True,
    ) -> None:
        """``tls_context`` (a server-side ssl.SSLContext): STARTTLS is offered and
        required, or with ``implicit_tls`` the port speaks TLS at once (SMTPS).
        ``xoauth2_tokens`` (user -> access token): AUTH XOAUTH2 accepts these.
        ``smtputf8=False``: an ASCII-only relay (no SMTPUTF8 in its EHLO)."""
        self.smtputf8 = smtputf8
        self.tls_context = tls_context
        self.implicit_tls = implicit_tls
        self.xoauth2_tokens = dict(xoauth2_tokens or {})
        self.xoauth2_seen: list[tuple[str, str]] = []  # (user, token) of every XOAUTH2 try
        self.host = host
        self.port = port or free_port(host)
        self.auth = auth
        self.messages: list[SinkMessage] = []  # appended under self._cond
        self.refused: list[SinkMessage] = []  # answered by fail_next()
        self._cond = threading.Condition()
        self._fail_remaining = 0
        self._fail_reply = ""
        self._stall_after: int | None = None
        self._unstall = threading.Event()
        self._controller: Any = None

    # -- lifecycle ---------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._controller is not None

    def start(self) -> SmtpSink:
        """Listen on self.port (the same port after a stop)."""
        if self._controller is not None:
            return self
        from aiosmtpd.controller import Controller

        kwargs: dict[str, Any] = {
            "server_hostname": "sink.test",  # skip socket.getfqdn(): it can hang on DNS
            "ready_timeout": 10.0,
            "enable_SMTPUTF8": self.smtputf8,
        }
        if self.auth is not None or self.xoauth2_tokens:
            kwargs.update(
                authenticator=self._authenticate,
                auth_require_tls=False,
                auth_required=False,
            )
        if self.tls_context is not None and self.implicit_tls:
            kwargs["ssl_context"] = self.tls_context
        elif self.tls_context is not None:
            kwargs.update(tls_context=self.tls_context, require_starttls=True)
        handler = _XOAuth2SinkHandler(self) if self.xoauth2_tokens else _SinkHandler(self)
        last: Exception | None = None
        for _ in range(50):  # the port may need a moment after a stop
            ctl = Controller(handler, hostname=self.host, port=self.port, **kwargs)
            try:
                ctl.start()
            except Exception as exc:  # e.g. EADDRINUSE right after a stop
                last = exc
                with contextlib.suppress(Exception):
                    ctl.stop()
                time.sleep(0.05)
                continue
            self._controller = ctl
            return self
        raise RuntimeError(f"SMTP sink could not listen on {self.host}:{self.port}: {last}")

    def stop(self) -> None:
        """Stop listening; stored messages are kept. Safe to call twice."""
        ctl, self._controller = self._controller, None
        if ctl is not None:
            ctl.stop()

    def __enter__(self) -> SmtpSink:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<SmtpSink {state} {self.host}:{self.port} messages={len(self.messages)}>"

    # -- behaviour ---------------------------------------------------------

    def fail_next(self, n: int = 1, reply: str = "451 4.3.0 Temporary failure, try again") -> None:
        """Answer the next n messages (at end of DATA) with reply instead of 250."""
        with self._cond:
            self._fail_remaining = n
            self._fail_reply = reply

    def stall_after(self, n: int) -> None:
        """Keep every message after the first n waiting at end of DATA, unanswered, until
        ``unstall()`` (or 30 s): a mail "in flight" for as long as a test needs."""
        self._unstall.clear()
        self._stall_after = n

    def unstall(self) -> None:
        self._stall_after = None
        self._unstall.set()

    async def _maybe_stall(self) -> None:
        if self._stall_after is None or len(self.messages) < self._stall_after:
            return
        deadline = time.monotonic() + 30
        while not self._unstall.is_set() and time.monotonic() < deadline:
            await asyncio.sleep(0.02)

    def clear(self) -> None:
        with self._cond:
            self.messages.clear()
            self.refused.clear()

    # -- assertions --------------------------------------------------------

    def wait_for(self, n: int, timeout: float = 10.0) -> list[SinkMessage]:
        """Block until at least n messages arrived; return them all (TimeoutError if not).
        In an async test use ``await wait_for_async(...)`` so the loop keeps running."""
        with self._cond:
            if not self._cond.wait_for(lambda: len(self.messages) >= n, timeout):
                raise TimeoutError(self._timeout_text(n, timeout))
            return list(self.messages)

    async def wait_for_async(self, n: int, timeout: float = 10.0) -> list[SinkMessage]:
        """Like wait_for, polling so the caller's event loop is not blocked."""
        deadline = time.monotonic() + timeout
        while len(self.messages) < n:
            if time.monotonic() >= deadline:
                raise TimeoutError(self._timeout_text(n, timeout))
            await asyncio.sleep(0.02)
        with self._cond:
            return list(self.messages)

    def parsed(self) -> list[EmailMessage]:
        """Every stored message parsed with email.policy.default."""
        with self._cond:
            recs = list(self.messages)
        return [r.message() for r in recs]

    def to(self, addr: str) -> list[SinkMessage]:
        """Messages whose envelope recipients include addr (case-insensitive)."""
        want = addr.strip().lower()
        with self._cond:
            return [r for r in self.messages if want in (a.lower() for a in r.rcpt_tos)]

    # -- internals ---------------------------------------------------------

    def _accept(self, rec: SinkMessage) -> str:
        with self._cond:
            if self._fail_remaining > 0:
                self._fail_remaining -= 1
                self.refused.append(rec)
                return self._fail_reply
            self.messages.append(rec)
            self._cond.notify_all()
            return f"250 2.0.0 OK queued as sink-{len(self.messages)}"

    def _timeout_text(self, n: int, timeout: float) -> str:
        got = [(m.mail_from, m.rcpt_tos) for m in self.messages]
        return f"expected >= {n} messages within {timeout}s, got {len(got)}: {got}"

    def _authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> Any:
        from aiosmtpd.smtp import AuthResult, LoginPassword

        if isinstance(auth_data, LoginPassword) and self.auth is not None:
            user, pw = auth_data.login.decode(), auth_data.password.decode()
            if (user, pw) == self.auth:
                return AuthResult(success=True, auth_data=user)
        return AuthResult(success=False, handled=False)
