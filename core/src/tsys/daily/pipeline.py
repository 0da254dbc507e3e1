"""The daily pipeline: as-of resolution, bucket runs, portfolio construction, artifacts.

One call, :func:`run_daily`, does a whole day: it resolves the as-of date per asset class, loads
data through the configured sources, runs every enabled bucket through the same portfolio
construction backtests use, writes ``runs/<as-of>/`` atomically, then (each step recorded in
the run, none able to lose the artifacts) sends the newsletter, places paper orders and calls
the ``after_daily_run`` hook.

``run.json`` is deterministic: the same inputs give the same bytes (its ``created_at`` is the
decision time, the as-of close, not the wall clock; each execution's wall-clock time is appended
to ``runs/<as-of>/history.jsonl`` instead).
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from tsys.contracts import (
    Action,
    AssetClass,
    BucketRun,
    DailyRun,
    DeliveryResult,
    PortfolioSnapshot,
    PositionRecord,
    PositionSource,
    Side,
)
from tsys.errors import PARTIAL_FAILURE_EXIT, ConfigError, DataError, StrategyError, TsysError

if TYPE_CHECKING:
    from tsys.config import Config

#: Stages in order, for progress bars and the benchmark's per-stage times.
STAGES = ("resolve", "data", "buckets", "portfolio", "artifacts", "deliver", "broker", "hooks")

NY = "America/New_York"


@attrs.frozen
class AsOf:
    """The dates a run is about: its key, and the bar date each asset class uses."""

    key: dt.date
    equity: dt.date
    crypto: dt.date
    notes: tuple[str, ...] = ()

    def for_class(self, asset_class: AssetClass) -> dt.date:
        return self.crypto if asset_class is AssetClass.CRYPTO else self.equity


@attrs.define
class Outcome:
    """What :func:`run_daily` did, for the CLI and for tests."""

    run: DailyRun | None
    run_dir: Path
    exit_code: int = 0
    already_ran: bool = False
    dry_run: bool = False
    timings: dict[str, float] = attrs.field(factory=dict)
    messages: list[str] = attrs.field(factory=list)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def resolve_as_of(requested: dt.date | None, now: dt.datetime | None = None) -> AsOf:
    """Resolve the run's as-of date per asset class.

    Without a request, the key is the later of the last completed NYSE session and the last full
    UTC day. Equities use the last NYSE session on or before the key; crypto uses the key's UTC
    day, or the last full UTC day when that one has not ended yet. A date in the future is an
    error; a weekend or holiday says what each asset class does instead.
    """
    from tsys.data import calendars

    now = now or _now()
    last_session = calendars.last_completed_session(now)
    last_utc = calendars.last_full_utc_day(now)
    today_ny = now.astimezone(_tz(NY)).date()
    notes: list[str] = []
    if requested is None:
        key = max(last_session, last_utc)
    else:
        if requested > max(today_ny, now.date()):
            raise ConfigError(
                f"--as-of {requested.isoformat()} is in the future",
                hint=f"the latest complete day is {max(last_session, last_utc).isoformat()}",
            )
        key = requested
    if calendars.is_session(key):
        equity = key if key <= last_session else calendars.previous_session(key)
        if equity != key:
            notes.append(
                f"the NYSE session of {key.isoformat()} has not closed yet: equities use "
                f"{equity.isoformat()}"
            )
    else:
        equity = min(calendars.previous_session(key), last_session)
        notes.append(
            f"{key.isoformat()} is not an NYSE session ({key:%A}): equities use the close of "
            f"{equity.isoformat()}"
        )
    crypto = min(key, last_utc)
    if crypto != key:
        notes.append(
            f"the UTC day {key.isoformat()} has not ended yet: crypto uses {crypto.isoformat()}"
        )
    return AsOf(key=key, equity=equity, crypto=crypto, notes=tuple(notes))


def _tz(name: str) -> dt.tzinfo:
    from zoneinfo import ZoneInfo

    return ZoneInfo(name)


def decision_time(as_of: AsOf) -> dt.datetime:
    """The moment the run's decisions are taken: the equity close, or the end of the UTC day."""
    from tsys.data import calendars

    try:
        cal = calendars.get_calendar("XNYS", start=as_of.equity, end=as_of.equity)
        import pandas as pd

        close = cal.session_close(pd.Timestamp(as_of.equity)).to_pydatetime()
        equity_close = close.astimezone(dt.UTC)
    except Exception:  # outside the calendar's range
        equity_close = dt.datetime.combine(as_of.equity, dt.time(21, 0), dt.UTC)
    crypto_end = dt.datetime.combine(as_of.crypto + dt.timedelta(days=1), dt.time(0), dt.UTC)
    return max(equity_close, crypto_end)


