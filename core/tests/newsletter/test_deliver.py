"""deliver(), send(), record_deliveries() and the `tsys newsletter` commands."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from tsys.cli import cli
from tsys.config import config_from_dict
from tsys.contracts import DailyRun, DeliveryResult
from tsys.errors import NotifierError
from tsys.files import atomic_write_text
from tsys.hookspecs import hookimpl
from tsys.notifiers import Notifier
from tsys.report.delivery import deliver, record_deliveries
from tsys.serialization import dumps
from tsys.store.runs import load_run as _load_run
from tsys.workspace import workspace

from .conftest import AS_OF


def run_dir(data, day):
    """Where the configuration ``data_dir = data`` keeps the run of ``day`` (its workspace)."""
    return workspace(config_from_dict({"data_dir": str(data)})).run_dir(day)


def load_run(data, day):
    return _load_run(run_dir(data, day).parent, day)


class RecordingNotifier(Notifier):
    name = "recording"
    sent: list = []

    def __init__(self, per_bucket: bool = False) -> None:
        self.per_bucket = per_bucket

    def send(self, run, newsletters):
        RecordingNotifier.sent.append([(n.bucket, n.subject) for n in newsletters])
        return DeliveryResult(plugin=self.name, ok=True, detail=f"{len(newsletters)} sent")


class FailingNotifier(Notifier):
    name = "failing"

    def send(self, run, newsletters):
        raise NotifierError("smtp.test:587 answered 554 5.7.1 relay denied")


class CrashingNotifier(Notifier):
    name = "crashing"

    def send(self, run, newsletters):
        raise KeyError("oops")


class NotifiersPlugin:
    @hookimpl
    def register_notifiers(self, register):
        register(RecordingNotifier)
        register(FailingNotifier)
        register(CrashingNotifier)


@pytest.fixture
def pm(isolated_plugins):
    isolated_plugins.register(NotifiersPlugin(), name="test-notifiers")
    RecordingNotifier.sent = []
    return isolated_plugins


def _config(tmp_path, notifiers=None):
    return config_from_dict({"data_dir": str(tmp_path / "data"), "notifiers": notifiers or {}})


def test_deliver_without_notifier_writes_files_and_says_where(run, pm, tmp_path):
    folder = tmp_path / "run"
    results = deliver(run, _config(tmp_path), folder)
    assert [r.plugin for r in results] == ["file"]
    assert results[0].ok
    assert "no notifier configured" in results[0].detail
    assert str(folder / "newsletter.html") in results[0].detail
    assert "AAPL" in (folder / "newsletter.txt").read_text()
    assert "<html" in (folder / "newsletter.html").read_text()
    # No clock in the result: a run without notifiers stays byte-identical when re-run.
    assert results[0].at is None


def test_deliver_send_false_skips_notifiers(run, pm, tmp_path):
    cfg = _config(tmp_path, {"recording": {}})
    results = deliver(run, cfg, tmp_path / "run", send=False)
    assert results[0].plugin == "file" and "sending skipped" in results[0].detail
    assert RecordingNotifier.sent == []


def test_deliver_failures_become_results_not_exceptions(run, pm, tmp_path):
    cfg = _config(
        tmp_path,
        {
            "recording": {"per_bucket": True},
            "failing": {},
            "crashing": {},
            "emial": {},
            "off": {"enabled": False},
        },
    )
    folder = tmp_path / "run"
    results = {r.plugin: r for r in deliver(run, cfg, folder)}
    assert set(results) == {"recording", "failing", "crashing", "emial"}
    assert results["recording"].ok and results["recording"].at is not None
    assert RecordingNotifier.sent == [
        [("sp500", RecordingNotifier.sent[0][0][1]), ("crypto", RecordingNotifier.sent[0][1][1])]
    ]
    assert not results["failing"].ok
    assert "554 5.7.1 relay denied" in results["failing"].detail
    assert not results["crashing"].ok
    assert (
        "test-notifiers" in results["crashing"].detail and "KeyError" in results["crashing"].detail
    )
    assert not results["emial"].ok and "unknown notifier 'emial'" in results["emial"].detail
    assert (folder / "newsletter.html").is_file()  # the files exist whatever happened


def test_record_deliveries_rewrites_run_json(run, tmp_path):
    folder = tmp_path / "run"
    atomic_write_text(folder / "run.json", dumps(run))
    new = DeliveryResult(plugin="email", ok=True, detail="sent")
    updated = record_deliveries(run, folder, [new])
    assert updated.deliveries == (*run.deliveries, new)
    from tsys.serialization import loads

    assert loads((folder / "run.json").read_text(), DailyRun) == updated


# ------------------------------------------------------------------------------------ CLI
@pytest.fixture
def stored(run, tmp_path):
    """A config file and a stored run, as `tsys run-daily` leaves them."""
    data = tmp_path / "data"

    def make(notifiers: str = "") -> str:
        cfg = tmp_path / "tsys.toml"
        cfg.write_text(f'data_dir = "{data}"\n{notifiers}')
        return str(cfg)

    atomic_write_text(run_dir(data, AS_OF) / "run.json", dumps(run))
    return data, make


def test_cli_preview_writes_and_prints_path(stored, pm):
    data, make = stored
    res = CliRunner().invoke(cli, ["--config", make(), "newsletter", "preview"])
    assert res.exit_code == 0, res.output
    path = run_dir(data, AS_OF) / "newsletter.html"
    assert res.output.strip() == str(path)
    assert "AAPL" in path.read_text()
    res = CliRunner().invoke(
        cli, ["--config", make(), "newsletter", "preview", "--as-of", "2024-05-03", "--per-bucket"]
    )
    assert res.exit_code == 0, res.output
    assert (run_dir(data, AS_OF) / "newsletter-crypto.txt").is_file()


def test_cli_preview_without_runs(tmp_path, pm):
    cfg = tmp_path / "tsys.toml"
    cfg.write_text(f'data_dir = "{tmp_path}"\n')
    res = CliRunner().invoke(cli, ["--config", str(cfg), "newsletter", "preview"])
    assert res.exit_code == 4
    assert "no daily run" in res.output and "tsys run-daily" in res.output


def test_cli_send_without_notifier_is_a_config_error(stored, pm):
    _, make = stored
    res = CliRunner().invoke(cli, ["--config", make(), "newsletter", "send"])
    assert res.exit_code == 3
    assert "no notifier is configured" in res.output


def test_cli_send_failure_exits_10_and_records(stored, pm):
    data, make = stored
    cfg = make("[notifiers.recording]\n[notifiers.failing]\n")
    res = CliRunner().invoke(cli, ["--config", cfg, "newsletter", "send", "--json"])
    assert res.exit_code == 10, res.output
    stored_run = load_run(data, AS_OF)
    added = stored_run.deliveries[1:]
    assert [(d.plugin, d.ok) for d in added] == [("recording", True), ("failing", False)]
    assert "554 5.7.1 relay denied" in added[1].detail
    printed = json.loads(res.stdout[: res.stdout.rindex("]") + 1])
    assert [p["plugin"] for p in printed] == ["recording", "failing"]
    assert (run_dir(data, AS_OF) / "newsletter.html").is_file()


def test_cli_send_named_notifier_only(stored, pm):
    data, make = stored
    cfg = make("[notifiers.failing]\n")
    res = CliRunner().invoke(
        cli, ["--config", cfg, "newsletter", "send", "--notifier", "recording"]
    )
    assert res.exit_code == 0, res.output
    assert "recording: 1 sent" in res.output
    assert [d.plugin for d in load_run(data, AS_OF).deliveries[1:]] == ["recording"]
