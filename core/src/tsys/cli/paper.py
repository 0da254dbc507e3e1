"""``tsys paper``: the paper account's orders, positions, cash, reconciliation and report.

The broker is the one in ``[broker]`` (``name = "local"`` by default, or ``"alpaca"``). Every
command here only reads at the broker: nothing is placed or canceled.
"""

from __future__ import annotations

import json
from typing import Any

import click

from tsys.cli import load_config


def _broker(ctx: click.Context) -> Any:
    from tsys import plugins
    from tsys.brokers import BrokerContext
    from tsys.store import open_store

    cfg = load_config(ctx)
    store = open_store(data_dir=cfg.data_path)
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
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option(
    "--status",
    "status",
    default=None,
    help="Only orders in this status (accepted, filled, canceled, ...).",
)
@click.pass_context
def paper_orders(ctx: click.Context, as_json: bool, status: str | None) -> None:
    """List orders and every status change seen (the lifecycle log)."""
    from tsys.serialization import unstructure

    broker = _broker(ctx)
    refresh = getattr(broker, "refresh", None)
    if refresh is not None:
        refresh()
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
        click.echo(
            f"{o['client_order_id']}  {o['side']} {o['quantity']:g} {o['symbol']}  "
            f"{o['status']}  filled {o['filled_quantity']:g}"
            + (f" @ {o['filled_avg_price']:.4f}" if o["filled_avg_price"] else "")
        )
        for e in r["events"]:
            msg = f"  {e['message']}" if e["message"] else ""
            click.echo(f"    {e['timestamp']}  {e['status']}{msg}")


@paper.command(name="positions")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def paper_positions(ctx: click.Context, as_json: bool) -> None:
    """List the paper account's open positions."""
    from tsys.serialization import unstructure

    pos = _broker(ctx).positions()
    if as_json:
        return _echo_json([unstructure(p) for p in pos])
    if not pos:
        click.echo("no open paper positions")
    for p in pos:
        click.echo(f"{p.symbol:<12} {p.quantity:>14g} @ {p.entry_price:.4f}  {p.asset_class.value}")


@paper.command(name="account")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
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
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def paper_reconcile(ctx: click.Context, as_json: bool) -> None:
    """Compare broker positions and cash with tsys's record; never changes broker state.

    The record is the account before tsys's first order plus every fill tsys logged. Each
    difference is listed with its likely cause (working order, partial fill, trade by hand
    at the broker, corporate action, fees or transfers). Exit code 0 either way.
    """
    from tsys.brokers.common import reconcile

    broker = _broker(ctx)
    report = reconcile(broker, broker.log)
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


def paper_report_data(broker: Any) -> dict[str, Any]:
    """Fills with realised vs modelled slippage, positions and account, as plain data."""
    rows = []
    fill_rows = getattr(broker.log, "fill_rows", None)
    if fill_rows is not None:
        for r in fill_rows(broker.name):
            ref = r["reference_price"]
            sign = 1 if r["side"] == "buy" else -1
            realised = None if ref is None else sign * (r["price"] - ref) * r["quantity"]
            rows.append(
                {
                    **r,
                    "modelled_price": r["price"],
                    "realised_slippage": realised,
                    "modelled_slippage": r["slippage"],
                }
            )
    else:
        for o in broker.log.orders(broker.name):
            if o.filled_quantity > 0:
                rows.append(
                    {
                        "client_order_id": o.client_order_id,
                        "symbol": o.symbol,
                        "side": o.side.value,
                        "quantity": o.filled_quantity,
                        "price": o.filled_avg_price,
                        "modelled_price": None,
                        "realised_slippage": None,
                        "modelled_slippage": None,
                    }
                )
    acct = broker.account()
    start = None
    if hasattr(broker.log, "starting_cash"):
        start = broker.log.starting_cash(broker.name)
    elif broker.log.baseline(broker.name) is not None:
        start = broker.log.baseline(broker.name).cash
    return {
        "broker": broker.name,
        "starting_cash": start,
        "cash": acct.cash,
        "equity": acct.equity,
        "return": None if not start else acct.equity / start - 1.0,
        "fills": rows,
        "positions": [
            {"symbol": p.symbol, "quantity": p.quantity, "entry_price": p.entry_price}
            for p in broker.positions()
        ],
    }


@paper.command(name="report")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option(
    "--html",
    "html",
    type=click.Path(dir_okay=False),
    default=None,
    help="Also write an HTML report to this file.",
)
@click.pass_context
def paper_report(ctx: click.Context, as_json: bool, html: str | None) -> None:
    """Paper account vs model: each fill next to the simulator's fill, slippage, equity.

    For the local broker the modelled fill is the simulator's own, so realised and modelled
    slippage agree by construction; for Alpaca the real fill price is shown and the modelled
    column stays empty until a simulator replay of the same orders is available.
    """
    data = paper_report_data(_broker(ctx))
    if html is not None:
        from markupsafe import escape

        from tsys.daily.artifacts import atomic_write_text

        cells = "".join(
            "<tr>"
            + "".join(
                f"<td>{escape(str(r.get(k)))}</td>"
                for k in (
                    "client_order_id",
                    "symbol",
                    "side",
                    "quantity",
                    "price",
                    "modelled_price",
                    "realised_slippage",
                    "modelled_slippage",
                )
            )
            + "</tr>"
            for r in data["fills"]
        )
        atomic_write_text(
            html,
            (
                f"<html><body><h1>tsys paper report: {escape(data['broker'])}</h1>"
                f"<p>equity {data['equity']:,.2f}, cash {data['cash']:,.2f}</p>"
                "<table><tr><th>order</th><th>symbol</th><th>side</th><th>qty</th><th>price</th>"
                "<th>modelled price</th><th>realised slippage</th><th>modelled slippage</th></tr>"
                f"{cells}</table></body></html>"
            ),
        )
    if as_json:
        return _echo_json(data)
    click.echo(
        f"{data['broker']}: equity {data['equity']:,.2f}, cash {data['cash']:,.2f}"
        + (f", return {data['return']:+.2%}" if data["return"] is not None else "")
    )
    for r in data["fills"]:
        mod = "-" if r["modelled_price"] is None else f"{r['modelled_price']:.4f}"
        slip = "-" if r["realised_slippage"] is None else f"{r['realised_slippage']:.2f}"
        click.echo(
            f"  {r['symbol']:<10} {r['side']:<4} {r['quantity']:>12g} @ {r['price']:.4f}"
            f"  modelled {mod}  slippage {slip}"
        )
