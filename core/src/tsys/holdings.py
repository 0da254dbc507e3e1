"""One count of every position: the open positions of an as-of date.

:func:`open_positions` is the one place that decides what is held; the daily run (the positions
its plans are sized against) and ``tsys portfolio`` both call it. Its rules:

- **manual**: the store's trades rebuilt from their fills up to the as-of close; a trade dated
  after the as-of date does not exist for that date;
- **paper**: the paper broker's positions (what the system actually bought there), each linked
  to the plan that opened it (``opened_by``) and carrying that plan's stop, target and time stop,
  the stop at the level the latest plan recorded (a trailing stop moves every day);
- **system**: without a broker that trades the plans, the BUY and HOLD plans of the latest run
  stand for what a user following them holds, entry price and open date taken from the BUY that
  opened each one. A run that placed its orders with the broker adds no system position (the
  broker's positions are those plans), and a symbol the broker holds is never counted twice.

Layer: above ``store`` and ``brokers`` (it reads both), below ``daily`` and ``cli``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs

from tsys.contracts import (
    Action,
    DailyRun,
    PositionRecord,
    PositionSource,
    Side,
    TradePlan,
)
from tsys.errors import TsysError

#: Runs read back at most to find the BUY that opened a position.
LOOKBACK_RUNS = 400
#: A paper position's opening plan is decided at most this long before its first fill.
OPENING_SLACK = dt.timedelta(days=10)


@attrs.frozen
class Holdings:
    """The open positions of an as-of date and what could not be counted."""

    positions: tuple[PositionRecord, ...]
    notes: tuple[str, ...] = ()
    #: The run the system positions come from (None: no earlier run).
    run: DailyRun | None = None

    def by_source(self, source: PositionSource) -> list[PositionRecord]:
        return [p for p in self.positions if p.source is source]


@attrs.frozen
class PlanLink:
    """The plans behind one position: the BUY that opened it and the latest BUY/HOLD."""

    latest: TradePlan
    latest_on: dt.date
    bucket: str
    opening: TradePlan | None = None


class RunHistory:
    """The daily runs of a workspace up to a date, newest first, each read at most once.

    A real workspace never reads a run made from the synthetic demo market: such a run is
    passed over with a note.
    """

    def __init__(
        self, runs_dir: Path | None, *, until: dt.date, inclusive: bool = False, demo: bool = True
    ) -> None:
        from tsys.store.runs import list_runs

        self.runs_dir = Path(runs_dir or ".")
        known = list_runs(self.runs_dir) if runs_dir is not None else []
        days = [d for d in known if d < until or (inclusive and d == until)]
        self.days = days[::-1][:LOOKBACK_RUNS]
        self.demo = demo
        self.notes: list[str] = []
        self._loaded: dict[dt.date, DailyRun | None] = {}

    def get(self, day: dt.date) -> DailyRun | None:
        if day not in self._loaded:
            self._loaded[day] = self._load(day)
        return self._loaded[day]

    def _load(self, day: dt.date) -> DailyRun | None:
        from tsys.store.runs import load_run

        try:
            run = load_run(self.runs_dir, day)
        except TsysError as exc:
            self.notes.append(
                f"system positions of the {day.isoformat()} run not counted: its run.json "
                f"cannot be read ({exc.message})"
            )
            return None
        if run.synthetic_data and not self.demo:
            self.notes.append(
                f"positions of the {day.isoformat()} run not counted: it was made from the "
                f"SYNTHETIC demo market (move {self.runs_dir / day.isoformat()} to the demo "
                "sandbox's runs/)"
            )
            return None
        return run

    def runs(self) -> Iterator[DailyRun]:
        """Readable runs, newest first."""
        for d in self.days:
            run = self.get(d)
            if run is not None:
                yield run

    def latest(self) -> DailyRun | None:
        """The newest run (None: none, or the newest is unreadable or synthetic)."""
        return self.get(self.days[0]) if self.days else None

    def link(
        self, symbol: str, bucket: str = "", *, not_before: dt.date | None = None
    ) -> PlanLink | None:
        """The plans behind a held ``symbol`` (of ``bucket``; any bucket when empty).

        Walks back from the newest run: the first BUY or HOLD plan of the symbol is the latest
        (its stop is the level in force); the chain goes on through HOLDs to the BUY that
        opened it. A run in which the bucket did not run is skipped, and so is one that planned
        to sell the symbol (the position is still held: the sell did not happen); a run whose
        bucket ran without the symbol ends the chain. ``not_before`` ends the search early.
        """
        latest: tuple[TradePlan, dt.date, str] | None = None
        for run in self.runs():
            if not_before is not None and latest is None and run.as_of < not_before:
                return None
            found, ran = _held_plan(run, symbol, bucket)
            if not ran:
                continue
            if found is None:
                break
            plan, b = found
            if plan.action is Action.SELL:
                continue
            if latest is None:
                latest = (plan, run.as_of, b)
                bucket = bucket or b
            if plan.action is Action.BUY:
                return PlanLink(latest[0], latest[1], latest[2], opening=plan)
        if latest is None:
            return None
        return PlanLink(latest[0], latest[1], latest[2])


def _held_plan(
    run: DailyRun, symbol: str, bucket: str
) -> tuple[tuple[TradePlan, str] | None, bool]:
    """The run's BUY, HOLD or SELL plan of ``symbol`` (and its bucket), and whether the
    bucket ran."""
    ran = False
    for br in run.buckets:
        if bucket and br.bucket != bucket:
            continue
        if br.error is None:
            ran = True
        for plan in br.plans:
            if plan.allocation.signal.symbol != symbol:
                continue
            if plan.action is Action.SELL or (
                plan.action in (Action.BUY, Action.HOLD) and plan.allocation.quantity > 0
            ):
                return (plan, br.bucket), True
    return None, ran


def reference_price(plan: TradePlan) -> float | None:
    """What a plan's position cost per unit: its limit, else its dollars over its quantity."""
    alloc = plan.allocation
    if plan.limit_price is not None:
        return plan.limit_price
    if alloc.quantity > 0 and alloc.dollars > 0:
        return alloc.dollars / alloc.quantity
    return None