# ----------------------------------------------------------------------------- the pipeline
def run_daily(
    config: Config,
    *,
    as_of: dt.date | None = None,
    demo: bool = False,
    buckets: Sequence[str] | None = None,
    dry_run: bool = False,
    force: bool = False,
    paper: bool | None = None,
    send: bool = True,
    now: dt.datetime | None = None,
    progress: Callable[[str, str], None] | None = None,
) -> Outcome:
    """Run one day end to end; see the module docstring.

    Parameters
    ----------
    config
        The effective configuration.
    as_of
        The day to run for (default: the latest complete day, see :func:`resolve_as_of`).
    demo
        Use the built-in synthetic market whatever the configured source.
    buckets
        Only these buckets (default: every enabled one).
    dry_run
        Compute and return everything, write nothing, send nothing, order nothing.
    force
        Recompute a day that already ran (its artifacts are replaced atomically).
    paper
        Place paper orders (default: ``config.broker.enabled``).
    send
        Send the newsletter through the configured notifiers.
    progress
        Called as ``progress(stage, message)`` at the start of each stage.
    """
    from tsys.store.runs import load_run
    from tsys.workspace import workspace

    say = progress or (lambda stage, msg: None)
    timings: dict[str, float] = {}
    clock = [time.perf_counter()]

    def lap(stage: str) -> None:
        t = time.perf_counter()
        timings[stage] = timings.get(stage, 0.0) + (t - clock[0])
        clock[0] = t

    if demo:
        config = attrs.evolve(config, data=attrs.evolve(config.data, source="demo"))
    say("resolve", "resolving the as-of date")
    dates = resolve_as_of(as_of, now)
    ws = workspace(config)
    out_dir = ws.run_dir(dates.key)
    outcome = Outcome(run=None, run_dir=out_dir, dry_run=dry_run, timings=timings)
    outcome.messages.extend(dates.notes)
    if not dry_run and not force and (out_dir / "run.json").is_file():
        outcome.already_ran = True
        outcome.run = load_run(ws.runs_dir, dates.key)
        outcome.messages.append(
            f"{dates.key.isoformat()} already ran ({out_dir}); pass --force to recompute it"
        )
        return outcome

    selected = _select_buckets(config, buckets)
    lap("resolve")

    say("data", f"opening data source {config.data.source!r}")
    hub = _open_hub(config, dates.key)
    lap("data")

    warnings: list[str] = list(dates.notes)
    if hub.synthetic:
        warnings.append(
            "SYNTHETIC DATA: these signals come from the built-in demo market, not real prices"
        )
    broker = None
    broker_failure: DeliveryResult | None = None
    if _paper_on(config, paper) and not dry_run:
        say("broker", f"paper broker {config.broker.name!r}: filling earlier orders")
        broker, broker_failure = _open_and_sync_broker(config, hub, dates.key, warnings)
        lap("broker")
    holdings, holding_notes = gather_holdings(config, dates.key, broker=broker)
    warnings.extend(holding_notes)
    equity = float(config.account.size)

    bucket_runs: list[BucketRun] = []
    failed = 0
    for bucket in selected:
        say("buckets", f"bucket {bucket.name}")
        br = _run_bucket(bucket, config, hub, dates, holdings, equity)
        if br.error is not None:
            failed += 1
        bucket_runs.append(br)
        lap("buckets")
        # later buckets see what earlier ones bought today: caps are portfolio-wide
        holdings = holdings + _planned_positions(br)
    for w in hub.ctx.warnings:
        if w not in warnings:
            warnings.append(w)

    say("portfolio", "merging positions")
    snapshot = portfolio_snapshot(
        bucket_runs,
        holdings,
        equity,
        decision_time(dates),
        sectors=_sectors(hub, holdings),
    )
    run = DailyRun(
        as_of=dates.key,
        created_at=decision_time(dates),
        config_digest=config.digest(),
        buckets=tuple(bucket_runs),
        portfolio=snapshot,
        warnings=tuple(warnings),
        synthetic_data=hub.synthetic,
    )
    lap("portfolio")
    outcome.run = run
    if bucket_runs and all(_is_data_error(b.error) for b in bucket_runs):
        raise DataError(
            "every bucket failed for lack of data: "
            + "; ".join(f"{b.bucket}: {b.error}" for b in bucket_runs)
        )
    if failed:
        outcome.exit_code = PARTIAL_FAILURE_EXIT
    if dry_run:
        outcome.messages.append("dry run: nothing written, sent or ordered")
        return outcome

    say("artifacts", f"writing {out_dir}")
    write_artifacts(run, out_dir)
    _record_history(out_dir, run)
    _index_run(config, run, out_dir, warnings=outcome.messages)
    lap("artifacts")

    orders: list[Any] = []
    deliveries: list[DeliveryResult] = []
    paper_account = None
    if broker_failure is not None:
        deliveries.append(broker_failure)
    elif broker is not None:
        say("broker", f"paper orders through {config.broker.name!r}")
        result, orders = _place_orders(run, config, broker)
        deliveries.append(result)
        paper_account = _account(broker, run_warnings := [])
        if run_warnings:
            run = attrs.evolve(run, warnings=(*run.warnings, *run_warnings))
        lap("broker")
    if orders:
        run = attrs.evolve(run, orders=tuple(orders))

    say("deliver", "newsletter")
    deliveries.extend(_deliver(run, config, out_dir, send=send, paper_account=paper_account))
    lap("deliver")
    run = attrs.evolve(run, deliveries=(*run.deliveries, *deliveries))
    write_artifacts(run, out_dir, only_run_json=True)
    if any(not d.ok for d in deliveries):
        outcome.exit_code = PARTIAL_FAILURE_EXIT

    say("hooks", "after_daily_run")
    hook_warnings = _after_daily_run(run)
    if hook_warnings:
        run = attrs.evolve(run, warnings=(*run.warnings, *hook_warnings))
        write_artifacts(run, out_dir, only_run_json=True)
    lap("hooks")
    outcome.run = run
    return outcome


