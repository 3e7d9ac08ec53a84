"""TLS client contexts for the IMAP and SMTP edges, and readable TLS error texts.

Verification is on unless a section says ``verify = false``; that is logged
as a warning on every connection, so nobody runs that way by accident.
``ca_file`` replaces the system's trusted CAs with the given PEM bundle (a
company CA or a self-signed server).
"""

from __future__ import annotations

import logging
import ssl

log = logging.getLogger("maild.tls")


def client_context(section: str, ca_file: str, verify: bool) -> ssl.SSLContext:
    """An SSLContext for connecting to the server configured in ``[section]``."""
    try:
        ctx = ssl.create_default_context(cafile=ca_file or None)
    except (OSError, ssl.SSLError) as exc:
        raise ssl.SSLError(f"[{section}] ca_file {ca_file!r} cannot be read as PEM: {exc}") \
            from exc
    if not verify:
        log.warning("[%s] verify = false: the server's TLS certificate is NOT checked; "
                    "anyone on the network path can read the password and the mail", section)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def describe(exc: BaseException, section: str) -> str:
    """A sysadmin's explanation of a TLS failure, naming the config keys that fix it.

    Looks through wrapping exceptions (aiosmtplib's SMTPConnectError) for the cause."""
    cause: BaseException | None = exc
    while cause is not None and not isinstance(cause, ssl.SSLCertVerificationError):
        cause = cause.__cause__ or cause.__context__
    if isinstance(cause, ssl.SSLCertVerificationError):
        return (f"TLS certificate of the server not trusted ({cause.verify_message}); "
                f"if it is signed by your own CA, set [{section}] ca_file to that CA's PEM file")
    return str(exc) or type(exc).__name__
