"""``tsys override``: discretionary rules with an expiry and an audit trail.

The store (and peewee) is imported inside the commands so ``tsys --help`` stays fast.
"""

from __future__ import annotations

import datetime as dt
import difflib
import getpass
import json
from typing import Any

import click

from tsys.cli._options import json_option, parse_date
from tsys.overrides import ASSET_CLASSES, GICS_SECTORS

_WHEN_HELP = """
\b
When it ends (give at most one; none: until `tsys override remove`):
  --until DATE  the last day it holds (the run of DATE still sees it)
  --for 5d      for 5 days from today (also 2w)
  --today       until the next decision time of the asset class: equities after the
                next session's close (a Friday rule lasts until Monday's close),
                crypto until the end of the next UTC day
"""


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name (some containers)
        return "unknown"


def _today(as_of: dt.date | None) -> dt.date:
    return as_of or dt.datetime.now(dt.UTC).date()


def _config(ctx: click.Context) -> Any:
    """The configuration, on the demo market when ``tsys override --demo`` was given."""
    import attrs

    from tsys.cli import load_config

    cfg = load_config(ctx)
    if ctx.meta.get("tsys.override.demo"):
        cfg = attrs.evolve(cfg, data=attrs.evolve(cfg.data, source="demo"))
    return cfg


def _store(ctx: click.Context):
    """The store of the workspace the rules are for (the demo sandbox with --demo)."""
    from tsys.store import open_store
    from tsys.workspace import workspace

    return open_store(workspace(_config(ctx)).store_url)


def _rule_json(rule: Any) -> dict[str, Any]:
    from tsys.serialization import unstructure

    return unstructure(rule)