def _is_data_error(error: str | None) -> bool:
    return error is not None and error.startswith("data:")


def _paper_on(config: Config, paper: bool | None) -> bool:
    return config.broker.enabled if paper is None else paper


def _select_buckets(config: Config, names: Sequence[str] | None) -> list[Any]:
    from tsys import plugins

    registry = plugins.buckets()
    if names:
        chosen = [registry.get(n) for n in names]  # unknown: PluginError with "did you mean"
    else:
        chosen = [b for b in registry if config.bucket(b.name).enabled]
    for name in config.buckets:
        if name not in registry:
            registry.get(name)  # a configured bucket that is not installed is a config error
    if not chosen:
        raise ConfigError(
            "no bucket to run",
            hint="install a bucket plugin (tsys plugins) or enable one in tsys.toml",
        )
    return chosen


def _open_hub(config: Config, as_of: dt.date) -> Any:
    from tsys.data.sources import open_hub

    return open_hub(config, as_of=as_of)


def _run_bucket(
    bucket: Any,
    config: Config,
    hub: Any,
    dates: AsOf,
    holdings: list[PositionRecord],
    equity: float,
) -> BucketRun:
    """One bucket: the bucket step for the last bar. Failures are recorded, not raised."""
    from tsys import plugins
    from tsys.buckets import BucketContext, configured_params
    from tsys.portfolio.step import LastBar, bucket_step, owner_of

    settings = config.bucket(bucket.name)
    as_of = dates.for_class(bucket.asset_class)
    base = {
        "bucket": bucket.name,
        "version": bucket.version,
        "asset_class": bucket.asset_class,
        "as_of": as_of,
    }
    try:
        params = configured_params(bucket, settings)
    except TsysError as exc:
        return BucketRun(**base, error=f"config: {exc.message}")
    base["params"] = attrs.asdict(params)
    ctx = BucketContext(as_of=as_of, data=hub, settings=settings, params=params, latest_only=True)
    try:
        step = bucket_step(bucket, ctx, config, LastBar(equity=equity, holdings=holdings))
    except DataError as exc:
        return BucketRun(**base, warnings=tuple(ctx.warnings), error=f"data: {exc.message}")
    except StrategyError as exc:
        return BucketRun(**base, warnings=tuple(ctx.warnings), error=f"strategy: {exc.message}")
    decisions = step.decisions
    try:
        regime = plugins.plugin_safe(owner_of(bucket), bucket.regime_label)(
            step.output, step.bars.shape[0] - 1
        )
    except TsysError as exc:
        return BucketRun(**base, warnings=tuple(ctx.warnings), error=f"strategy: {exc.message}")
    validated = None
    if settings.require_validation:
        validated = _validation_passed(config, bucket.name, params)
        if not validated:
            ctx.warn(
                f"{bucket.name}: its parameters have not passed `tsys validate`; it is shown as "
                "NOT VALIDATED and its plans are kept as watch-only"
            )
            decisions = attrs.evolve(
                decisions, plans=tuple(_watch_only(p) for p in decisions.plans)
            )
    return BucketRun(
        **base,
        regime=regime,
        signals=decisions.signals,
        allocations=decisions.allocations,
        plans=decisions.plans,
        blockers=decisions.blockers,
        warnings=tuple([*ctx.warnings, *decisions.notes]),
        validated=validated,
    )


