"""The scheduler: fire times from croniter, sessions from exchange_calendars, a loop that
skips non-sessions and survives failed runs."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import attrs
import pytest
from click.testing import CliRunner

from tsys.cli import cli
from tsys.config import config_from_dict
from tsys.daily.schedule import Fire, Schedule, fire_once, run_loop
from tsys.errors import ConfigError

NY = ZoneInfo("America/New_York")


@attrs.define
class FakeOutcome:
    already_ran: bool = False
    exit_code: int = 0
    run_dir: str = "/runs/x"


def test_next_fire_is_the_equity_close_in_new_york_then_crypto_in_utc():
    sched = Schedule(config_from_dict({}))
    # Monday 2024-07-01 12:00 New York: next is 16:30 New York the same day.
    f = sched.next_fire(dt.datetime(2024, 7, 1, 12, 0, tzinfo=NY))
    assert f.kind == "equity"
    assert f.at == dt.datetime(2024, 7, 1, 16, 30, tzinfo=NY)
    # Right after it: the crypto fire at 00:30 UTC the next day.
    f2 = sched.next_fire(f.at + dt.timedelta(seconds=1))
    assert f2.kind == "crypto"
    assert f2.at.astimezone(dt.UTC) == dt.datetime(2024, 7, 2, 0, 30, tzinfo=dt.UTC)


def test_daylight_saving_is_the_libraries_job():
    sched = Schedule(config_from_dict({}))
    winter = sched.next_fire(dt.datetime(2024, 1, 8, 12, 0, tzinfo=NY))
    summer = sched.next_fire(dt.datetime(2024, 7, 8, 12, 0, tzinfo=NY))
    assert winter.at.astimezone(dt.UTC).hour == 21 and summer.at.astimezone(dt.UTC).hour == 20


def test_bad_times_are_config_errors():
    with pytest.raises(ConfigError, match="16:30"):
        Schedule(config_from_dict({"schedule": {"time": "half past four"}}))
    with pytest.raises(ConfigError, match="time zone"):
        Schedule(config_from_dict({"schedule": {"timezone": "Mars/Olympus"}}))


def test_holiday_is_skipped_for_equities():
    calls = []
    cfg = config_from_dict({})
    line = fire_once(
        Fire(dt.datetime(2024, 7, 4, 16, 30, tzinfo=NY), "equity"),
        cfg,
        lambda *a, **k: calls.append(k) or FakeOutcome(),
    )
    assert calls == [] and "not an NYSE session" in line


def test_session_runs_with_that_as_of():
    calls = []
    cfg = config_from_dict({})
    fire_once(
        Fire(dt.datetime(2024, 7, 3, 16, 30, tzinfo=NY), "equity"),
        cfg,
        lambda config, **k: calls.append(k) or FakeOutcome(),
    )
    assert calls == [{"as_of": dt.date(2024, 7, 3)}]


def test_loop_survives_a_failed_run_and_logs_each():
    cfg = config_from_dict({})
    clock = [dt.datetime(2024, 7, 1, 16, 0, tzinfo=NY)]
    lines: list[str] = []
    attempts = []

    def runner(config, **kw):
        attempts.append(kw)
        if len(attempts) == 1:
            raise RuntimeError("data vendor down")
        return FakeOutcome()

    def sleep(seconds):
        clock[0] += dt.timedelta(seconds=seconds)

    fires = run_loop(
        cfg, runner=runner, now=lambda: clock[0], sleep=sleep, max_fires=4, echo=lines.append
    )
    assert fires == 4
    assert any("FAILED RuntimeError: data vendor down" in ln for ln in lines)
    # Mon and Tue equity fires both reached the runner; crypto fires on sessions defer to them.
    assert [k["as_of"] for k in attempts] == [dt.date(2024, 7, 1), dt.date(2024, 7, 2)]


def test_schedule_show_prints_cron_and_systemd():
    result = CliRunner().invoke(cli, ["schedule", "show"])
    assert result.exit_code == 0, result.output
    assert "30 16 * * 1-5" in result.output and "CRON_TZ=America/New_York" in result.output
    assert "OnCalendar=Mon..Fri 16:30 America/New_York" in result.output
    assert "OnCalendar=*-*-* 00:30 UTC" in result.output


@pytest.fixture
def configured(tmp_path, monkeypatch):
    """A folder with a tsys.toml (path with a space), a data dir, and no user config."""
    home = tmp_path / "my tsys"
    home.mkdir()
    (home / "tsys.toml").write_text("[account]\nsize = 50000\n")
    monkeypatch.chdir(home)
    monkeypatch.setenv("TSYS_DATA_DIR", str(home / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("TSYS_CONFIG", raising=False)
    monkeypatch.setenv("ALPHAVANTAGE_API_KEY", "sekret-value")
    return home


def test_trust_schedule_pins_config_workdir_data_dir_and_secrets(configured):
    res = CliRunner().invoke(cli, ["schedule", "show", "--format", "systemd"])
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert f"WorkingDirectory={configured}" in lines
    assert f'Environment="TSYS_DATA_DIR={configured / "data"}"' in lines
    env_file = configured.parent / "xdg" / "tsys" / "tsys.env"
    assert f"EnvironmentFile=-{env_file}" in lines
    exec_line = next(x for x in lines if x.startswith("ExecStart="))
    assert f'--config "{configured / "tsys.toml"}" schedule run --now' in exec_line
    assert exec_line.split("=", 1)[1].startswith("/")  # an absolute command
    # the key is named (it is set here, cron would miss it), its value never printed
    assert "ALPHAVANTAGE_API_KEY" in res.output and "sekret-value" not in res.output

    cron = CliRunner().invoke(cli, ["schedule", "show", "--format", "cron"]).output
    job = [x for x in cron.splitlines() if x.startswith("30 16 * * 1-5 ")]
    assert len(job) == 1
    assert "--config" in job[0] and str(configured / "tsys.toml") in job[0]
    assert "TSYS_DATA_DIR=" in job[0] and str(env_file) in job[0]


def test_trust_schedule_cron_line_runs_from_a_clean_environment(configured, tmp_path):
    """The crontab command works as cron runs it: /bin/sh, $HOME as the folder, no env."""
    import json
    import subprocess
    import sys

    from tsys.config import load_config
    from tsys.daily.schedule import Invocation

    probe = tmp_path / "probe.py"
    out = tmp_path / "probe.json"
    probe.write_text(
        "import json, os, sys\n"
        f"json.dump({{'cwd': os.getcwd(), 'argv': sys.argv[1:], "
        f"'data': os.environ.get('TSYS_DATA_DIR'), "
        f"'key': os.environ.get('ALPHAVANTAGE_API_KEY')}}, open({str(out)!r}, 'w'))\n"
    )
    env_file = tmp_path / "secrets dir" / "tsys.env"
    env_file.parent.mkdir()
    env_file.write_text("ALPHAVANTAGE_API_KEY=from-the-file\n")
    inv = Invocation.for_config(load_config(), env_file=env_file)
    inv = attrs.evolve(inv, command=(sys.executable, str(probe)), log_file=tmp_path / "log")
    subprocess.run(
        ["/bin/sh", "-c", inv.shell_line()], cwd=tmp_path, env={"PATH": "/usr/bin:/bin"},
        check=True,
    )  # fmt: skip
    seen = json.loads(out.read_text())
    assert seen["cwd"] == str(configured)
    assert seen["data"] == str(configured / "data")
    assert seen["key"] == "from-the-file"
    assert seen["argv"] == ["--config", str(configured / "tsys.toml"), "schedule", "run", "--now"]
    # without a secrets file the run still starts (a CSV setup needs no keys)
    env_file.unlink()
    out.unlink()
    subprocess.run(
        ["/bin/sh", "-c", inv.shell_line()], cwd=tmp_path, env={"PATH": "/usr/bin:/bin"},
        check=True,
    )  # fmt: skip
    assert json.loads(out.read_text())["key"] is None


def test_trust_schedule_without_a_config_file_says_so(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("TSYS_CONFIG", raising=False)
    res = CliRunner().invoke(cli, ["schedule", "show", "--format", "cron"])
    assert res.exit_code == 0
    assert "no tsys.toml was found" in res.output
    assert str(tmp_path / "xdg" / "tsys" / "tsys.toml") in res.output


def test_trust_config_path_names_the_search_and_the_winner(configured, tmp_path):
    import json

    res = CliRunner().invoke(cli, ["config", "path"])
    assert res.exit_code == 0, res.output
    assert f"used: {configured / 'tsys.toml'}" in res.output
    assert f"data dir: {configured / 'data'} (from $TSYS_DATA_DIR)" in res.output
    other = tmp_path / "other.toml"
    other.write_text("")
    data = json.loads(
        CliRunner().invoke(cli, ["--config", str(other), "config", "path", "--json"]).output
    )
    assert data["used"] == str(other)
    assert [p["place"] for p in data["searched"]] == [
        "--config", "$TSYS_CONFIG", "./tsys.toml", "user config dir",
    ]  # fmt: skip
    assert [p["used"] for p in data["searched"]] == [True, False, False, False]
    assert data["searched"][2]["exists"] is True


def test_trust_python_dash_m_tsys_runs_the_cli():
    import subprocess
    import sys

    res = subprocess.run(
        [sys.executable, "-m", "tsys", "--version"], capture_output=True, text=True, check=False
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("tsys")


def test_schedule_show_keeps_the_dashboard_running_next_to_the_timer(configured):
    res = CliRunner().invoke(cli, ["schedule", "show", "--format", "systemd"])
    assert res.exit_code == 0, res.output
    unit = res.output.split("# ~/.config/systemd/user/tsys-dashboard.service", 1)[1]
    lines = unit.splitlines()
    assert "Type=simple" in lines and "Restart=on-failure" in lines
    assert f"WorkingDirectory={configured}" in lines
    assert f'Environment="TSYS_DATA_DIR={configured / "data"}"' in lines
    exec_line = next(x for x in lines if x.startswith("ExecStart="))
    assert f'--config "{configured / "tsys.toml"}" dashboard --host 127.0.0.1' in exec_line
    assert "WantedBy=default.target" in lines
