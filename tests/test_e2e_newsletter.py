"""Issue 7, done when: `tsys run-daily --demo` mails the newsletter through a real SMTP server.

Every run here is the real CLI on the synthetic market with the email notifier plugin, against
aiosmtpd on loopback (plain SMTP with AUTH, and STARTTLS with a trustme certificate). Expected
symbols and amounts are read from the run's own run.json and formatted here, not by tsys.
"""

from __future__ import annotations

import email
import email.utils
import json
import logging
import sys
from email import policy
from pathlib import Path

import pytest
from click.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent))

from e2e_smtp import PASSWORD, USER, email_config, free_port, start_smtp

from tsys.cli import cli

AS_OF = "2024-06-28"
ARTIFACTS = ("run.json", "signals.csv", "plans.csv", "summary.txt")
NEWSLETTER = ("newsletter.html", "newsletter.txt")

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


@pytest.fixture
def env(isolated, monkeypatch):
    monkeypatch.setenv("TSYS_SMTP_PASSWORD", PASSWORD)
    return isolated


@pytest.fixture
def servers():
    started = []

    def start(**kw):
        out = start_smtp(**kw)
        started.append(out[0])
        return out

    yield start
    for ctl in started:
        ctl.stop()


def _configure(tmp: Path, body: str) -> None:
    (tmp / "tsys.toml").write_text(body)


def _run_daily(*extra: str):
    return CliRunner().invoke(cli, ["run-daily", "--demo", "--as-of", AS_OF, *extra])


def _run_dir(tmp: Path) -> Path:
    return tmp / "data" / "demo" / "runs" / AS_OF  # --demo runs live in the sandbox


def _buys(run_dir: Path) -> list[tuple[str, float]]:
    """(symbol, dollars) of every BUY plan, straight from run.json."""
    run = json.loads((run_dir / "run.json").read_text())
    out = []
    for b in run["buckets"]:
        for p in b["plans"]:
            if p["action"] == "buy":
                out.append((p["allocation"]["signal"]["symbol"], p["allocation"]["dollars"]))
    return out


def _parse(content: bytes):
    msg = email.message_from_bytes(content, policy=policy.default)
    return msg, msg.get_body(("plain",)).get_content(), msg.get_body(("html",)).get_content()


def _check_message(got: dict, run_dir: Path) -> None:
    msg, text, html = _parse(got["content"])
    assert msg.get_content_type() == "multipart/alternative"
    parts = [p.get_content_type() for p in msg.iter_parts()]
    assert parts == ["text/plain", "text/html"]
    assert msg["Message-ID"] and msg["Message-ID"].startswith("<") and "@" in msg["Message-ID"]
    assert email.utils.parsedate_to_datetime(msg["Date"]) is not None
    assert AS_OF in msg["Subject"] and msg["Subject"].startswith("SYNTHETIC DATA")
    assert sorted(got["rcpt_tos"]) == ["me@example.test", "partner@example.test"]
    buys = _buys(run_dir)
    assert buys, "the demo day should recommend at least one buy"
    for symbol, dollars in buys:
        amount = f"${dollars:,.2f}"
        assert symbol in text and symbol in html, symbol
        assert amount in text and amount in html, (symbol, amount)
    # the email carries what was written to disk (the mail encoding may drop trailing blanks)
    on_disk = (run_dir / "newsletter.txt").read_text()
    assert _lines(on_disk) == _lines(text)
    assert PASSWORD not in got["content"].decode("utf-8", "replace")


def _lines(text: str) -> list[str]:
    return [line.rstrip() for line in text.strip().splitlines()]


def _deliveries(run_dir: Path) -> list[dict]:
    return json.loads((run_dir / "run.json").read_text())["deliveries"]


def test_without_smtp_the_run_writes_the_newsletter_files(env):
    result = _run_daily()
    assert result.exit_code == 0, result.output
    run_dir = _run_dir(env)
    for name in ARTIFACTS + NEWSLETTER:
        assert (run_dir / name).is_file(), name
    text = (run_dir / "newsletter.txt").read_text()
    html = (run_dir / "newsletter.html").read_text()
    assert html.lstrip().lower().startswith("<!doctype html") and "</html>" in html
    for symbol, dollars in _buys(run_dir):
        assert symbol in text and f"${dollars:,.2f}" in text
        assert symbol in html and f"${dollars:,.2f}" in html
    (d,) = _deliveries(run_dir)
    assert d["plugin"] == "file" and d["ok"] and "newsletter.html" in d["detail"]


def test_plain_smtp_with_auth_delivers_exactly_one_email(env, servers):
    _, handler, auth, port = servers()
    _configure(env, email_config(port))
    result = _run_daily()
    assert result.exit_code == 0, result.output
    run_dir = _run_dir(env)
    (got,) = handler.messages
    assert got["authenticated"] and auth.calls == 1 and not got["tls"]
    _check_message(got, run_dir)
    (d,) = _deliveries(run_dir)
    assert d["plugin"] == "email" and d["ok"], d
    assert f"127.0.0.1:{port}" in d["detail"]
    assert PASSWORD not in result.output


def test_starttls_delivers_with_a_verified_certificate(env, servers, tmp_path_factory):
    trustme = pytest.importorskip("trustme")
    import ssl

    ca = trustme.CA()
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(server_ctx)
    ca_file = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    _, handler, auth, port = servers(tls_context=server_ctx)
    _configure(env, email_config(port, security="starttls", ca_file=str(ca_file)))
    result = _run_daily()
    assert result.exit_code == 0, result.output
    (got,) = handler.messages
    assert got["tls"] and got["authenticated"] and auth.calls == 1
    _check_message(got, _run_dir(env))
    (d,) = _deliveries(_run_dir(env))
    assert d["plugin"] == "email" and d["ok"], d


def test_smtp_down_is_a_partial_failure_then_newsletter_send_recovers(env, servers, caplog):
    caplog.set_level(logging.DEBUG)
    port = free_port()  # nothing listens here yet
    _configure(env, email_config(port))
    result = _run_daily()
    assert result.exit_code == 10, result.output
    run_dir = _run_dir(env)
    for name in ARTIFACTS + NEWSLETTER:
        assert (run_dir / name).is_file(), name
    (d,) = _deliveries(run_dir)
    assert d["plugin"] == "email" and not d["ok"]
    assert f"127.0.0.1:{port}" in d["detail"], d["detail"]
    assert f"127.0.0.1:{port}" in result.output
    # the secret is nowhere: CLI output, logs, artifacts, newsletter files
    assert PASSWORD not in result.output
    assert PASSWORD not in caplog.text
    for f in run_dir.iterdir():
        assert PASSWORD not in f.read_text(errors="replace"), f.name
    assert USER in (env / "tsys.toml").read_text()  # the login name is config, not a secret

    # the server comes up on that port: resend the stored run without recomputing it
    before = (run_dir / "signals.csv").read_bytes()
    _, handler, _, _ = servers(port=port)
    sent = CliRunner().invoke(cli, ["newsletter", "send", "--as-of", AS_OF])
    assert sent.exit_code == 0, sent.output
    assert f"through 127.0.0.1:{port}" in sent.output
    (got,) = handler.messages
    _check_message(got, run_dir)
    failed, ok = _deliveries(run_dir)
    assert not failed["ok"] and ok["ok"] and ok["plugin"] == "email"
    assert (run_dir / "signals.csv").read_bytes() == before
    assert PASSWORD not in sent.output and PASSWORD not in (run_dir / "run.json").read_text()
