"""Symbol spellings: tsys ``BTC-USD``, Alpaca orders and data ``BTC/USD``, positions ``BTCUSD``.

Equity symbols are the same everywhere (``AAPL``, ``BRK.B``).
"""

from __future__ import annotations

from tsys.api import AssetClass

#: Quote currencies Alpaca lists crypto against, longest first so ``USDT`` wins over ``USD``.
QUOTES: tuple[str, ...] = ("USDT", "USDC", "USD", "BTC", "EUR")


def asset_class_of(symbol: str) -> AssetClass:
    """Guess the asset class of a tsys or Alpaca order symbol (a pair is crypto)."""
    return AssetClass.CRYPTO if ("-" in symbol or "/" in symbol) else AssetClass.EQUITY


def to_alpaca(symbol: str, asset_class: AssetClass | str) -> str:
    """The symbol Alpaca orders and market data use: ``BTC-USD`` -> ``BTC/USD``."""
    if AssetClass(asset_class) is AssetClass.EQUITY:
        return symbol
    if "/" in symbol:
        return symbol
    if "-" in symbol:
        base, _, quote = symbol.partition("-")
        return f"{base}/{quote}"
    return f"{_split_pair(symbol)[0]}/{_split_pair(symbol)[1]}"


def from_alpaca(symbol: str, asset_class: AssetClass | str) -> str:
    """The tsys symbol for any Alpaca spelling: ``BTC/USD`` and ``BTCUSD`` -> ``BTC-USD``."""
    if AssetClass(asset_class) is AssetClass.EQUITY:
        return symbol
    if "/" in symbol:
        base, _, quote = symbol.partition("/")
        return f"{base}-{quote}"
    if "-" in symbol:
        return symbol
    base, quote = _split_pair(symbol)
    return f"{base}-{quote}"


def to_position(symbol: str, asset_class: AssetClass | str) -> str:
    """The symbol Alpaca positions use: ``BTC-USD`` -> ``BTCUSD``."""
    if AssetClass(asset_class) is AssetClass.EQUITY:
        return symbol
    return to_alpaca(symbol, asset_class).replace("/", "")


def asset_class_from_alpaca(value: str | None) -> AssetClass:
    """Alpaca's ``asset_class`` (``us_equity``, ``crypto``) as a tsys asset class."""
    if value == "us_equity":
        return AssetClass.EQUITY
    if value in ("crypto", "crypto_perp"):
        return AssetClass.CRYPTO
    raise ValueError(f"unsupported Alpaca asset class {value!r} (tsys trades us_equity and crypto)")


def _split_pair(symbol: str) -> tuple[str, str]:
    for quote in QUOTES:
        if symbol.endswith(quote) and len(symbol) > len(quote):
            return symbol[: -len(quote)], quote
    raise ValueError(
        f"cannot split the crypto symbol {symbol!r} into base and quote "
        f"(known quotes: {', '.join(QUOTES)})"
    )
