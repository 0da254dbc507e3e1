"""Loopback SMTP for tests: real aiosmtpd servers that record what they receive.

Test support only (nothing in tsys imports this module; it needs ``aiosmtpd``, imported when a
server starts)::

    from tsys.testing.smtp import Authenticator, start_server

    ctl, handler, port = start_server(authenticator=Authenticator(), auth_required=True)
    try:
        ...  # send to 127.0.0.1:port, then read handler.messages
    finally:
        ctl.stop()
"""

from __future__ import annotations

import socket
from typing import Any

#: The login :class:`Authenticator` accepts unless told otherwise.
USER = "tsys-user"
PASSWORD = "s3cr3t-Pa55word-do-not-leak"


def free_port() -> int:
    """A loopback port nothing listens on (aiosmtpd's Controller cannot bind port 0)."""
    # The Controller connects to its own port to check that it is ready, so port 0 will not do.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RecordingHandler:
    """Accept messages; optionally answer the first ``fail_first`` DATA commands with ``reply``.

    ``messages`` holds each accepted message's envelope, content and session state
    (authenticated, over TLS); ``attempts`` counts every DATA command.
    """

    def __init__(self, fail_first: int = 0, reply: str = "451 4.3.0 Try again later") -> None:
        self.fail_first = fail_first
        self.reply = reply
        self.attempts = 0
        self.messages: list[dict] = []

    async def handle_DATA(self, server, session, envelope):
        self.attempts += 1
        if self.attempts <= self.fail_first:
            return self.reply
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
    """Accept only ``user``/``password``; count the logins and the connections they came on."""

    def __init__(self, user: str = USER, password: str = PASSWORD) -> None:
        self.user = user
        self.password = password
        self.calls = 0
        self.peers: set = set()  # one client port per connection

    def __call__(self, server, session, envelope, mechanism, auth_data):
        from aiosmtpd.smtp import AuthResult

        self.calls += 1
        self.peers.add(session.peer)
        ok = auth_data.login == self.user.encode() and auth_data.password == self.password.encode()
        # handled=False makes aiosmtpd answer 535; with the default it would not answer at all.
        return AuthResult(success=True) if ok else AuthResult(success=False, handled=False)


def start_server(
    handler: Any = None, *, port: int | None = None, **kwargs: Any
) -> tuple[Any, Any, int]:
    """Start an aiosmtpd Controller on 127.0.0.1: (controller, handler, port).

    ``handler`` defaults to a new :class:`RecordingHandler`, ``port`` to a free one; ``kwargs``
    go to the Controller (``authenticator``, ``auth_required``, ``tls_context``, ...). Stop it
    with ``controller.stop()``.
    """
    from aiosmtpd.controller import Controller

    handler = RecordingHandler() if handler is None else handler
    port = free_port() if port is None else port
    ctl = Controller(handler, hostname="127.0.0.1", port=port, ready_timeout=5, **kwargs)
    ctl.start()
    return ctl, handler, port