def plan_position(plan: TradePlan, bucket: str, position_id: str) -> PositionRecord | None:
    """The long position a BUY or HOLD plan stands for, at the plan's reference price, with
    its stop, target and time stop."""
    sig = plan.allocation.signal
    ref = reference_price(plan)
    if ref is None:
        return None
    return PositionRecord(
        id=position_id,
        source=PositionSource.SYSTEM,
        symbol=sig.symbol,
        asset_class=sig.asset_class,
        side=Side.BUY,
        quantity=plan.allocation.quantity,
        opened_at=sig.timestamp,
        entry_price=ref,
        stop=plan.stop.price if plan.stop is not None else None,
        target=plan.take_profit,
        time_stop_bars=plan.time_stop_bars,
        opened_by=plan.client_order_id if plan.action is Action.BUY else None,
        bucket=bucket,
    )


def with_plan(p: PositionRecord, link: PlanLink | None) -> PositionRecord:
    """``p`` carrying the stop, target and time stop of the plans behind it (its own levels
    where no plan is known) and the id of the plan that opened it."""
    if link is None:
        return p
    latest = link.latest
    opened_by = p.opened_by
    if opened_by is None and link.opening is not None:
        opened_by = link.opening.client_order_id
    stop = latest.stop.price if latest.stop is not None else None
    return attrs.evolve(
        p,
        stop=stop if stop is not None else p.stop,
        target=latest.take_profit if latest.take_profit is not None else p.target,
        time_stop_bars=latest.time_stop_bars
        if latest.time_stop_bars is not None
        else p.time_stop_bars,
        opened_by=opened_by,
        bucket=p.bucket or link.bucket,
    )


def system_positions(history: RunHistory) -> list[PositionRecord]:
    """The latest run's BUY and HOLD plans as positions, each dated and priced by the BUY that
    opened it (a HOLD's own dollars are today's value, not what was paid)."""
    run = history.latest()
    if run is None:
        return []
    out = []
    for br in run.buckets:
        for plan in br.plans:
            if plan.action not in (Action.BUY, Action.HOLD) or plan.allocation.quantity <= 0:
                continue
            sym = plan.allocation.signal.symbol
            opening = plan
            if plan.action is Action.HOLD:
                link = history.link(sym, br.bucket)
                if link is not None and link.opening is not None:
                    opening = link.opening
            pos = plan_position(opening, br.bucket, f"system:{br.bucket}:{sym}")
            if pos is None:
                continue
            stop = plan.stop.price if plan.stop is not None else None
            out.append(
                attrs.evolve(
                    pos,
                    quantity=plan.allocation.quantity,
                    stop=stop,
                    target=plan.take_profit,
                    time_stop_bars=plan.time_stop_bars,
                    opened_by=opening.client_order_id if opening.action is Action.BUY else None,
                    notes=f"{plan.action.value} plan of the {run.as_of.isoformat()} run",
                )
            )
    return out


