"""The email notifier against real SMTP servers on loopback (aiosmtpd), with the real smtplib."""

from __future__ import annotations

import email
import email.utils
import html as htmllib
import logging
import re
import time
from email import policy

import pytest
from tsys_notifier_email.notifier import EmailNotifier, EmailOptions

from tsys.errors import ConfigError, NotifierError
from tsys.notifiers import NotifierContext
from tsys.report.newsletter import render
from tsys.testing.smtp import PASSWORD, USER, Authenticator, RecordingHandler

# aiosmtpd warns when AUTH is allowed without TLS; the plain-AUTH tests do that on purpose.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")

RECIPIENTS = ["alice@example.test", "bob@example.test"]
# Facts of conftest.make_run(), formatted by hand.
FACTS = [
    "AAPL",
    "$12,345.67",
    "12.35%",
    "45 shares",
    "$180.50",
    "XOM",
    "$5,432.10",
    "5.43%",
    "BTC-USD",
    "$7,654.32",
    "0.12345678 units",
    "$58,000.00",
    "TSLA",
    "earnings in 2 days",
    "risk-on",
    "neutral",
    "$100,000.00",
    "$80,000.00",
    "$432.10",
    "SYNTHETIC DATA",
    "not investment advice",
]


def notifier(port, **kw):
    opts = {
        "host": "127.0.0.1",
        "port": port,
        "security": "plain",
        "sender": "tsys <tsys@example.test>",
        "recipients": RECIPIENTS,
        "timeout": 5,
        "retries": 2,
        "backoff": 0.01,
    }
    opts.update(kw)
    n = EmailNotifier(EmailOptions(**opts))
    n.waits = []  # the retry waits, through a fake sleep: no test waits on a real backoff
    n.sleep = n.waits.append
    return n


