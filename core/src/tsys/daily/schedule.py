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
from pathlib import Path
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

    def crontab(self, inv: Invocation) -> str:
        """A crontab block: each line changes to the working directory, reads the secrets
        file when it exists, pins the data dir and names the configuration file."""
        eh, em = self.equity_hm
        ch, cm = self.crypto_hm
        line = _cron_escape(inv.shell_line())
        return "\n".join(
            [
                *inv.notes(),
                "# tsys: after the NYSE close; `schedule run --now` skips non-sessions for equities",
                f"CRON_TZ={self.tz.key}",
                f"{em} {eh} * * 1-5 {line}",
                "# tsys: crypto buckets every UTC day (needs a cron with CRON_TZ, e.g. cronie)",
                "CRON_TZ=UTC",
                f"{cm} {ch} * * * {line}",
            ]
        )

    def systemd(self, inv: Invocation) -> str:
        """A systemd user service + timer with the same working directory, data dir,
        configuration file and secrets file as :meth:`crontab`."""
        eh, em = self.equity_hm
        ch, cm = self.crypto_hm
        return "\n".join(
            [
                *inv.notes(),
                "# ~/.config/systemd/user/tsys-daily.service",
                "[Unit]",
                "Description=tsys daily run",
                "",
                "[Service]",
                "Type=oneshot",
                f"WorkingDirectory={_systemd_path(inv.workdir)}",
                f"Environment={_systemd_quote(f'TSYS_DATA_DIR={inv.data_dir}')}",
                # "-": a missing secrets file is not an error (a CSV setup needs no keys).
                f"EnvironmentFile=-{_systemd_path(inv.env_file)}",
                f"ExecStart={inv.exec_line()}",
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
                "",
                "# ~/.config/systemd/user/tsys-dashboard.service (optional: the web dashboard,",
                "# kept running next to the timer on http://127.0.0.1:8765/)",
                "[Unit]",
                "Description=tsys dashboard",
                "",
                "[Service]",
                "Type=simple",
                f"WorkingDirectory={_systemd_path(inv.workdir)}",
                f"Environment={_systemd_quote(f'TSYS_DATA_DIR={inv.data_dir}')}",
                f"EnvironmentFile=-{_systemd_path(inv.env_file)}",
                f"ExecStart={inv.dashboard_exec_line()}",
                "Restart=on-failure",
                "",
                "[Install]",
                "WantedBy=default.target",
                "",
                "# enable: systemctl --user enable --now tsys-dashboard.service",
            ]
        )


#: Variables a scheduled run would miss: set in this shell, but cron and systemd start clean.
_PASS_ALONG = ("TSYS_DATABASE_URL", "TSYS_LOAD_PLUGINS", "TSYS_DISABLE_PLUGINS", "TSYS_SIM")