def _watch_only(plan: Any) -> Any:
    if plan.action is Action.BUY:
        return attrs.evolve(plan, action=Action.WATCH)
    return plan


def _validation_passed(config: Config, bucket: str, params: Any) -> bool:
    try:
        from tsys.validate.gates import params_validated
    except ImportError:
        return False
    return bool(params_validated(config, bucket, params))


def _plan_position(plan: Any, bucket: str, position_id: str) -> PositionRecord:
    """The long position a BUY or HOLD plan stands for, at the plan's reference price."""
    sig = plan.allocation.signal
    return PositionRecord(
        id=position_id,
        source=PositionSource.SYSTEM,
        symbol=sig.symbol,
        asset_class=sig.asset_class,
        side=Side.BUY,
        quantity=plan.allocation.quantity,
        opened_at=sig.timestamp,
        entry_price=plan.allocation.dollars / plan.allocation.quantity,
        stop=plan.stop.price if plan.stop is not None else None,
        target=plan.take_profit,
        bucket=bucket,
    )


def _planned_positions(br: BucketRun) -> list[PositionRecord]:
    """Today's buys of a bucket, as system positions the next bucket's caps must count."""
    return [
        _plan_position(plan, br.bucket, f"planned:{plan.client_order_id}")
        for plan in br.plans
        if plan.action is Action.BUY and plan.allocation.quantity > 0
    ]


# ----------------------------------------------------------------------------- holdings
def gather_holdings(
    config: Config, as_of: dt.date, *, broker: Any = None
) -> tuple[list[PositionRecord], list[str]]:
    """Positions already held: manual (store) plus paper (the broker's) or, without a paper
    broker, the system positions carried in the run history. A source that cannot be read
    becomes a warning."""
    notes: list[str] = []
    held: list[PositionRecord] = []
    try:
        from tsys.store import open_store
        from tsys.workspace import workspace

        with open_store(workspace(config).store_url) as store:
            held.extend(store.manual.list(status="open", with_fills=False))
    except TsysError as exc:
        notes.append(f"manual positions not counted: {exc.message}")
    if broker is not None:
        try:
            held.extend(broker.positions())
        except TsysError as exc:
            notes.append(f"paper positions not counted: {exc.message}")
    else:
        held.extend(system_positions(workspace(config).runs_dir, before=as_of))
    return held, notes


