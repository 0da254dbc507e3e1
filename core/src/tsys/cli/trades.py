"""``tsys trades``: keep the positions you manage by hand.

The store (and peewee) is imported inside the commands so ``tsys --help`` stays fast.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from tsys import format as fmt
from tsys.cli import load_config
from tsys.cli._options import json_option


@contextlib.contextmanager
def open_cli_store(ctx: click.Context | None = None):
    """The store of this command's workspace (see :mod:`tsys.workspace`).

    On the way out, every stored trade that could not be loaded is named on stderr.
    """
    from tsys.store import open_store
    from tsys.workspace import workspace

    cfg = load_config(ctx)
    with open_store(workspace(cfg).store_url) as store:
        try:
            yield store
        finally:
            if "manual" in vars(store):
                for message in store.manual.skipped:
                    click.echo(f"warning: {message}", err=True)


def _when(value: str | None, what: str) -> dt.datetime | None:
    if value is None:
        return None
    from tsys.store.manual_files import parse_when

    return parse_when(value, what=what)


def _record_json(rec: Any) -> dict[str, Any]:
    from tsys.serialization import unstructure

    return unstructure(rec)


def _px(x: float | None) -> str:
    """A price in a table: cents from 1 up, 4 significant digits below (never "0.00")."""
    return fmt.price(x, symbol="")


def _exact_px(x: float | None) -> str:
    """A price as entered (up to 4 decimals, 6 significant digits below 1)."""
    return fmt.price(x, symbol="", decimals=4, digits=6)


def _summary(rec: Any) -> str:
    opening = next((f for f in rec.fills if f.reason == "open"), None)
    qty = opening.quantity if opening is not None else rec.quantity
    return (
        f"{rec.id}: {rec.side.value} {fmt.quantity(qty, rec.asset_class)} {rec.symbol} @ "
        f"{_exact_px(rec.entry_price)} "
        f"on {rec.opened_at.date().isoformat()}"
    )


def _done(rec: Any, text: str, as_json: bool, warnings: Sequence[str] = ()) -> None:
    """Warnings on stderr; the stored record as JSON (``--json``) or ``text`` on stdout."""
    for w in warnings:
        click.echo(f"warning: {w}", err=True)
    if as_json:
        click.echo(json.dumps(_record_json(rec), indent=2))
    else:
        click.echo(text)


_JSON = json_option("Print the stored record as JSON (with its id).")


@click.group()
def trades() -> None:
    """Keep the positions you manage by hand.

    Manual trades live in the tsys database (a SQLite file in the data dir, or PostgreSQL
    when TSYS_DATABASE_URL is set) and appear in `tsys portfolio` next to the system's and
    the paper broker's positions.

    \b
    Examples:
      tsys trades add AAPL --side buy --qty 10 --price 187.5 --date 2024-05-02 --stop 180
      tsys trades close M-000001 --price 195 --date 2024-05-20 --qty 4   (partial)
      tsys trades list --open
      tsys trades export --format csv --output backup.csv
    """


@trades.command(name="add")
@click.argument("symbol")
@click.option(
    "--side",
    type=click.Choice(["buy", "sell"]),
    required=True,
    help="buy opens a long position, sell a short one.",
)
@click.option("--qty", type=float, required=True, help="Quantity (shares, coins).")
@click.option("--price", type=float, required=True, help="Average fill price.")
@click.option("--date", "date_", required=True, help="When it was filled: YYYY-MM-DD or ISO time.")
@click.option(
    "--asset-class",
    default=None,
    help="equity or crypto (default: crypto when SYMBOL ends with -USD or has a '/').",
)
@click.option("--stop", type=float, default=None, help="Protective stop price.")
@click.option("--target", type=float, default=None, help="Take-profit price.")
@click.option("--bucket", default="", help="Which bucket it belongs to (free text).")
@click.option("--tag", "tags", multiple=True, help="A tag (repeat for several).")
@click.option("--note", default="", help="A note to remember why.")
@click.option("--fee", type=float, default=0.0, show_default=True, help="Fees paid to open.")
@_JSON
@click.pass_context
def trades_add(
    ctx: click.Context,
    symbol: str,
    side: str,
    qty: float,
    price: float,
    date_: str,
    asset_class: str | None,
    stop: float | None,
    target: float | None,
    bucket: str,
    tags: tuple[str, ...],
    note: str,
    fee: float,
    as_json: bool,
) -> None:
    """Record a trade you made by hand.

    Warns (and stores anyway) when the stop or target is on the wrong side of the entry, and
    when an identical trade (symbol, side, quantity, price, date) is already stored.
    """
    from tsys.store.manual_checks import add_trade
    from tsys.store.manual_trade import TradeInput
    from tsys.symbols import normalise_symbol

    cfg = load_config(ctx)
    trade = TradeInput(
        symbol=normalise_symbol(symbol),
        side=side,
        quantity=qty,
        price=price,
        opened_at=_when(date_, "date"),
        asset_class=asset_class,
        stop=stop,
        target=target,
        bucket=bucket,
        tags=tags,
        notes=note,
        fee=fee,
    )
    with open_cli_store(ctx) as store:
        rec, warnings = add_trade(store, cfg, trade)
    _done(rec, f"added {_summary(rec)}", as_json, warnings)


@trades.command(name="list")
@click.option("--open", "status", flag_value="open", help="Only open positions.")
@click.option("--closed", "status", flag_value="closed", help="Only closed positions.")
@click.option("--tag", default=None, help="Only trades with this tag.")
@json_option()
@click.pass_context
def trades_list(ctx: click.Context, status: str | None, tag: str | None, as_json: bool) -> None:
    """List manual trades (oldest first)."""
    with open_cli_store(ctx) as store:
        records = store.manual.list(status=status or "all", tag=tag, with_fills=as_json)
    if as_json:
        click.echo(json.dumps([_record_json(r) for r in records], indent=2))
        return
    if not records:
        click.echo("no manual trades" + (f" tagged {tag!r}" if tag else ""))
        return
    from rich.console import Console

    from tsys.cli._table import Column, fit_table, terminal_width

    columns = (
        Column("ID"),
        Column("Opened", drop=3),
        Column("Symbol"),
        Column("Side"),
        Column("Open qty", "right"),
        Column("Entry", "right"),
        Column("Stop", "right", drop=2),
        Column("Exit", "right", drop=1),
        Column("Realised", "right"),
    )
    rows = [
        [
            r.id,
            r.opened_at.date().isoformat(),
            r.symbol,
            r.side.value,
            fmt.quantity(r.quantity, r.asset_class),
            _px(r.entry_price),
            _px(r.stop),
            _px(r.exit_price),
            fmt.number(r.realized_pnl, 2),
        ]
        for r in records
    ]
    width = terminal_width()
    table, print_width, left_out = fit_table(
        columns,
        rows,
        width=width,
        box=None,
        pad_edge=False,
        collapse_padding=True,
        header_style="bold",
    )
    Console(width=print_width, highlight=False).print(table)
    if left_out:
        click.echo(f"({', '.join(left_out)} left out to fit {width} columns; --json has all)")


@trades.command(name="show")
@click.argument("trade_id")
@json_option()
@click.pass_context
def trades_show(ctx: click.Context, trade_id: str, as_json: bool) -> None:
    """Show one trade with its fills."""
    with open_cli_store(ctx) as store:
        rec = store.manual.get(trade_id)
    if as_json:
        click.echo(json.dumps(_record_json(rec), indent=2))
        return
    lines = [
        _summary(rec),
        f"  asset class {rec.asset_class.value}, bucket {rec.bucket or '-'}, "
        f"tags {', '.join(rec.tags) or '-'}",
        f"  open quantity {fmt.quantity(rec.quantity, rec.asset_class)}, stop {_px(rec.stop)}, target {_px(rec.target)}",
        f"  realised PnL {fmt.number(rec.realized_pnl, 2)}"
        + (f", R {rec.r_multiple:.2f}" if rec.r_multiple is not None else ""),
    ]
    if rec.closed_at is not None:
        lines.append(f"  closed {rec.closed_at.date().isoformat()} at {_exact_px(rec.exit_price)}")
    if rec.notes:
        lines.append(f"  note: {rec.notes}")
    lines.append("  fills:")
    for f in rec.fills:
        lines.append(
            f"    {f.timestamp.date().isoformat()} {f.reason:<5} {f.side.value:<4} "
            f"{fmt.quantity(f.quantity, rec.asset_class)} @ {_exact_px(f.price)} fee {fmt.number(f.fee, 2)}"
        )
    click.echo("\n".join(lines))


@trades.command(name="edit")
@click.argument("trade_id")
@click.option("--stop", type=float, default=None, help="New stop price.")
@click.option("--target", type=float, default=None, help="New take-profit price.")
@click.option("--note", default=None, help="Replace the note.")
@click.option("--tag", "tags", multiple=True, help="Replace the tags (repeat for several).")
@click.option("--bucket", default=None, help="New bucket.")
@click.option("--qty", type=float, default=None, help="Correct the opening quantity.")
@click.option("--price", type=float, default=None, help="Correct the opening price.")
@click.option("--date", "date_", default=None, help="Correct the opening date.")
@_JSON
@click.pass_context
def trades_edit(
    ctx: click.Context,
    trade_id: str,
    stop: float | None,
    target: float | None,
    note: str | None,
    tags: tuple[str, ...],
    bucket: str | None,
    qty: float | None,
    price: float | None,
    date_: str | None,
    as_json: bool,
) -> None:
    """Change a trade's stop, target, note, tags, bucket, or correct its opening fill."""
    with open_cli_store(ctx) as store:
        rec = store.manual.edit(
            trade_id,
            stop=stop,
            target=target,
            notes=note,
            tags=tags or None,
            bucket=bucket,
            quantity=qty,
            price=price,
            opened_at=_when(date_, "date"),
        )
    warnings = []
    if stop is not None or target is not None:
        from tsys.store.manual_checks import level_warnings

        warnings = level_warnings(rec.side.value, rec.entry_price, stop, target)
    _done(rec, f"updated {_summary(rec)}", as_json, warnings)


