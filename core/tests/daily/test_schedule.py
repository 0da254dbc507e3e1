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