def system_positions(runs_dir: Path, *, before: dt.date) -> list[PositionRecord]:
    """The system's recommended positions after the latest run before ``before``.

    Buys and holds of that run are what a user following the plan holds now.
    """
    from tsys.store.runs import list_runs, load_run

    earlier = [d for d in list_runs(runs_dir) if d < before]
    if not earlier:
        return []
    try:
        prev = load_run(runs_dir, earlier[-1])
    except TsysError:
        return []
    return [
        _plan_position(plan, br.bucket, f"system:{br.bucket}:{plan.allocation.signal.symbol}")
        for br in prev.buckets
        for plan in br.plans
        if plan.action in (Action.BUY, Action.HOLD) and plan.allocation.quantity > 0
    ]


def open_broker(config: Config, *, data: Any = None, store: Any = None) -> Any:
    """Build the configured broker through its registry (for paper orders and positions)."""
    from tsys import plugins
    from tsys.brokers import BrokerContext

    if store is None:
        from tsys.store import open_store
        from tsys.workspace import workspace

        store = open_store(workspace(config).store_url)
    cls = plugins.brokers().get(config.broker.name)
    ctx = BrokerContext(config=config, store=store, data=data)
    owner = plugins.brokers().owner(config.broker.name)
    broker = plugins.plugin_safe(owner, cls.from_config)(dict(config.broker.options), ctx)
    broker.context_warnings = ctx.warnings
    return broker


def _open_and_sync_broker(
    config: Config, hub: Any, key: dt.date, warnings: list[str]
) -> tuple[Any, DeliveryResult | None]:
    """Open the paper broker and let it fill earlier orders at the opens now known."""
    plugin = f"broker:{config.broker.name}"
    try:
        broker = open_broker(config, data=hub)
        warnings.extend(getattr(broker, "context_warnings", []))
        if hasattr(broker, "sync"):
            symbols = sorted({o.symbol for o in broker.open_orders()})
            if symbols:
                earliest = key - dt.timedelta(days=30)
                broker.sync(hub.bars(symbols, earliest, key))
    except TsysError as exc:
        return None, DeliveryResult(plugin=plugin, ok=False, detail=str(exc))
    return broker, None


def _account(broker: Any, warnings: list[str]) -> Any:
    try:
        return broker.account()
    except TsysError as exc:
        warnings.append(f"paper account not read: {exc.message}")
        return None


# ----------------------------------------------------------------------------- snapshot
def portfolio_snapshot(
    bucket_runs: Sequence[BucketRun],
    holdings: Sequence[PositionRecord],
    equity: float,
    at: dt.datetime,
    *,
    sectors: dict[str, str] | None = None,
) -> PortfolioSnapshot:
    """The book after today's plans: holdings not sold plus today's buys, with exposures."""
    sectors = dict(sectors or {})
    sold = {
        (br.bucket, p.allocation.signal.symbol)
        for br in bucket_runs
        for p in br.plans
        if p.action is Action.SELL
    }
    positions: list[PositionRecord] = []
    seen: set[str] = set()
    for h in holdings:
        if not h.is_open or (h.bucket, h.symbol) in sold or h.id in seen:
            continue
        seen.add(h.id)
        positions.append(h)
    for br in bucket_runs:
        for p in _planned_positions(br):
            if p.id not in seen:
                seen.add(p.id)
                positions.append(p)
    by_bucket: dict[str, float] = {}
    by_class: dict[str, float] = {}
    by_sector: dict[str, float] = {}
    invested = 0.0
    risk = 0.0
    for p in positions:
        value = p.quantity * p.entry_price
        invested += value
        key = p.bucket or p.source.value
        by_bucket[key] = by_bucket.get(key, 0.0) + value
        by_class[p.asset_class.value] = by_class.get(p.asset_class.value, 0.0) + value
        sector = sectors.get(p.symbol) or (
            "Crypto" if p.asset_class is AssetClass.CRYPTO else "Unknown"
        )
        by_sector[sector] = by_sector.get(sector, 0.0) + value
        if p.stop is not None:
            risk += max(0.0, p.quantity * (p.entry_price - p.stop))
    return PortfolioSnapshot(
        as_of=at,
        account_equity=equity,
        cash=equity - invested,
        positions=tuple(positions),
        exposure_by_bucket=_rounded(by_bucket),
        exposure_by_asset_class=_rounded(by_class),
        exposure_by_sector=_rounded(by_sector),
        open_risk=round(risk, 2),
    )


