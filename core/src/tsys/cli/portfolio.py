"""``tsys portfolio``: one view of system, paper and manual positions."""

from __future__ import annotations

import datetime as dt
import sys
from typing import Any

import click

from tsys import format as fmt
from tsys.cli import load_config
from tsys.cli._options import choose_data, data_options, json_option


def _pct(x: float, eq: float) -> str:
    return fmt.pct(x / eq, signed=False, decimals=1) if eq > 0 else fmt.MISSING


@click.command()
@json_option("Print the whole view as JSON.")
@data_options
@click.option(
    "--as-of",
    "as_of",
    default=None,
    metavar="DATE",
    help="Value at this date's close (YYYY-MM-DD; default: the latest bars).",
)
@click.option(
    "--limit",
    type=int,
    default=30,
    show_default=True,
    help="Rows of the position table (largest first); --json always lists all.",
)
@click.pass_context
def portfolio(
    ctx: click.Context,
    as_json: bool,
    source: str | None,
    path: Any,
    shared_data: str | None,
    as_of: str | None,
    limit: int,
) -> None:
    """One view of system, paper and manual positions.

    \b
    Sources:
      system   the latest daily run's BUY and HOLD plans, at the price of the BUY that
               opened them (not when that run placed its orders with the paper broker)
      paper    the configured broker's positions (the local paper broker by default),
               with the stop, target and time stop of the plan that opened them
      manual   the trades you keep with `tsys trades` (none dated after --as-of)

    Every position is counted once. A position whose last price is through its stop is
    marked "!" and named in a warning.

    Per position: quantity, last price (from the configured data source), market value,
    unrealised PnL, money at risk down to the stop and the R-multiple so far. Then totals,
    exposure by source, bucket, asset class and sector, realised PnL of manual trades, and
    clusters of holdings whose daily returns correlate above 0.7 over the last 60 days.
    """
    from tsys.errors import ConfigError
    from tsys.holdings import load_portfolio

    cfg = choose_data(load_config(ctx), source, path, shared_data)
    day = None
    if as_of is not None:
        try:
            day = dt.date.fromisoformat(as_of)
        except ValueError:
            raise ConfigError(f"--as-of {as_of!r} is not a date; use YYYY-MM-DD") from None
    view = load_portfolio(cfg, as_of=day)
    if as_json:
        # = json.dumps(view.to_dict(), indent=2), faster; the line break joined in, not
        # added by click (another copy of a 64 MB text at 100,000 positions)
        click.echo(view.to_json(end="\n"), nl=False)
        return
    _render(view, limit)


def _render(view, limit: int) -> None:
    from rich.console import Console
    from rich.markup import escape

    from tsys.cli._table import Column, fit_table, terminal_width

    console = Console(width=80 if not sys.stdout.isatty() else None, highlight=False)
    eq = view.account_equity
    t = view.totals
    console.print(f"[bold]Portfolio[/bold] as of {view.as_of}  (account {eq:,.0f})")
    if not view.lines:
        console.print("no open positions")
    else:
        from tsys.portfolio.view import largest_lines

        shown = largest_lines(view.lines, limit)
        # Symbols, quantities and amounts are never cut: low-value columns go first.
        columns = (
            Column("Src"),
            Column("Symbol"),
            Column("Bucket", drop=4),
            Column("Qty", "right"),
            Column("Cost", "right", drop=3),
            Column("Last", "right"),
            Column("Value", "right"),
            Column("Unreal.", "right", drop=5),
            Column("Risk", "right", drop=2),
            Column("R", "right", drop=1),
        )
        rows = []
        for ln in shown:
            p = ln.position
            rows.append(
                [
                    p.source.value[:3],
                    (p.symbol if p.side.value == "buy" else f"{p.symbol}(S)")
                    + ("!" if ln.through_stop else ""),
                    p.bucket or "-",
                    fmt.quantity(p.quantity, p.asset_class),
                    fmt.number(ln.cost),
                    fmt.price(ln.last_price, symbol=""),
                    fmt.number(ln.market_value),
                    fmt.number(ln.unrealized_pnl),
                    fmt.number(ln.money_at_risk),
                    fmt.number(ln.r_multiple, 1),
                ]
            )
        width = terminal_width()
        table, print_width, left_out = fit_table(
            columns, rows, width=width, box=None, pad_edge=False, collapse_padding=True,
            header_style="bold",
        )  # fmt: skip
        Console(width=print_width, highlight=False).print(table)
        if left_out:
            console.print(
                f"({', '.join(left_out)} left out to fit {width} columns; --json has all)"
            )
        if view.through_stop_count():
            console.print("(! last price through the position's stop: see the warnings)")
        if len(view.lines) > limit:
            console.print(f"... {len(view.lines) - limit} more positions (--limit, or --json)")
    console.print()
    console.print(
        f"[bold]Totals[/bold]  {t.positions} open ({t.priced} priced)  value {t.market_value:,.0f}"
        f"  gross {t.gross_exposure:,.0f} ({_pct(t.gross_exposure, eq)})"
    )
    console.print(
        f"  cost {t.cost:,.0f}  unrealised {t.unrealized_pnl:,.0f}  at risk "
        f"{t.money_at_risk:,.0f} ({_pct(t.money_at_risk, eq)})"
    )
    console.print(
        f"  realised (manual) {t.realized_pnl:,.0f}, of which {t.closed_trades} closed trades "
        f"{t.realized_pnl_closed:,.0f}"
    )
    for dim, title in (
        ("source", "Source"),
        ("bucket", "Bucket"),
        ("asset_class", "Asset class"),
        ("sector", "Sector"),
    ):
        rows = view.exposure.get(dim) or {}
        if not rows:
            continue
        parts = [f"{escape(str(k))} {v:,.0f} ({_pct(v, eq)})" for k, v in list(rows.items())[:8]]
        console.print(f"[bold]{title}[/bold]  " + ", ".join(parts))
    if view.clusters:
        console.print("[bold]Correlated holdings[/bold] (daily returns, 60 days, > 0.7)")
        for c in view.clusters[:10]:
            console.print(
                f"  {escape(', '.join(c.symbols))}: {c.market_value:,.0f} ({100 * c.weight:.1f}%), "
                f"min corr {c.min_correlation:.2f}"
            )
    for w in view.warnings:
        click.echo(f"warning: {w}", err=True)