def paper_positions(broker: Any, history: RunHistory) -> list[PositionRecord]:
    """The broker's positions as paper positions linked to the plans that opened them."""
    out = []
    for p in broker.positions():
        if not isinstance(p, PositionRecord):
            raise TypeError(f"positions() returned {type(p).__name__}, not PositionRecord")
        if p.source is not PositionSource.PAPER:
            p = attrs.evolve(p, source=PositionSource.PAPER)
        first_buy = next((f for f in p.fills if f.side is Side.BUY and f.client_order_id), None)
        if first_buy is not None and p.opened_by is None:
            p = attrs.evolve(p, opened_by=first_buy.client_order_id)
        since = p.opened_at.astimezone(dt.UTC).date() - OPENING_SLACK
        out.append(with_plan(p, history.link(p.symbol, p.bucket, not_before=since)))
    return out


def traded_broker(run: DailyRun | None) -> bool:
    """True when ``run`` placed its orders with a broker (its plans are the broker's)."""
    return run is not None and bool(run.orders)


def open_positions(
    as_of: dt.date,
    *,
    runs_dir: Path | None,
    store: Any = None,
    broker: Any = None,
    system: bool = True,
    inclusive: bool = False,
    demo: bool = True,
    manual: list[PositionRecord] | None = None,
) -> Holdings:
    """The positions open at ``as_of``'s close, from every source, each counted once.

    Parameters
    ----------
    runs_dir
        The workspace's daily runs (None: no run history).
    store
        The store of manual trades (None: none counted).
    broker
        The paper broker (None: no paper positions).
    system
        Count the latest run's plans as system positions (a daily run that trades ``broker``
        passes False: the broker is then the system's only book).
    inclusive
        Whether ``as_of``'s own run counts (``tsys portfolio``: the book after the latest
        run) or only earlier runs (a daily run sizing today's plans).
    demo
        Whether runs made from the synthetic demo market may be read.
    manual
        The store's manual positions open at ``as_of``, when the caller has read them already
        (:meth:`tsys.store.manual.ManualTrades.book`); None: read them from ``store``.
    """
    notes: list[str] = []
    history = RunHistory(runs_dir, until=as_of, inclusive=inclusive, demo=demo)
    positions: list[PositionRecord] = []
    if manual is not None:
        positions += manual
        notes += store.manual.skipped if store is not None else []
    elif store is not None:
        cutoff = dt.datetime.combine(as_of, dt.time.max, tzinfo=dt.UTC)
        try:
            positions += store.manual.list(status="open", with_fills=False, as_of=cutoff)
            notes += store.manual.skipped
        except TsysError as exc:
            notes.append(f"manual positions not counted: {exc.message}")
    paper: list[PositionRecord] = []
    if broker is not None:
        try:
            paper = paper_positions(broker, history)
        except Exception as exc:  # a broker plugin's failure must not lose the manual book
            notes.append(f"paper positions not counted: {_brief(exc)}")
    positions += paper
    latest = history.latest()
    if system and not (broker is not None and traded_broker(latest)):
        held = {p.symbol for p in paper}
        positions += [p for p in system_positions(history) if p.symbol not in held]
    notes += history.notes
    return Holdings(tuple(positions), tuple(dict.fromkeys(notes)), latest)


def _brief(exc: BaseException) -> str:
    if isinstance(exc, TsysError):
        return exc.message
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