def _bucket(name: str) -> Any:
    from tsys import plugins

    registry = plugins.buckets()
    names = registry.names()
    if name in names:
        return registry.get(name)
    close = difflib.get_close_matches(name, names, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise click.BadParameter(
        f"unknown bucket {name!r}; installed: {', '.join(names) or '(none)'}{hint}"
    )


def _cap_target(text: str) -> tuple[str, str, str]:
    """(target, target type, asset class) of ``tsys override cap TARGET``."""
    from tsys import plugins

    low = text.strip().lower()
    if low in ASSET_CLASSES:
        return low, "asset_class", low
    sectors = {s.lower(): s for s in GICS_SECTORS}
    if low in sectors:
        return sectors[low], "sector", "equity"
    names = plugins.buckets().names()
    if text in names:
        return text, "bucket", plugins.buckets().get(text).asset_class.value
    known = [*ASSET_CLASSES, *names, *GICS_SECTORS]
    close = difflib.get_close_matches(text, known, n=1, cutoff=0.5)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise click.BadParameter(
        f"{text!r} is neither an asset class ({', '.join(ASSET_CLASSES)}), an installed "
        f"bucket ({', '.join(names) or 'none'}) nor a GICS sector{hint}"
    )


def _symbol_class(ctx: click.Context, symbol: str) -> tuple[str, str | None]:
    """The asset class of ``symbol`` by the configured data source, and a warning if unknown."""
    from tsys.contracts import AssetClass
    from tsys.data.sources import open_source

    cfg = _config(ctx)
    try:
        src = open_source(cfg.data.source, cfg)
        crypto = {s.upper() for s in src.symbols(AssetClass.CRYPTO)}
        known = {s.upper() for s in src.symbols()}
    except Exception as exc:
        return "equity", (
            f"could not check {symbol} against data source {cfg.data.source!r} "
            f"({type(exc).__name__}: {exc}); the block is stored anyway"
        )
    if symbol.upper() in crypto:
        return "crypto", None
    if symbol.upper() not in known:
        return "equity", (
            f"data source {cfg.data.source!r} does not know {symbol}; the block is stored "
            "anyway (a typo would block nothing)"
        )
    return "equity", None


def _add(ctx: click.Context, *, when: dict[str, Any], warning: str | None = None, **rule: Any):
    from tsys.errors import ConfigError
    from tsys.overrides import describe, expiry_after, last_day

    today = _today(when["as_of"])
    try:
        last = last_day(
            today, until=when["until"], for_=when["for_"], is_today=when.get("today", False)
        )
    except ConfigError as exc:
        raise click.UsageError(f"{exc}" + (f" ({exc.hint})" if exc.hint else "")) from None
    now = dt.datetime.now(dt.UTC)
    starts = dt.datetime(today.year, today.month, today.day, tzinfo=dt.UTC)
    expires = None if last is None else expiry_after(last, rule["asset_class"])
    with _store(ctx) as store:
        rec = store.overrides.add(
            **rule,
            reason=when["reason"] or "",
            created_by=_user(),
            created_at=now,
            starts_at=starts,
            expires_at=expires,
        )
    if warning:
        click.echo(f"warning: {warning}", err=True)
    if when["as_json"]:
        click.echo(json.dumps(_rule_json(rec), indent=2))
    else:
        click.echo(f"set {describe(rec)}")


def _when_options(f: Any) -> Any:
    f = json_option("Print the stored rule as JSON.")(f)
    f = click.option(
        "--as-of",
        "as_of",
        callback=parse_date,
        help="Treat DATE as today (demo and replay runs); default: today (UTC).",
    )(f)
    f = click.option("--reason", help="Why (shown in the newsletter and the history).")(f)
    f = click.option("--for", "for_", metavar="N[d|w]", help="For N days (5d) or weeks (2w).")(f)
    return click.option(
        "--until", callback=parse_date, metavar="DATE", help="The last day it holds."
    )(f)


@click.group()
@click.option(
    "--demo",
    is_flag=True,
    help="Rules of the demo sandbox (what `tsys run-daily --demo` reads).",
)
@click.pass_context
def override(ctx: click.Context, demo: bool) -> None:
    """Discretionary rules on top of the system: block, cap, pause.

    \b
    Each rule records who set it, when, why and until when; removed and expired rules stay
    in the history (`tsys override list --all`). The daily run merges the rules in force
    with tsys.toml's [overrides]; when both speak about the same thing the stricter wins,
    and the run says so.

    \b
    Examples:
      tsys override block TSLA --for 5d --reason "earnings"
      tsys override cap crypto 0.05 --today --reason "exchange outage"
      tsys override pause sp500 --until 2026-12-31
      tsys override list
      tsys override remove O-0002

    
    Rules live in the store of the workspace: a configuration on the demo market (and
    `--demo`) keeps them in the demo sandbox, apart from the real ones.
    """
    ctx.meta["tsys.override.demo"] = demo


@override.command(name="block", epilog=_WHEN_HELP)
@click.argument("symbol")
@_when_options
@click.pass_context
def override_block(ctx: click.Context, symbol: str, **when: Any) -> None:
    """Never buy SYMBOL while the rule holds (what is held is kept; exits still run)."""
    symbol = symbol.strip().upper()
    if not symbol:
        raise click.BadParameter("give a symbol, e.g. TSLA or BTC", param_hint="SYMBOL")
    ac, warning = _symbol_class(ctx, symbol)
    _add(
        ctx,
        when=when,
        warning=warning,
        kind="block",
        target=symbol,
        target_type="symbol",
        asset_class=ac,
        share=None,
    )


@override.command(name="cap", epilog=_WHEN_HELP)
@click.argument("target")
@click.argument("share", type=float)
@click.option("--today", is_flag=True, help="Until the next decision time (see below).")
@_when_options
@click.pass_context
def override_cap(ctx: click.Context, target: str, share: float, **when: Any) -> None:
    """Cap TARGET (equity|crypto, a bucket or a GICS sector) at SHARE of the account (0..1).

    Example: `tsys override cap crypto 0.05 --today` keeps crypto at most 5% of the account
    until the end of the next UTC day.
    """
    if not 0.0 <= share <= 1.0:
        raise click.BadParameter(
            f"the share is a fraction of the account between 0 and 1 (0.05 = 5%), got {share:g}",
            param_hint="SHARE",
        )
    try:
        name, ttype, ac = _cap_target(target)
    except click.BadParameter as exc:
        exc.param_hint = "TARGET"
        raise
    _add(ctx, when=when, kind="cap", target=name, target_type=ttype, asset_class=ac, share=share)


@override.command(name="pause", epilog=_WHEN_HELP)
@click.argument("bucket")
@click.option("--today", is_flag=True, help="Until the next decision time (see below).")
@_when_options
@click.pass_context
def override_pause(ctx: click.Context, bucket: str, **when: Any) -> None:
    """No new entries for BUCKET while the rule holds; its exits and stops still run."""
    try:
        b = _bucket(bucket)
    except click.BadParameter as exc:
        exc.param_hint = "BUCKET"
        raise
    _add(
        ctx,
        when=when,
        kind="pause",
        target=b.name,
        target_type="bucket",
        asset_class=b.asset_class.value,
        share=None,
    )


def _status(rule: Any, now: dt.datetime) -> str:
    if rule.removed_at is not None:
        return f"removed {rule.removed_at:%Y-%m-%d %H:%M} by {rule.removed_by}"
    if rule.expires_at is not None and now >= rule.expires_at:
        return "expired"
    return "active"


@override.command(name="list")
@click.option("--all", "show_all", is_flag=True, help="Include removed and expired rules.")
@json_option("Print JSON.")
@click.pass_context
def override_list(ctx: click.Context, show_all: bool, as_json: bool) -> None:
    """The rules that still hold (with --all: the whole history)."""
    from tsys.overrides import describe

    now = dt.datetime.now(dt.UTC)
    with _store(ctx) as store:
        rules = store.overrides.all()
    shown = [r for r in rules if show_all or _status(r, now) == "active"]
    if as_json:
        click.echo(
            json.dumps([{**_rule_json(r), "status": _status(r, now)} for r in shown], indent=2)
        )
        return
    if not shown:
        click.echo("no overrides" + ("" if show_all else " in force (--all shows the history)"))
        return
    for r in shown:
        click.echo(f"{describe(r)}  [{_status(r, now)}]")


@override.command(name="remove")
@click.argument("rule_id", metavar="ID")
@json_option("Print the removed rule as JSON.")
@click.pass_context
def override_remove(ctx: click.Context, rule_id: str, as_json: bool) -> None:
    """End rule ID now (it stays in `tsys override list --all`)."""
    from tsys.overrides import describe

    with _store(ctx) as store:
        rec = store.overrides.remove(rule_id, by=_user(), at=dt.datetime.now(dt.UTC))
    if as_json:
        click.echo(json.dumps(_rule_json(rec), indent=2))
    else:
        click.echo(f"removed {describe(rec)}")
