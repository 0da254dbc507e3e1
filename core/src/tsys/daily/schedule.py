"""When the daily run fires: crontab and systemd timer text, and a foreground loop.

Times come from ``[schedule]``: equities at ``time`` in ``timezone`` on NYSE sessions (default
16:30 America/New_York), crypto at ``crypto_time_utc`` every day. Next fire times come from
croniter and sessions from exchange_calendars, so no time arithmetic is written by hand.

On a session day the equity fire runs every enabled bucket (crypto buckets use the last full UTC
day). On days that are not sessions (weekends, holidays) the crypto fire runs the crypto buckets
alone for the UTC day that just ended.
"""

from __future__ import annotations

import datetime as dt
import logging
import shlex
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import attrs

if TYPE_CHECKING:
    from tsys.config import Config

log = logging.getLogger("tsys.schedule")


def _hh_mm(text: str, what: str) -> tuple[int, int]:
    from tsys.errors import ConfigError

    try:
        hh, mm = (int(x) for x in text.split(":"))
        if not (0 <= hh < 24 and 0 <= mm < 60):
            raise ValueError
    except ValueError:
        raise ConfigError(f"schedule.{what} must look like 16:30, got {text!r}") from None
    return hh, mm


def _zone(name: str) -> ZoneInfo:
    from tsys.errors import ConfigError

    try:
        return ZoneInfo(name)
    except Exception:
        raise ConfigError(f"schedule.timezone {name!r} is not a known time zone") from None


@attrs.frozen
class Fire:
    """One scheduled moment and what runs then."""

    at: dt.datetime
    kind: str  # "equity" or "crypto"


class Schedule:
    """The configured fire times."""

    def __init__(self, config: Config) -> None:
        s = config.schedule
        self.tz = _zone(s.timezone)
        self.equity_hm = _hh_mm(s.time, "time")
        self.crypto_hm = _hh_mm(s.crypto_time_utc, "crypto_time_utc")

    @property
    def equity_cron(self) -> str:
        return f"{self.equity_hm[1]} {self.equity_hm[0]} * * 1-5"

    @property
    def crypto_cron(self) -> str:
        return f"{self.crypto_hm[1]} {self.crypto_hm[0]} * * *"

    def next_fire(self, after: dt.datetime) -> Fire:
        """The first fire strictly after ``after`` (tz-aware)."""
        from croniter import croniter

        eq = croniter(self.equity_cron, after.astimezone(self.tz)).get_next(dt.datetime)
        cr = croniter(self.crypto_cron, after.astimezone(dt.UTC)).get_next(dt.datetime)
        return Fire(eq, "equity") if eq <= cr else Fire(cr, "crypto")

    def crontab(self, command: str) -> str:
        eh, em = self.equity_hm
        ch, cm = self.crypto_hm
        return "\n".join(
            [
                "# tsys: after the NYSE close; `schedule run --now` skips non-sessions for equities",
                f"CRON_TZ={self.tz.key}",
                f"{em} {eh} * * 1-5 {command} schedule run --now >> $HOME/tsys-daily.log 2>&1",
                "# tsys: crypto buckets every UTC day (needs a cron with CRON_TZ, e.g. cronie)",
                "CRON_TZ=UTC",
                f"{cm} {ch} * * * {command} schedule run --now >> $HOME/tsys-daily.log 2>&1",
            ]
        )

    def systemd(self, command: str) -> str:
        eh, em = self.equity_hm
        ch, cm = self.crypto_hm
        return "\n".join(
            [
                "# ~/.config/systemd/user/tsys-daily.service",
                "[Unit]",
                "Description=tsys daily run",
                "",
                "[Service]",
                "Type=oneshot",
                f"ExecStart={command} schedule run --now",
                "",
                "# ~/.config/systemd/user/tsys-daily.timer",
                "[Unit]",
                "Description=tsys daily run after the close",
                "",
                "[Timer]",
                f"OnCalendar=Mon..Fri {eh:02d}:{em:02d} {self.tz.key}",
                f"OnCalendar=*-*-* {ch:02d}:{cm:02d} UTC",
                "Persistent=true",
                "",
                "[Install]",
                "WantedBy=timers.target",
                "",
                "# enable: systemctl --user daemon-reload && "
                "systemctl --user enable --now tsys-daily.timer",
            ]
        )


def tsys_command() -> str:
    """The absolute command that runs this tsys (for crontab and systemd)."""
    import shutil

    found = shutil.which("tsys")
    return shlex.quote(found) if found else f"{shlex.quote(sys.executable)} -m tsys.cli"


def crypto_buckets(config: Config) -> list[str]:
    from tsys import plugins
    from tsys.contracts import AssetClass

    return [
        b.name
        for b in plugins.buckets()
        if b.asset_class is AssetClass.CRYPTO and config.bucket(b.name).enabled
    ]


def fire_once(fire: Fire, config: Config, runner: Callable[..., Any]) -> str:
    """Do what ``fire`` calls for; return a line for the log. Never raises."""
    from tsys.data import calendars

    try:
        if fire.kind == "equity":
            day = fire.at.astimezone(_zone(config.schedule.timezone)).date()
            if not calendars.is_session(day):
                return f"{fire.at.isoformat()} equity: {day} is not an NYSE session; skipped"
            outcome = runner(config, as_of=day)
        else:
            day = fire.at.astimezone(dt.UTC).date() - dt.timedelta(days=1)
            if calendars.is_session(day):
                return (
                    f"{fire.at.isoformat()} crypto: {day} is a session; the equity run covers "
                    "the crypto buckets"
                )
            names = crypto_buckets(config)
            if not names:
                return f"{fire.at.isoformat()} crypto: no crypto bucket enabled; skipped"
            outcome = runner(config, as_of=day, buckets=names)
    except Exception as exc:  # the loop must survive any failed run
        return f"{fire.at.isoformat()} {fire.kind}: FAILED {type(exc).__name__}: {exc}"
    state = "already ran" if outcome.already_ran else f"exit {outcome.exit_code}"
    return f"{fire.at.isoformat()} {fire.kind}: {state} ({outcome.run_dir})"


def run_loop(
    config: Config,
    *,
    runner: Callable[..., Any],
    now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    sleep: Callable[[float], None] | None = None,
    max_fires: int | None = None,
    echo: Callable[[str], None] = print,
) -> int:
    """Fire at every scheduled time until interrupted (or ``max_fires``); return fires done."""
    import time

    sched = Schedule(config)
    sleep = sleep or time.sleep
    fires = 0
    while max_fires is None or fires < max_fires:
        fire = sched.next_fire(now())
        echo(f"next: {fire.kind} at {fire.at.isoformat()}")
        while (wait := (fire.at - now()).total_seconds()) > 0:
            sleep(min(wait, 60.0))
        line = fire_once(fire, config, runner)
        log.info(line)
        echo(line)
        fires += 1
    return fires