# ------------------------------------------------------------------------ tsys portfolio
def load_portfolio(cfg: Any, *, as_of: dt.date | None = None, store: Any = None) -> Any:
    """``tsys portfolio``'s view: :func:`open_positions` (as of the book after the latest run
    up to ``as_of``) plus manual closed trades, valued at the configured source's prices.

    Broker, run and data-source failures become warnings in the view, never a crash: the
    manual book is still shown.
    """
    from tsys.portfolio.view import build_view
    from tsys.workspace import workspace

    ws = workspace(cfg)
    warnings: list[str] = []
    day = as_of or dt.datetime.now(dt.UTC).date()
    cutoff = dt.datetime.combine(day, dt.time.max, tzinfo=dt.UTC)
    own_store = store is None
    if own_store:
        from tsys.store import open_store

        store = open_store(ws.store_url)
    try:
        broker = _portfolio_broker(cfg, store, warnings)
        book = _manual_book(store, cutoff)
        held = open_positions(
            day,
            runs_dir=ws.runs_dir,
            store=store,
            broker=broker,
            inclusive=True,
            demo=ws.demo,
            manual=None if book is None else [],
        )
    finally:
        if own_store:
            store.close()
    warnings += held.notes
    if as_of is not None and held.by_source(PositionSource.PAPER):
        warnings.append("paper positions are the broker's current ones, not as of the date")
    symbols = {p.symbol for p in held.positions}
    if book is not None:
        symbols.update(book.symbol[i] for i in book.open_indices().tolist())
    prices, sectors, returns = _market_data(cfg, sorted(symbols), day, warnings)
    return build_view(
        held.positions,
        prices,
        sectors,
        returns,
        cfg.account.size,
        as_of=day,
        warnings=warnings,
        manual=book,
    )


def _manual_book(store: Any, cutoff: dt.datetime) -> Any:
    """The manual book at ``cutoff`` as columns (None when unreadable: then
    :func:`open_positions` reads the positions and says why)."""
    try:
        return store.manual.columns(cutoff)
    except TsysError:
        return None


def _portfolio_broker(cfg: Any, store: Any, warnings: list[str]) -> Any:
    name = cfg.broker.name
    if not (cfg.broker.enabled or name == "local"):
        return None
    try:
        from tsys import plugins
        from tsys.brokers import BrokerContext

        cls = plugins.brokers().get(name)
        return cls.from_config(dict(cfg.broker.options), BrokerContext(config=cfg, store=store))
    except Exception as exc:  # a broken broker plugin must not hide the manual book
        warnings.append(f"paper positions unavailable from broker {name!r}: {_brief(exc)}")
        return None


def _market_data(
    cfg: Any, symbols: list[str], day: dt.date, warnings: list[str]
) -> tuple[dict[str, float], dict[str, str], Any]:
    import pandas as pd

    from tsys.portfolio.view import CLUSTER_WINDOW

    prices: dict[str, float] = {}
    sectors: dict[str, str] = {}
    if not symbols:
        return prices, sectors, None
    try:
        from tsys.data import demo_cache
        from tsys.data.sources import open_source
        from tsys.workspace import workspace

        src = open_source(cfg.data.source, cfg)
        known = set(src.symbols())
        ask = [s for s in symbols if s in known]
        kept = demo_cache.cache_file(workspace(cfg).cache_dir, src, ask, day)
        hit = demo_cache.read(kept) if kept is not None else None
        if hit is not None:
            return hit
        noted = len(warnings)
        returns = None
        if ask:
            bars = src.bars(ask, day - dt.timedelta(days=130), day)
            if bars is not None and bars.symbols:
                close = bars.frame("close")
                close = close[close.index <= pd.Timestamp(day, tz="UTC")]
                for s in close.columns:
                    col = close[s].dropna()
                    if len(col):
                        prices[s] = float(col.iloc[-1])
                returns = close.pct_change(fill_method=None).tail(CLUSTER_WINDOW)
        try:
            fund = src.fundamentals(ask) if ask else None
        except Exception as exc:
            fund = None
            warnings.append(f"sectors unavailable: {_brief(exc)}")
        for s, f in (fund or {}).items():
            if getattr(f, "sector", None):
                sectors[s] = f.sector
        if kept is not None and len(warnings) == noted:  # (the demo market: the same tomorrow)
            demo_cache.write(kept, (prices, sectors, returns))
        return prices, sectors, returns
    except Exception as exc:
        warnings.append(f"prices unavailable from data source {cfg.data.source!r}: {_brief(exc)}")
        return prices, sectors, None
