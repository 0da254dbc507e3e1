"""`tsys newsletter send` and deliver() end to end through a real SMTP server on loopback."""

from __future__ import annotations

import email
from email import policy

import pytest
from click.testing import CliRunner

from tsys.cli import cli
from tsys.config import config_from_dict
from tsys.files import atomic_write_text
from tsys.serialization import dumps
from tsys.store.runs import load_run as _load_run
from tsys.testing.smtp import PASSWORD, USER, Authenticator, free_port
from tsys.workspace import workspace


def run_dir(data, day):
    """Where the configuration ``data_dir = data`` keeps the run of ``day`` (its workspace)."""
    return workspace(config_from_dict({"data_dir": str(data)})).run_dir(day)


def load_run(data, day):
    return _load_run(run_dir(data, day).parent, day)


pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


def _setup(tmp_path, run, port, monkeypatch):
    data = tmp_path / "data"
    atomic_write_text(run_dir(data, run.as_of) / "run.json", dumps(run))
    cfg = tmp_path / "tsys.toml"
    cfg.write_text(
        f'data_dir = "{data}"\n'
        "[notifiers.email]\n"
        f'host = "127.0.0.1"\nport = {port}\nsecurity = "plain"\n'
        f'username = "{USER}"\nsender = "tsys@example.test"\n'
        'recipients = ["me@example.test"]\nretries = 1\nbackoff = 0.01\ntimeout = 5\n'
    )
    monkeypatch.setenv("TSYS_SMTP_PASSWORD", PASSWORD)
    return data, str(cfg)


def test_send_delivers_and_records(tmp_path, run, smtp_server, monkeypatch):
    _, handler, port = smtp_server(
        authenticator=Authenticator(), auth_required=True, auth_require_tls=False
    )
    data, cfg = _setup(tmp_path, run, port, monkeypatch)
    res = CliRunner().invoke(cli, ["--config", cfg, "newsletter", "send"])
    assert res.exit_code == 0, res.output
    assert f"email: sent 1 email to me@example.test through 127.0.0.1:{port}" in res.output
    (got,) = handler.messages
    msg = email.message_from_bytes(got["content"], policy=policy.default)
    assert "AAPL" in msg.get_body(("plain",)).get_content()
    (rec,) = load_run(data, run.as_of).deliveries
    assert rec.plugin == "email" and rec.ok


def test_send_failure_keeps_artifacts_and_exits_10(tmp_path, run, monkeypatch):
    port = free_port()  # nothing listens there
    data, cfg = _setup(tmp_path, run, port, monkeypatch)
    res = CliRunner().invoke(cli, ["--config", cfg, "newsletter", "send"])
    assert res.exit_code == 10, res.output
    assert f"127.0.0.1:{port}" in res.output and "retry with" in res.output
    assert PASSWORD not in res.output
    (rec,) = load_run(data, run.as_of).deliveries
    assert not rec.ok and f"127.0.0.1:{port}" in rec.detail and "after 2 attempts" in rec.detail
    assert PASSWORD not in (run_dir(data, run.as_of) / "run.json").read_text()
    assert (run_dir(data, run.as_of) / "newsletter.html").is_file()
    assert (run_dir(data, run.as_of) / "newsletter.txt").is_file()


def test_deliver_through_email(tmp_path, run, smtp_server, monkeypatch):
    from tsys.config import load_config
    from tsys.report.delivery import deliver

    _, handler, port = smtp_server(
        authenticator=Authenticator(), auth_required=True, auth_require_tls=False
    )
    data, cfg = _setup(tmp_path, run, port, monkeypatch)
    folder = run_dir(data, run.as_of)
    (res,) = deliver(run, load_config(cfg), folder)
    assert res.ok and res.plugin == "email"
    assert len(handler.messages) == 1
    assert (folder / "newsletter.html").is_file()
