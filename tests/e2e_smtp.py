"""Loopback SMTP for the end-to-end tests: aiosmtpd Controllers with AUTH, optional STARTTLS.

The handler and authenticator mirror plugins/notifier_email/tests/conftest.py (kept separate:
test folders are not importable packages).
"""

from __future__ import annotations

import socket

USER = "tsys-e2e-user"
PASSWORD = "e2e-Pa55-word-must-not-leak-7731"


def free_port() -> int:
    """A loopback port nothing listens on (aiosmtpd's Controller cannot bind port 0)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RecordingHandler:
    """Accept every message and keep its envelope, content and session state."""

    def __init__(self) -> None:
        self.messages: list[dict] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(
            {
                "mail_from": envelope.mail_from,
                "rcpt_tos": list(envelope.rcpt_tos),
                "content": envelope.content,
                "authenticated": session.authenticated,
                "tls": session.ssl is not None,
            }
        )
        return "250 Message accepted for delivery"


class Authenticator:
    """Accept only USER/PASSWORD; count the logins."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, server, session, envelope, mechanism, auth_data):
        from aiosmtpd.smtp import AuthResult

        self.calls += 1
        ok = auth_data.login == USER.encode() and auth_data.password == PASSWORD.encode()
        return AuthResult(success=True) if ok else AuthResult(success=False, handled=False)


def start_smtp(*, tls_context=None, port: int | None = None):
    """Start an AUTH-requiring SMTP server (STARTTLS-only when ``tls_context`` is given)."""
    from aiosmtpd.controller import Controller

    handler = RecordingHandler()
    auth = Authenticator()
    kwargs = {"authenticator": auth, "auth_required": True}
    if tls_context is None:
        kwargs["auth_require_tls"] = False
    else:
        kwargs.update(tls_context=tls_context, require_starttls=True)
    port = port or free_port()
    ctl = Controller(handler, hostname="127.0.0.1", port=port, ready_timeout=5, **kwargs)
    ctl.start()
    return ctl, handler, auth, port


def email_config(port: int, *, security: str = "plain", ca_file: str | None = None) -> str:
    """A ``[notifiers.email]`` table pointing at 127.0.0.1:port with fast failure settings."""
    text = (
        "[notifiers.email]\n"
        f'host = "127.0.0.1"\nport = {port}\nsecurity = "{security}"\n'
        f'username = "{USER}"\nsender = "tsys <tsys@example.test>"\n'
        'recipients = ["me@example.test", "partner@example.test"]\n'
        "retries = 1\nbackoff = 0.01\ntimeout = 5\n"
    )
    if ca_file is not None:
        text += f'ca_file = "{ca_file}"\n'
    return text