def _sectors(hub: Any, holdings: Sequence[PositionRecord]) -> dict[str, str]:
    """Sectors of every equity held or bought, from whichever source knows fundamentals."""
    symbols = sorted({h.symbol for h in holdings if h.asset_class is AssetClass.EQUITY})
    if not symbols:
        return {}
    funds = hub.fundamentals(symbols) or {}
    return {s: f.sector for s, f in funds.items() if f.sector}


def _rounded(d: dict[str, float]) -> dict[str, float]:
    return {k: round(v, 2) for k, v in sorted(d.items())}


# ----------------------------------------------------------------------------- artifacts
SIGNAL_COLUMNS = (
    "bucket",
    "symbol",
    "asset_class",
    "timestamp",
    "side",
    "intent",
    "score",
    "rationale",
)
PLAN_COLUMNS = (
    "bucket",
    "symbol",
    "action",
    "reason",
    "dollars",
    "weight",
    "quantity",
    "entry",
    "limit_price",
    "stop",
    "stop_kind",
    "take_profit",
    "time_stop_bars",
    "client_order_id",
    "valid_until",
    "constraints",
)


def write_artifacts(run: DailyRun, out_dir: Path, *, only_run_json: bool = False) -> None:
    """Write ``run.json``, ``signals.csv``, ``plans.csv`` and ``summary.txt`` atomically."""
    from tsys.files import atomic_write_text, csv_text
    from tsys.serialization import dumps

    atomic_write_text(out_dir / "run.json", dumps(run) + "\n")
    if only_run_json:
        return
    atomic_write_text(out_dir / "signals.csv", csv_text(SIGNAL_COLUMNS, _signal_rows(run)))
    atomic_write_text(out_dir / "plans.csv", csv_text(PLAN_COLUMNS, _plan_rows(run)))
    atomic_write_text(out_dir / "summary.txt", summary_text(run))


def _signal_rows(run: DailyRun) -> list[dict[str, Any]]:
    return [
        {
            "bucket": s.bucket,
            "symbol": s.symbol,
            "asset_class": s.asset_class.value,
            "timestamp": s.timestamp.isoformat(),
            "side": s.side.value,
            "intent": s.intent.value,
            "score": f"{s.score:.6g}",
            "rationale": "; ".join(s.rationale),
        }
        for s in run.signals
    ]


def _plan_rows(run: DailyRun) -> list[dict[str, Any]]:
    rows = []
    for br in run.buckets:
        for p in br.plans:
            a = p.allocation
            rows.append(
                {
                    "bucket": br.bucket,
                    "symbol": a.signal.symbol,
                    "action": p.action.value,
                    # The reason for this plan's own action (exit, entry, binding constraint).
                    "reason": a.signal.rationale[0] if a.signal.rationale else "",
                    "dollars": f"{a.dollars:.2f}",
                    "weight": f"{a.weight:.6f}",
                    "quantity": f"{a.quantity:.8g}",
                    "entry": p.entry.value,
                    "limit_price": "" if p.limit_price is None else f"{p.limit_price:.4f}",
                    "stop": "" if p.stop is None or p.stop.price is None else f"{p.stop.price:.4f}",
                    "stop_kind": "" if p.stop is None else p.stop.kind.value,
                    "take_profit": "" if p.take_profit is None else f"{p.take_profit:.4f}",
                    "time_stop_bars": "" if p.time_stop_bars is None else p.time_stop_bars,
                    "client_order_id": p.client_order_id,
                    "valid_until": p.valid_until.isoformat(),
                    "constraints": "; ".join(f"{c.name}: {c.detail}" for c in a.constraints),
                }
            )
    return rows


