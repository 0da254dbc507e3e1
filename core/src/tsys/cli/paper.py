"""``tsys paper``: the paper account's orders, positions, cash, reconciliation and report.

The broker is the one in ``[broker]`` (``name = "local"`` by default, or ``"alpaca"``). Every
command here only reads at the broker (nothing is placed or canceled), except ``tsys paper
reset``, which starts the local paper account over.
"""

from __future__ import annotations

import json
from typing import Any

import click

from tsys.cli import load_config
from tsys.cli._options import file_option, json_option
from tsys.format import quantity as fmt_quantity  # never 1.2e-05


def _broker(ctx: click.Context) -> Any:
    from tsys import plugins
    from tsys.brokers import BrokerContext
    from tsys.store import open_store
    from tsys.workspace import workspace

    cfg = load_config(ctx)
    store = open_store(workspace(cfg).store_url)
    cls = plugins.brokers().get(cfg.broker.name)
    bctx = BrokerContext(config=cfg, store=store)
    broker = plugins.plugin_safe(plugins.brokers().owner(cfg.broker.name), cls.from_config)(
        dict(cfg.broker.options), bctx
    )
    for w in bctx.warnings:
        click.echo(f"warning: {w}", err=True)
    return broker


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=str))


@click.group()
def paper() -> None:
    """Paper trading: orders, positions, cash, reconciliation and the paper-vs-backtest report.

    \b
    The broker comes from [broker] in tsys.toml: "local" (offline, fills through the
    backtest simulator at the next open) or "alpaca" (paper by default). Orders are placed by
    `tsys run-daily --paper`; these commands only read.
    """


@paper.command(name="orders")
@json_option("Print JSON.")
@click.option(
    "--status",
    "status",
    default=None,
    help="Only orders in this status (accepted, filled, canceled, ...).",
)
@click.pass_context
def paper_orders(ctx: click.Context, as_json: bool, status: str | None) -> None:
    """List orders and every status change seen (the lifecycle log)."""
    from tsys.errors import BrokerError
    from tsys.serialization import unstructure

    broker = _broker(ctx)
    refresh = getattr(broker, "refresh", None)
    if refresh is not None:
        try:
            refresh()
        except BrokerError as exc:  # the log is still worth listing: say what is not current
            click.echo(f"warning: {exc.message} (listing the orders as last seen)", err=True)
    orders = broker.log.orders(broker.name)
    if status is not None:
        orders = [o for o in orders if o.status.value == status]
    rows = []
    for o in orders:
        evs = broker.log.events(broker.name, client_order_id=o.client_order_id)
        rows.append({"order": unstructure(o), "events": [unstructure(e) for e in evs]})
    if as_json:
        return _echo_json(rows)
    if not rows:
        click.echo("no paper orders yet (run `tsys run-daily --paper`)")
    for r in rows:
        o = r["order"]
        kind = ""
        if o["entry"] == "STOP":  # a protective stop: show its level (and target)
            kind = f" stop {o['stop_price']:.4f}" + (
                f" target {o['take_profit']:.4f}" if o["take_profit"] else ""
            )
        click.echo(
            f"{o['client_order_id']}  {o['side']} {fmt_quantity(o['quantity'])} {o['symbol']}"
            f"{kind}  {o['status']}  filled {fmt_quantity(o['filled_quantity'])}"
            + (f" @ {o['filled_avg_price']:.4f}" if o["filled_avg_price"] else "")
        )
        for e in r["events"]:
            msg = f"  {e['message']}" if e["message"] else ""
            click.echo(f"    {e['timestamp']}  {e['status']}{msg}")


@paper.command(name="positions")
@json_option("Print JSON.")
@click.pass_context
def paper_positions(ctx: click.Context, as_json: bool) -> None:
    """List the paper account's open positions."""
    import datetime as dt

    from tsys.holdings import RunHistory
    from tsys.holdings import paper_positions as linked
    from tsys.serialization import unstructure
    from tsys.workspace import workspace

    broker = _broker(ctx)
    ws = workspace(load_config(ctx))
    # each position with the stop, target and time stop of the plan that opened it (13.1)
    history = RunHistory(
        ws.runs_dir, until=dt.datetime.now(dt.UTC).date(), inclusive=True, demo=ws.demo
    )
    pos = linked(broker, history)
    foreign = broker.foreign_positions() if hasattr(broker, "foreign_positions") else []
    for f in foreign if as_json else []:
        click.echo(f"note: {f.describe()} is held but not traded by tsys (not listed)", err=True)
    if as_json:
        return _echo_json([unstructure(p) for p in pos])
    if not pos and not foreign:
        click.echo("no open paper positions")
    for p in pos:
        stop = f"stop {p.stop:.4f}" if p.stop is not None else "no stop"
        click.echo(
            f"{p.symbol:<12} {p.quantity:>14g} @ {p.entry_price:.4f}  {p.asset_class.value}  {stop}"
        )
    for f in foreign:
        click.echo(
            f"{f.symbol:<12} {f.quantity:>14}   foreign ({f.asset_class}): not traded by tsys"
        )


