"""Loopback SMTP for the end-to-end tests: aiosmtpd Controllers with AUTH, optional STARTTLS.

The server, handler and authenticator are ``tsys.testing.smtp``'s, as in the email plugin's
own tests; here they require this login.
"""

from __future__ import annotations

from tsys.testing.smtp import Authenticator, free_port, start_server

USER = "tsys-e2e-user"
PASSWORD = "e2e-Pa55-word-must-not-leak-7731"
__all__ = ["PASSWORD", "USER", "email_config", "free_port", "start_smtp"]


def start_smtp(*, tls_context=None, port: int | None = None):
    """Start an AUTH-requiring SMTP server (STARTTLS-only when ``tls_context`` is given)."""
    auth = Authenticator(USER, PASSWORD)
    kwargs = {"authenticator": auth, "auth_required": True}
    if tls_context is None:
        kwargs["auth_require_tls"] = False
    else:
        kwargs.update(tls_context=tls_context, require_starttls=True)
    ctl, handler, port = start_server(port=port, **kwargs)
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