def summary_text(run: DailyRun) -> str:
    """A plain-text summary a person can read in a terminal or a mail client."""
    from tsys.report import format as fmt

    lines = [f"tsys daily run for {run.as_of.isoformat()} (config {run.config_digest})"]
    if run.synthetic_data:
        lines.append("SYNTHETIC DATA: not real prices; for trying tsys out only")
    for br in run.buckets:
        lines.append("")
        head = f"== {br.bucket} v{br.version} ({br.asset_class.value}, as of {br.as_of})"
        if br.regime:
            head += f" regime: {br.regime}"
        lines.append(head)
        if br.error:
            lines.append(f"   FAILED: {br.error}")
            continue
        if not br.plans:
            lines.append("   no action")
        for p in br.plans:
            a = p.allocation
            stop = (
                "" if p.stop is None or p.stop.price is None else f" stop {fmt.price(p.stop.price)}"
            )
            why = "; ".join(a.signal.rationale[:2])
            qty = fmt.quantity(a.quantity, a.signal.asset_class.value)
            lines.append(
                f"   {p.action.value.upper():5} {a.signal.symbol:10} ${a.dollars:>12,.2f} "
                f"{a.weight:6.2%} qty {qty} {p.entry.value}{stop}  {why}"
            )
        for b in br.blockers:
            lines.append(f"   AVOID {b.symbol}: {b.reason}")
    if run.warnings:
        lines.append("")
        lines.append("Warnings:")
        lines.extend(f" - {w}" for w in run.warnings)
    return "\n".join(lines) + "\n"


def _record_history(out_dir: Path, run: DailyRun) -> None:
    from tsys.files import append_line

    entry = {
        "executed_at": _now().isoformat(timespec="seconds"),
        "as_of": run.as_of.isoformat(),
        "config_digest": run.config_digest,
        "plans": len(run.plans),
    }
    append_line(out_dir / "history.jsonl", json.dumps(entry))


def _index_run(config: Config, run: DailyRun, out_dir: Path, *, warnings: list[str]) -> None:
    try:
        from tsys.store import open_store
        from tsys.workspace import workspace

        with open_store(workspace(config).store_url) as store:
            store.runs.record(run.as_of, _now(), run.config_digest, str(out_dir))
    except TsysError as exc:
        warnings.append(f"the run was written but not indexed in the store: {exc.message}")


def _deliver(
    run: DailyRun, config: Config, out_dir: Path, *, send: bool, paper_account: Any = None
) -> list[DeliveryResult]:
    from tsys.report.newsletter import deliver

    try:
        return list(deliver(run, config, out_dir, send=send, paper_account=paper_account))
    except TsysError as exc:
        return [DeliveryResult(plugin="newsletter", ok=False, detail=exc.message, at=_now())]


def _place_orders(run: DailyRun, config: Config, broker: Any) -> tuple[DeliveryResult, list[Any]]:
    """Submit the day's buys and sells (idempotent by client_order_id); never raises."""
    from tsys.brokers.local import place_run_orders

    plugin = f"broker:{config.broker.name}"
    try:
        orders = list(place_run_orders(run, broker))
    except TsysError as exc:
        placed = list(getattr(exc, "orders", []) or [])
        return DeliveryResult(plugin=plugin, ok=False, detail=str(exc)), placed
    rejected = [o for o in orders if o.status.value == "rejected"]
    detail = f"{len(orders)} order(s) placed or already known"
    if rejected:
        detail += f"; {len(rejected)} rejected: " + ", ".join(o.symbol for o in rejected)
    return DeliveryResult(plugin=plugin, ok=not rejected, detail=detail), orders


def _after_daily_run(run: DailyRun) -> list[str]:
    from tsys.plugins import get_plugin_manager

    pm = get_plugin_manager()
    warnings = []
    for impl in pm.hook.after_daily_run.get_hookimpls():
        try:
            if "run" in impl.argnames:
                impl.function(run=run)
            else:
                impl.function()
        except Exception as exc:
            warnings.append(
                f"plugin {impl.plugin_name!r} failed in after_daily_run: "
                f"{type(exc).__name__}: {exc}"
            )
    return warnings