@attrs.frozen
class Invocation:
    """How a scheduled run calls tsys: every path absolute, nothing left to the environment.

    ``command`` is the tsys executable (or ``python -m tsys``) as argv, ``config_file`` the
    configuration to pass as ``--config`` (when none was found, ``config_found`` is False and
    it names where to write one), ``workdir`` the folder it
    runs in, ``data_dir`` its ``TSYS_DATA_DIR``, ``env_file`` a ``KEY=value`` file with the
    secrets (read when it exists), ``log_file`` where cron appends the output.
    """

    command: tuple[str, ...]
    config_file: Path
    config_found: bool
    workdir: Path
    data_dir: Path
    env_file: Path
    log_file: Path
    missing_env: tuple[str, ...] = ()

    @classmethod
    def for_config(
        cls, config: Config, *, env_file: Path | None = None, workdir: Path | None = None
    ) -> Invocation:
        """The invocation reproducing what this shell resolves now (see ``tsys config path``)."""
        import os

        from tsys.config import SECRET_ENV, default_config_path, default_env_file

        workdir = (workdir or Path.cwd()).absolute()
        cfg_file = Path(config.source_path).expanduser() if config.source_path else None
        if cfg_file is not None and not cfg_file.is_absolute():
            cfg_file = workdir / cfg_file
        data_dir = config.data_path
        if not data_dir.is_absolute():
            data_dir = workdir / data_dir
        names = [
            k
            for k in sorted(os.environ)
            if k.startswith("TSYS__") or k in SECRET_ENV or k in _PASS_ALONG
        ]
        return cls(
            command=tsys_argv(),
            config_file=cfg_file or default_config_path(),
            config_found=cfg_file is not None,
            workdir=workdir,
            data_dir=data_dir,
            env_file=(env_file or default_env_file()).expanduser().absolute(),
            log_file=Path.home() / "tsys-daily.log",
            missing_env=tuple(names),
        )

    def argv(self) -> list[str]:
        return [*self.command, "--config", str(self.config_file), "schedule", "run", "--now"]

    def exec_line(self) -> str:
        """The ``ExecStart=`` value (systemd quoting: double quotes around odd words)."""
        return " ".join(_systemd_quote(a) for a in self.argv())

    def dashboard_exec_line(self) -> str:
        """The ``ExecStart=`` value of the dashboard service (loopback only)."""
        argv = [*self.command, "--config", str(self.config_file), "dashboard"]
        return " ".join(_systemd_quote(a) for a in [*argv, "--host", "127.0.0.1", "--port", "8765"])

    def shell_line(self) -> str:
        """One ``sh`` command line doing what the systemd service does."""
        q = shlex.quote
        env = q(str(self.env_file))
        return (
            f"cd {q(str(self.workdir))} && "
            f"( if [ -r {env} ]; then set -a; . {env}; set +a; fi; "
            f"TSYS_DATA_DIR={q(str(self.data_dir))} exec {shlex.join(self.argv())} ) "
            f">> {q(str(self.log_file))} 2>&1"
        )

    def notes(self) -> list[str]:
        """Comment lines: what this schedule pins, and what it would otherwise miss."""
        out = [
            f"# tsys schedule: config {self.config_file}, data dir {self.data_dir},",
            f"# working directory {self.workdir}; secrets (KEY=value lines, chmod 600) are read",
            f"# from {self.env_file} when it exists.",
        ]
        if not self.config_found:
            out.append(
                f"# WARNING: no tsys.toml was found; write {self.config_file} first "
                f"(`tsys config init --path {self.config_file}`) or the run fails"
            )
        if self.missing_env:
            out.append(
                "# set in this shell but not passed to the schedule: "
                + ", ".join(self.missing_env)
                + f"; put the ones it needs in {self.env_file}"
            )
        return out


def _systemd_quote(word: str) -> str:
    if word and all(c.isalnum() or c in "/._-=:+,@" for c in word):
        return word
    escaped = word.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%")
    return f'"{escaped}"'


def _systemd_path(path: Path) -> str:
    # Unit-file paths take no quotes; a "%" is a specifier and must be doubled.
    return str(path).replace("%", "%%")


def _cron_escape(line: str) -> str:
    # In a crontab command an unescaped "%" ends the command (it becomes a newline).
    return line.replace("%", "\\%")


def tsys_argv() -> tuple[str, ...]:
    """The absolute command that runs this tsys: the ``tsys`` script of this environment,
    else ``python -m tsys`` with this interpreter."""
    import shutil

    here = Path(sys.executable).parent / "tsys"
    if here.is_file():
        return (str(here),)
    found = shutil.which("tsys")
    if found:
        return (str(Path(found).absolute()),)
    return (sys.executable, "-m", "tsys")


def crypto_buckets(config: Config) -> list[str]:
    from tsys import plugins
    from tsys.contracts import AssetClass

    return [
        b.name
        for b in plugins.buckets()
        if b.asset_class is AssetClass.CRYPTO and config.bucket(b).enabled
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