@trades.command(name="close")
@click.argument("trade_id")
@click.option("--price", type=float, required=True, help="Exit price.")
@click.option("--date", "date_", required=True, help="When: YYYY-MM-DD or ISO time.")
@click.option("--qty", type=float, default=None, help="Close only this much (a partial close).")
@click.option("--fee", type=float, default=0.0, show_default=True, help="Fees paid to close.")
@_JSON
@click.pass_context
def trades_close(
    ctx: click.Context,
    trade_id: str,
    price: float,
    date_: str,
    qty: float | None,
    fee: float,
    as_json: bool,
) -> None:
    """Close a trade, or part of it with --qty (realised PnL is recorded)."""
    with open_cli_store(ctx) as store:
        rec = store.manual.close(
            trade_id, price=price, at=_when(date_, "close date"), quantity=qty, fee=fee
        )
    state = (
        "closed"
        if rec.closed_at is not None
        else f"partially closed, {fmt.quantity(rec.quantity, rec.asset_class)} still open"
    )
    _done(rec, f"{rec.id} {state}; realised PnL {fmt.number(rec.realized_pnl, 2)}", as_json)


@trades.command(name="delete")
@click.argument("trade_id")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--undo", is_flag=True, help="Restore a trade deleted in the last 30 days.")
@click.pass_context
def trades_delete(ctx: click.Context, trade_id: str, yes: bool, undo: bool) -> None:
    """Delete a trade (restorable for 30 days with --undo)."""
    with open_cli_store(ctx) as store:
        if undo:
            rec = store.manual.undelete(trade_id)
            click.echo(f"restored {_summary(rec)}")
            return
        rec = store.manual.get(trade_id)
        if not yes and not click.confirm(f"delete {_summary(rec)}?", default=False):
            click.echo("nothing deleted")
            return
        store.manual.delete(trade_id)
    click.echo(f"deleted {rec.id} (undo within 30 days: tsys trades delete {rec.id} --undo)")


