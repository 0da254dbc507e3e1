"""Issue 21.8: a server that stores the message but answers after the client's timeout.

aiosmtpd on loopback keeps every message it is given and replies ``250`` only after the
client has given up. Before: three copies arrived while the run said "could not send after 3
attempts", and `tsys newsletter send` added three more under a new Message-ID. Now: one copy,
"may have been delivered", and a resend carries the same Message-ID.
"""

from __future__ import annotations

import asyncio

import pytest
from tsys_notifier_email.notifier import EmailNotifier

from tsys.errors import NotifierError
from tsys.notifiers import Newsletter, NotifierContext
from tsys.testing.smtp import free_port

from .conftest import make_run

REPLY_AFTER = 1.5  # seconds the server sits on the DATA reply
CLIENT_TIMEOUT = 0.5


class SlowHandler:
    """Stores every message, then answers 250 after :data:`REPLY_AFTER` seconds."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.messages: list[bytes] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope.content)
        await asyncio.sleep(self.delay)
        return "250 stored"


@pytest.fixture
def slow_server():
    from aiosmtpd.controller import Controller

    handler = SlowHandler(REPLY_AFTER)
    port = free_port()
    ctl = Controller(handler, hostname="127.0.0.1", port=port, ready_timeout=5)
    ctl.start()
    yield handler, port
    ctl.stop()


def _notifier(port: int, retries: int = 3) -> EmailNotifier:
    opts = {
        "host": "127.0.0.1",
        "port": port,
        "security": "plain",
        "sender": "tsys <tsys@example.test>",
        "recipients": ["me@example.test"],
        "timeout": CLIENT_TIMEOUT,
        "retries": retries,
        "backoff": 0.01,
    }
    return EmailNotifier.from_config(opts, NotifierContext())


def _message_id(content: bytes) -> str:
    import email

    return email.message_from_bytes(content)["Message-ID"]


def test_no_retry_once_the_body_was_sent_and_resend_keeps_the_message_id(slow_server):
    handler, port = slow_server
    run = make_run()
    newsletter = Newsletter(subject="tsys 2024-05-03", html="<p>plan</p>", text="plan")
    with pytest.raises(NotifierError) as err:
        _notifier(port).send(run, [newsletter])
    text = str(err.value)
    assert "may have been delivered" in text and "went out" in text
    # neither a failure to retry nor a refusal: no "[permanent]", no "could not send"
    assert "[permanent]" not in text and "[temporary]" not in text
    assert "could not send" not in text
    assert f"did not answer within {CLIENT_TIMEOUT:g} s" in text
    assert "closed the connection" not in text
    assert len(handler.messages) == 1  # not 4 (1 + 3 retries)
    # the advised resend: the same Message-ID, so mail clients show one message
    with pytest.raises(NotifierError):
        _notifier(port).send(run, [newsletter])
    assert len(handler.messages) == 2
    first, second = (_message_id(m) for m in handler.messages)
    assert first == second and first.startswith("<20240503.all.")


def test_a_timeout_before_the_body_is_still_retried():
    """A server that accepts the connection but never greets: nothing was sent, retry."""
    import socket
    import threading

    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    accepted = []

    def accept():
        srv.settimeout(5)
        try:
            while len(accepted) < 3:
                conn, _ = srv.accept()
                accepted.append(conn)
        except OSError:
            pass

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    try:
        with pytest.raises(NotifierError) as err:
            _notifier(srv.getsockname()[1], retries=2).send(
                make_run(), [Newsletter(subject="s", html="<p>h</p>", text="t")]
            )
    finally:
        for c in accepted:
            c.close()
        srv.close()
    assert "after 3 attempts" in str(err.value) and "may have been delivered" not in str(err.value)
    assert "did not answer within" in str(err.value)


def test_different_runs_get_different_message_ids():
    import attrs
    from tsys_notifier_email.notifier import run_message_id

    run = make_run()
    later = attrs.evolve(run, created_at=run.created_at.replace(hour=23))
    assert run_message_id(run, None, "x.test") == run_message_id(run, None, "x.test")
    assert run_message_id(run, None, "x.test") != run_message_id(later, None, "x.test")
    assert run_message_id(run, "sp500", "x.test") != run_message_id(run, "crypto", "x.test")