def parse(content: bytes):
    msg = email.message_from_bytes(content, policy=policy.default)
    assert msg.get_content_type() == "multipart/alternative"
    parts = list(msg.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    return msg, parts[0].get_content(), parts[1].get_content()


def visible(html: str) -> str:
    return re.sub(r"\s+", " ", htmllib.unescape(re.sub(r"<[^>]+>", " ", html)))


def test_plain_multiple_recipients_and_mime(run, smtp_server):
    _, handler, port = smtp_server()
    result = notifier(port).send(run, render(run))
    assert result.ok and result.plugin == "email"
    assert f"127.0.0.1:{port}" in result.detail and result.at is not None
    (got,) = handler.messages
    assert got["rcpt_tos"] == RECIPIENTS
    assert got["mail_from"] == "tsys@example.test"
    msg, text, html = parse(got["content"])
    assert msg["From"] == "tsys <tsys@example.test>"
    assert [a for _, a in email.utils.getaddresses([msg["To"]])] == RECIPIENTS
    assert re.fullmatch(r"<[^@>]+\.tsys@example\.test>", msg["Message-ID"])
    assert email.utils.parsedate_to_datetime(msg["Date"]).tzinfo is not None
    # The parsed subject equals the rendered one exactly (no folding artefacts).
    assert msg["Subject"] == render(run)[0].subject
    assert msg["Subject"].startswith("SYNTHETIC DATA: tsys 2024-05-03: 3 actions: 2 buys, 1 sell")
    (expected,) = render(run)
    assert text.replace("\r\n", "\n") == expected.text
    assert "<style" not in html and 'style="' in html
    for fact in FACTS:
        assert fact in text, fact
        assert fact in visible(html), fact
    assert 'href="https://news.test/aapl"' in html


def test_plain_with_auth(run, smtp_server):
    auth = Authenticator()
    _, handler, port = smtp_server(authenticator=auth, auth_required=True, auth_require_tls=False)
    notifier(port, username=USER, password=PASSWORD).send(run, render(run))
    assert handler.messages[0]["authenticated"] is True
    assert auth.calls == 1


def test_starttls_with_auth(run, smtp_server, server_ssl, ca_file):
    _, handler, port = smtp_server(
        tls_context=server_ssl,
        require_starttls=True,
        authenticator=Authenticator(),
        auth_required=True,
    )
    n = notifier(port, security="starttls", username=USER, password=PASSWORD, ca_file=ca_file)
    assert n.send(run, render(run)).ok
    (got,) = handler.messages
    assert got["tls"] is True and got["authenticated"] is True
    assert "AAPL" in parse(got["content"])[1]


def test_implicit_tls_with_auth(run, smtp_server, server_ssl, ca_file):
    _, handler, port = smtp_server(
        ssl_context=server_ssl, authenticator=Authenticator(), auth_require_tls=False
    )
    n = notifier(port, security="tls", username=USER, password=PASSWORD, ca_file=ca_file)
    assert n.send(run, render(run)).ok
    (got,) = handler.messages
    assert got["authenticated"] is True
    assert parse(got["content"])[0]["Message-ID"]


def test_untrusted_certificate_is_permanent(run, smtp_server, server_ssl):
    _, handler, port = smtp_server(ssl_context=server_ssl)
    n = notifier(port, security="tls", backoff=5)
    with pytest.raises(NotifierError) as info:
        n.send(run, render(run))
    msg = str(info.value)
    assert f"127.0.0.1:{port}" in msg and "TLS failed" in msg and "[permanent]" in msg
    assert "after 1 attempt" in msg
    assert n.waits == []  # no backoff: it was not retried
    assert handler.messages == []


def test_auth_failure_is_permanent_and_never_shows_the_password(
    run, smtp_server, caplog, monkeypatch
):
    caplog.set_level(logging.DEBUG)
    auth = Authenticator()
    _, handler, port = smtp_server(authenticator=auth, auth_required=True, auth_require_tls=False)
    wrong = "wrong-" + PASSWORD
    with pytest.raises(NotifierError) as info:
        notifier(port, username=USER, password=wrong).send(run, render(run))
    text = str(info.value)
    assert f"127.0.0.1:{port}" in text
    assert "535" in text and "Authentication credentials invalid" in text
    assert "TSYS_SMTP_PASSWORD" in text  # the hint says where the password comes from
    # smtplib tries PLAIN then LOGIN on the one connection; no second connection follows.
    assert len(auth.peers) == 1
    assert handler.messages == []
    for blob in (text, repr(info.value), caplog.text):
        assert PASSWORD not in blob and wrong not in blob


def test_starttls_required_but_plain_login_is_refused(run, smtp_server, server_ssl):
    _, _, port = smtp_server(
        tls_context=server_ssl,
        require_starttls=True,
        authenticator=Authenticator(),
        auth_required=True,
    )
    with pytest.raises(NotifierError) as info:
        notifier(port, username=USER, password=PASSWORD).send(run, render(run))
    assert "[permanent]" in str(info.value) and PASSWORD not in str(info.value)


def test_dropped_connection_is_retried_then_reported(run, dropping_server, caplog):
    caplog.set_level(logging.WARNING)
    server = dropping_server()
    with pytest.raises(NotifierError) as info:
        notifier(server.port, retries=2, username=USER, password=PASSWORD).send(run, render(run))
    text = str(info.value)
    assert f"127.0.0.1:{server.port}" in text
    assert "closed the connection" in text and "after 3 attempts" in text
    assert "[temporary]" in text
    assert server.connections == 3
    assert caplog.text.count("retrying in") == 2
    assert PASSWORD not in text and PASSWORD not in caplog.text


def test_hung_server_times_out(run, dropping_server):
    server = dropping_server(silent=True)
    started = time.monotonic()
    with pytest.raises(NotifierError) as info:
        notifier(server.port, retries=1, timeout=0.3).send(run, render(run))
    assert "timed out" in str(info.value) and "after 2 attempts" in str(info.value)
    assert server.connections == 2
    assert time.monotonic() - started < 3


def test_connection_refused_is_temporary(run):
    from tsys.testing.smtp import free_port

    port = free_port()
    with pytest.raises(NotifierError) as info:
        notifier(port, retries=1).send(run, render(run))
    assert "ConnectionRefusedError" in str(info.value) and "after 2 attempts" in str(info.value)


def test_temporary_4xx_then_success(run, smtp_server):
    handler = RecordingHandler(fail_first=2)
    _, _, port = smtp_server(handler)
    n = notifier(port, retries=3, backoff=5)
    result = n.send(run, render(run))
    assert result.ok
    assert handler.attempts == 3 and n.waits == [5, 10]  # backoff, doubled
    assert len(handler.messages) == 1  # delivered exactly once


def test_temporary_4xx_exhausts_retries(run, smtp_server):
    handler = RecordingHandler(fail_first=99)
    _, _, port = smtp_server(handler)
    with pytest.raises(NotifierError) as info:
        notifier(port, retries=1).send(run, render(run))
    assert "451 4.3.0 Try again later" in str(info.value) and "after 2 attempts" in str(info.value)
    assert handler.attempts == 2


def test_permanent_5xx_is_not_retried(run, smtp_server):
    handler = RecordingHandler(fail_first=99, reply="554 5.7.1 Message rejected as spam")
    _, _, port = smtp_server(handler)
    with pytest.raises(NotifierError) as info:
        notifier(port, retries=3).send(run, render(run))
    assert "554 5.7.1 Message rejected as spam" in str(info.value)
    assert "[permanent]" in str(info.value)
    assert handler.attempts == 1


def test_per_bucket_sends_one_email_per_bucket(run, smtp_server):
    _, handler, port = smtp_server()
    n = notifier(port, per_bucket=True)
    result = n.send(run, render(run, per_bucket=True))
    assert "sent 2 emails" in result.detail
    subjects = [parse(m["content"])[0]["Subject"] for m in handler.messages]
    assert [s.split(" ")[3] for s in subjects] == ["sp500", "crypto"]
    ids = {parse(m["content"])[0]["Message-ID"] for m in handler.messages}
    assert len(ids) == 2


# ------------------------------------------------------------------------------ configuration
def test_from_config_reads_password_from_environment(monkeypatch):
    monkeypatch.setenv("TSYS_SMTP_PASSWORD", PASSWORD)
    n = EmailNotifier.from_config(
        {
            "host": "smtp.test",
            "security": "tls",
            "username": USER,
            "sender": "a@b.test",
            "recipients": "a@b.test",
        },
        NotifierContext(),
    )
    assert n.port == 465 and n.recipients == ["a@b.test"] and n.timeout == 30 and n.retries == 3
    assert n.backoff == 2 and n.per_bucket is False
    assert PASSWORD not in repr(n)


@pytest.mark.parametrize(
    ("options", "line"),
    [
        (
            {"password": "hunter2-in-the-file"},
            "password is a secret, read from the environment only: remove it and set "
            "TSYS_SMTP_PASSWORD @ $.notifiers.email.password",
        ),
        ({"hots": "x"}, "unknown option 'hots' (did you mean 'host'?) @ $.notifiers.email.hots"),
        (
            {"security": "ssl"},
            "must be one of 'plain', 'starttls', 'tls', got 'ssl' @ $.notifiers.email.security",
        ),
        ({"recipients": []}, "must not be empty, got [] @ $.notifiers.email.recipients"),
        (
            {"sender": "nobody"},
            "must be an address such as 'tsys <me@example.com>', got 'nobody' "
            "@ $.notifiers.email.sender",
        ),
        (
            {"username": USER},
            f"{USER!r} is set but TSYS_SMTP_PASSWORD is not: export TSYS_SMTP_PASSWORD=... "
            "(the password is never read from tsys.toml) @ $.notifiers.email.username",
        ),
        ({"port": 70000}, "must be between 1 and 65535, got 70000 @ $.notifiers.email.port"),
        ({"port": "25"}, "expected an integer, got '25' (a string) @ $.notifiers.email.port"),
        ({"host": None}, "expected a string, got None (nothing) @ $.notifiers.email.host"),
    ],
)
def test_from_config_errors(options, line, monkeypatch):
    monkeypatch.delenv("TSYS_SMTP_PASSWORD", raising=False)
    base = {"host": "smtp.test", "sender": "a@b.test", "recipients": ["a@b.test"]}
    base.update(options)
    with pytest.raises(ConfigError) as info:
        EmailNotifier.from_config(base, NotifierContext())
    assert info.value.message.splitlines() == ["invalid [notifiers.email]:", f"  {line}"]
    assert "hunter2" not in str(info.value)  # a secret's value is never echoed


def test_discovered_through_entry_point(monkeypatch):
    from tsys import plugins

    monkeypatch.delenv("TSYS_LOAD_PLUGINS", raising=False)
    monkeypatch.setenv("TSYS_LOAD_PLUGINS", "notifier-email")
    pm = plugins.build_plugin_manager()
    plugins.reset_plugin_manager(pm)
    assert pm.get_plugin("notifier-email") is not None
    assert plugins.notifiers().get("email") is EmailNotifier
    assert plugins.notifiers().owner("email") == "notifier-email"
    names = {d.project_name for _, d in pm.list_plugin_distinfo()}
    assert "tsys-notifier-email" in names