@trades.command(name="import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--skip-duplicates",
    is_flag=True,
    help="Leave out trades already in the database instead of refusing the file.",
)
@click.pass_context
def trades_import(ctx: click.Context, file: Path, skip_duplicates: bool) -> None:
    """Import trades from a CSV or JSON file: all of them, or none.

    \b
    CSV columns: symbol,side,quantity,price,date (required) and
    asset_class,fee,stop,target,bucket,tags (';'-separated),notes. Closes are rows with
    action=close and the ref of their open row (what `tsys trades export` writes).
    """
    from tsys.store.manual_files import parse_file

    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"cannot read {file}: {exc}") from exc
    rows = parse_file(file.name, text)
    with open_cli_store(ctx) as store:
        ids, skipped = store.manual.import_trades(rows, skip_duplicates=skip_duplicates)
    msg = f"imported {len(ids)} trade{'s' if len(ids) != 1 else ''}"
    if ids:
        msg += f" ({ids[0]} .. {ids[-1]})"
    if skipped:
        msg += f"; skipped {len(skipped)} duplicate(s) (rows {', '.join(map(str, skipped[:10]))})"
    click.echo(msg)


@trades.command(name="export")
@click.option(
    "--format", "fmt", type=click.Choice(["csv", "json"]), default="csv", show_default=True
)
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write to this file (default: standard output).",
)
@click.pass_context
def trades_export(ctx: click.Context, fmt: str, output: Path | None) -> None:
    """Export every trade (with its closes) for backups; `tsys trades import` reads it back."""
    from tsys.store.manual_files import to_csv, to_json

    with open_cli_store(ctx) as store:
        items = store.manual.export()
    text = to_csv(items) if fmt == "csv" else to_json(items) + "\n"
    if output is None:
        click.echo(text, nl=False)
    else:
        from tsys.files import atomic_write_text

        atomic_write_text(output, text)
        click.echo(f"exported {len(items)} trades to {output}", err=True)