@paper.command(name="account")
@json_option("Print JSON.")
@click.pass_context
def paper_account(ctx: click.Context, as_json: bool) -> None:
    """Show cash, equity and buying power."""
    import attrs

    broker = _broker(ctx)
    a = broker.account()
    if as_json:
        return _echo_json({"broker": broker.name, "paper": broker.paper, **attrs.asdict(a)})
    click.echo(f"broker {broker.name} ({'paper' if broker.paper else 'LIVE'})")
    click.echo(f"cash          {a.cash:,.2f} {a.currency}")
    click.echo(f"equity        {a.equity:,.2f} {a.currency}")
    click.echo(f"buying power  {a.buying_power:,.2f} {a.currency}")


@paper.command(name="reconcile")
@json_option("Print JSON.")
@click.pass_context
def paper_reconcile(ctx: click.Context, as_json: bool) -> None:
    """Compare broker positions and cash with tsys's record; never changes broker state.

    The record is the account before tsys's first order plus every fill tsys logged. Each
    difference is listed with its likely cause (working order, partial fill, trade by hand
    at the broker, corporate action, fees or transfers). A broker that keeps protective stops
    (Alpaca) also reports a held position whose stop is missing or not at the level of the
    latest run's plan. Exit code 0 either way.
    """
    from tsys.brokers.common import reconcile

    broker = _broker(ctx)
    report = reconcile(broker, broker.log, stops=_plan_stops(ctx))
    if as_json:
        return _echo_json(report.to_dict())
    for n in report.notes:
        click.echo(f"note: {n}")
    if not report.differences:
        click.echo(
            f"{broker.name}: broker and record agree "
            f"({len(report.actual_positions)} positions, cash {report.actual_cash:,.2f})"
        )
        return
    click.echo(f"{broker.name}: {len(report.differences)} difference(s)")
    for d in report.differences:
        click.echo(
            f"  {d.symbol:<10} expected {d.expected:,.6g}  actual {d.actual:,.6g}  "
            f"({d.delta:+,.6g})\n    likely cause: {d.cause}"
        )


def _plan_stops(ctx: click.Context) -> dict[str, float]:
    """The stop level of each symbol in the latest run's BUY and HOLD plans (what a broker
    that keeps protective stops should have working)."""
    from tsys.contracts import Action
    from tsys.errors import TsysError
    from tsys.store.runs import list_runs, load_run
    from tsys.workspace import workspace

    ws = workspace(load_config(ctx))
    days = list_runs(ws.runs_dir)
    if not days:
        return {}
    try:
        run = load_run(ws.runs_dir, days[-1])
    except TsysError:
        return {}
    return {
        p.allocation.signal.symbol: p.stop.price
        for p in run.plans
        if p.action in (Action.BUY, Action.HOLD) and p.stop is not None and p.stop.price
    }


def _report_data(ctx: click.Context, broker: Any, demo: bool) -> Any:
    """The configured data source (the demo market with ``--demo``), for the report's bars."""
    import attrs

    from tsys.data.sources import open_hub

    cfg = load_config(ctx)
    if demo:
        cfg = attrs.evolve(cfg, data=attrs.evolve(cfg.data, source="demo"))
    return open_hub(cfg)


@paper.command(name="report")
@json_option("Print JSON.")
@file_option("--html", help="Also write a self-contained HTML report (charts inline) to this file.")
@click.option("--demo", is_flag=True, help="Read bars from the demo market (as run-daily --demo).")
@click.pass_context
def paper_report(ctx: click.Context, as_json: bool, html: str | None, demo: bool) -> None:
    """Paper account vs backtest: equity curve, metrics, trades, fills and drift.

    \b
    - Equity: the daily marks of the paper account, with the same metrics as
      `tsys backtest` and the round-trip trades of its fills.
    - Fills: each real fill next to the simulator's fill of the same order on the
      same bar; realised vs modelled slippage in $ and bps. For the local broker
      they agree by construction (a difference means cash or costs changed).
    - Drift: the stored orders replayed through one backtest from the same
      starting cash over the same bars; the gap between the two equity curves,
      max and final, in $ and %.
    """
    from tsys.brokers.report import paper_report as build
    from tsys.brokers.report import render_html

    broker = _broker(ctx)
    data = _report_data(ctx, broker, demo)
    payload = build(broker, data=data)
    if html is not None:
        from tsys.files import atomic_write_text

        atomic_write_text(html, render_html(payload))
    if as_json:
        return _echo_json(payload)
    _print_report(payload)


