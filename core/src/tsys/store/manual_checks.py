"""The checks around a manual trade that warn but do not refuse, and the one way to add a trade.

``tsys trades add`` and the dashboard's form both call :func:`add_trade`: the store refuses
what breaks a rule (:func:`tsys.store.manual_trade.validate_trade`), and the warnings here name
what is stored anyway (a target on the wrong side of the entry, an identical trade already
stored, a symbol the data source does not know).
"""

from __future__ import annotations

from typing import Any

from tsys import format as fmt
from tsys.store.manual_trade import TradeInput, default_asset_class


def _px(x: float | None) -> str:
    return fmt.price(x, symbol="")


def level_warnings(side: str, entry: float, stop: float | None, target: float | None) -> list[str]:
    """Warnings for an edited stop past the entry, or a target on the wrong side of it.

    A new trade's stop past its entry is refused (:func:`~tsys.store.manual_trade.validate_trade`);
    an edit may move it there on purpose (a trailed stop that locks in a gain), and is told
    what that means (issue 21.13: accepted, never silently)."""
    out = []
    long = side == "buy"
    if stop is not None and (stop >= entry if long else stop <= entry):
        where, beyond = ("at or above", "above") if long else ("at or below", "below")
        out.append(
            f"the stop {_px(stop)} is {where} the entry {_px(entry)} of a "
            f"{'long' if long else 'short'} position: a trailed stop that locks in a gain while "
            f"the price stays {beyond} it; if the price is not {beyond} it, it fires at once"
        )
    if target is not None and (target <= entry if long else target >= entry):
        where = "at or below" if long else "at or above"
        out.append(
            f"the target {_px(target)} is {where} the entry {_px(entry)} of a "
            f"{'long' if long else 'short'} position"
        )
    return out


def check_symbol(cfg: Any, symbol: str, asset_class: str | None) -> str | None:
    """A warning when the configured data source does not know ``symbol`` (None: it does)."""
    name = cfg.data.source
    from tsys.contracts import AssetClass
    from tsys.data.sources import open_source

    try:
        src = open_source(name, cfg)
        ac = AssetClass(asset_class) if asset_class else None
        known = set(src.symbols(ac)) if ac is not None else set(src.symbols())
    except Exception as exc:
        return (
            f"could not check {symbol} against data source {name!r} "
            f"({type(exc).__name__}: {exc}); stored anyway"
        )
    if symbol.upper() not in {k.upper() for k in known}:
        return (
            f"data source {name!r} does not know {symbol}; the trade is stored, but "
            "`tsys portfolio` will show its price as n/a"
        )
    return None


def add_trade(store: Any, cfg: Any, trade: TradeInput) -> tuple[Any, list[str]]:
    """Validate and store ``trade``; the stored record and the warnings about it."""
    warnings = level_warnings(trade.side, trade.price, None, trade.target)  # a bad stop is refused
    twins = store.manual.duplicates_of(trade)
    rec = store.manual.add(trade)
    if twins:
        warnings.append(
            f"an identical trade is already stored as {', '.join(twins)} (same symbol, side, "
            f"quantity, price and date); if this is a mistake: tsys trades delete {rec.id}"
        )
    ac = trade.asset_class or default_asset_class(trade.symbol).value
    warning = check_symbol(cfg, trade.symbol, ac)
    if warning is not None:
        warnings.append(warning)
    return rec, warnings