def _print_report(p: dict[str, Any]) -> None:
    from tsys import format as numbers
    from tsys.format import figure as fmt
    from tsys.metrics import TOO_SHORT
    from tsys.report.backtest import METRICS

    click.echo(
        f"{p['broker']}: {p['start'] or '-'} to {p['end'] or '-'}  equity "
        f"{numbers.number(p['equity'], 2)}, cash {numbers.number(p['cash'], 2)}"
        + (f", return {numbers.pct(p['return'])}" if p["return"] is not None else "")
        + ("  [SYNTHETIC DATA]" if p.get("synthetic") else "")
    )
    if "cash_rate" in p and p["trading_pnl"] is not None:
        click.echo(numbers.cash_interest(p["cash_rate"], p["interest"], p["trading_pnl"]))
    for w in p["warnings"]:
        click.echo(f"warning: {w}")
    m = p["metrics"]
    if m:
        for key, label, kind in METRICS:
            if key in m:
                text = TOO_SHORT if m[key] is None else fmt(m[key], kind)
                click.echo(f"  {label:<22} {text:>12}")
    else:
        click.echo("  no daily marks yet (run `tsys run-daily --paper`)")
    d = p["drift"]
    if d is not None:
        click.echo(
            f"drift vs a backtest of the same plans: max {d['max_abs_drift']:,.2f} "
            f"({d['max_abs_drift_pct']:.4%}) on {d['max_drift_date']}, "
            f"final {d['final_drift']:,.2f} ({d['final_drift_pct']:.4%})"
        )
    ok = sum(1 for r in p["fills"] if r["match"])
    click.echo(f"fills: {len(p['fills'])}, {ok} as modelled")
    for r in p["fills"]:
        mod = "-" if r["modelled_price"] is None else f"{r['modelled_price']:.4f}"
        bps = "-" if r["realised_slippage_bps"] is None else f"{r['realised_slippage_bps']:.1f}"
        mbps = "-" if r["modelled_slippage_bps"] is None else f"{r['modelled_slippage_bps']:.1f}"
        click.echo(
            f"  {r['date']} {r['symbol']:<8} {r['side']:<4} "
            f"{numbers.quantity(r['quantity'], 'crypto'):>10} "
            f"@ {r['price']:.4f} model {mod}  slip {bps}/{mbps} bps"
            + ("" if r["match"] else f"  DIFFERS: {r['note']}")
        )
    if p["trades"]:
        still = sum(1 for t in p["trades"] if t["exit_reason"] == "open")
        click.echo(f"trades: {len(p['trades']) - still} closed, {still} still open")
        for t in p["trades"]:
            click.echo(
                f"  {t['symbol']:<8} {t['entry_date']}..{t['exit_date']} "
                f"{numbers.quantity(t['qty'], 'crypto'):>10} "
                f"pnl {t['pnl']:>10,.2f}  {t['exit_reason']}"
            )


@paper.command(name="reset")
@click.option(
    "--demo",
    is_flag=True,
    help="Reset the demo sandbox's paper account (<data dir>/demo), whatever tsys.toml says.",
)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation (for scripts).")
@json_option("Print what was deleted as JSON.")
@click.pass_context
def paper_reset(ctx: click.Context, demo: bool, yes: bool, as_json: bool) -> None:
    """Start the local paper account over: its orders, fills, positions and marks are deleted.

    The next `tsys run-daily --paper` opens it again with the starting cash. Daily runs and
    manual trades are kept. Only the local broker's account lives in tsys; an Alpaca paper
    account is reset in Alpaca's dashboard.

    \b
    Examples:
      tsys paper reset --demo        # the account the demo (--demo --paper) trades
      tsys paper reset --yes         # the configured workspace's, without asking
    """
    from tsys.errors import ConfigError
    from tsys.store import open_store
    from tsys.workspace import workspace

    cfg = load_config(ctx)
    ws = workspace(cfg, demo=True if demo else None)
    # the demo sandbox always trades the local broker (see tsys run-daily --demo --paper)
    name = "local" if ws.demo else cfg.broker.name
    if name != "local":
        raise ConfigError(
            f"the paper account of broker {name!r} is not kept by tsys, so it cannot be reset here",
            hint="reset it at the broker (Alpaca: the paper account's dashboard), or pass "
            "--demo for the demo sandbox's local account",
        )
    what = f"the {ws.label} demo paper account" if ws.demo else "the paper account"
    with open_store(ws.store_url) as store:
        counts = store.paper_record_counts(name)
        if not counts:
            _done(as_json, {"broker": name, "workspace": str(ws.root), "deleted": {}},
                  f"{what} ({name!r} in {ws.root}) is already empty")  # fmt: skip
            return
        summary = ", ".join(f"{n} {table}" for table, n in counts.items())
        if not yes:
            click.confirm(
                f"Start {what} ({name!r} in {ws.root}) over? This deletes {summary}.",
                abort=True,
                err=True,
            )
        deleted = store.reset_paper_account(name)
    _done(as_json, {"broker": name, "workspace": str(ws.root), "deleted": deleted},
          f"{what} ({name!r} in {ws.root}) starts over: deleted {summary}")  # fmt: skip


def _done(as_json: bool, payload: dict[str, Any], message: str) -> None:
    if as_json:
        _echo_json(payload)
    else:
        click.echo(message)
