"""Starter configurations for ``tsys config init``: one working, commented file per preset.

``demo`` is the synthetic market (:data:`tsys.config.STARTER`); the others read real data:

* ``alpaca``: Alpaca stock and crypto bars (stock bars need ``ALPACA_API_KEY`` and
  ``ALPACA_API_SECRET``; without them the S&P 500 bucket is skipped and crypto still runs);
* ``alpaca-crypto``: Alpaca crypto bars only (no keys at all);
* ``csv``: a folder of per-symbol files you keep updated;
* ``shared``: the research layout of ``../shared/data`` (development).

Each may add Alpha Vantage (news, earnings, sectors; ``ALPHAVANTAGE_API_KEY``) and CoinGecko
(market-cap ranks; no key needed) as extra sources. Nothing secret is ever written.
"""

from __future__ import annotations

import json
from pathlib import Path

import attrs

from tsys.errors import ConfigError

#: Coins Alpaca quotes in USD that the crypto bucket may rank (without CoinGecko: its universe).
ALPACA_COINS = (
    "BTC-USD", "ETH-USD", "SOL-USD", "XRP-USD", "DOGE-USD", "AVAX-USD", "LINK-USD", "DOT-USD",
    "LTC-USD", "BCH-USD", "UNI-USD", "AAVE-USD", "SHIB-USD", "XTZ-USD", "CRV-USD",
)  # fmt: skip


@attrs.frozen
class Preset:
    name: str
    summary: str
    #: Needs a folder (csv, shared).
    folder: bool = False
    equities: bool = True
    crypto: bool = True


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset("alpaca", "Alpaca stock and crypto bars (stock bars need Alpaca keys)"),
        Preset("alpaca-crypto", "Alpaca crypto bars only; no keys needed", equities=False),
        Preset("csv", "a folder of per-symbol CSV/Parquet files you keep updated", folder=True),
        Preset("shared", "the research layout of ../shared/data (development)", folder=True),
        Preset("demo", "the built-in synthetic market (offline, labelled synthetic)"),
    )
}


def preset_names() -> list[str]:
    return list(PRESETS)


def render(
    name: str,
    *,
    account_size: float = 100_000.0,
    max_positions: int | None = None,
    alphavantage: bool = False,
    coingecko: bool = False,
    folder: str | None = None,
) -> str:
    """The text of ``tsys.toml`` for preset ``name``."""
    from tsys.config import STARTER

    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}; known: {', '.join(PRESETS)}")
    preset = PRESETS[name]
    if name == "demo":
        text = STARTER
        if alphavantage or coingecko:
            extras = json.dumps(_extras(preset, alphavantage, coingecko, members=False))
            text = text.replace(
                '# extra_sources = ["alphavantage", "coingecko"]', f"extra_sources = {extras}"
            )
    else:
        tail = STARTER.split("[risk]", 1)[1]
        parts = [_HEADER.format(summary=preset.summary, name=name)]
        parts.append(_account(account_size))
        parts.append(_data(preset, folder, alphavantage, coingecko))
        parts.append(_buckets(preset))
        parts.append(_other_buckets())
        text = "".join(parts) + "[risk]" + tail
    text = text.replace("size = 100000 ", f"size = {account_size:g} ", 1)
    if max_positions is not None:
        text = _set_max_positions(text, max_positions)
    return text


def _set_max_positions(text: str, n: int) -> str:
    out = []
    for line in text.splitlines(keepends=True):
        if line.startswith("max_positions = "):
            line = f"max_positions = {n}\n"
        out.append(line)
    return "".join(out)


_HEADER = """\
# tsys configuration, preset "{name}": {summary}.
# Written by `tsys config init --preset {name}`; edit freely, `tsys config show` checks it.
# Secrets (API keys, SMTP password) are NOT read from this file: set ALPACA_API_KEY,
# ALPACA_API_SECRET, ALPHAVANTAGE_API_KEY, COINGECKO_API_KEY and TSYS_SMTP_PASSWORD in the
# environment (or the secrets file `tsys schedule show` names) instead.
# Any value can be overridden from the environment: TSYS__ACCOUNT__SIZE=50000.

"""


def _account(size: float) -> str:
    return (
        f"[account]\nsize = {size:g} # account equity in USD that allocations are sized against\n\n"
    )


def _extras(preset: Preset, alphavantage: bool, coingecko: bool, members: bool) -> list[str]:
    out = []
    if members and preset.equities:
        out.append("sp500-members")
    if coingecko and preset.crypto:
        out.append("coingecko")
    if alphavantage and preset.equities:
        out.append("alphavantage")
    return out


def _data(preset: Preset, folder: str | None, alphavantage: bool, coingecko: bool) -> str:
    name = preset.name
    lines = ["[data]"]
    if name in ("alpaca", "alpaca-crypto"):
        lines.append(
            'source = "alpaca"      # Alpaca market data: crypto bars need no keys; stock bars '
            "need\n"
            "                       # ALPACA_API_KEY and ALPACA_API_SECRET (free keys: IEX feed)"
        )
    elif name == "csv":
        where = folder or str(Path.home() / "tsys-prices")
        lines.append('source = "csv"         # per-symbol files, validated on load')
        lines.append(f"path = {json.dumps(where)}")
        lines.append(
            "# The folder holds one file per symbol, <SYMBOL>.csv or .parquet, with the columns\n"
            "# date,open,high,low,close,volume (any case; a yfinance export with Adj Close works):\n"
            "#   SPY.csv  TLT.csv  GLD.csv  BTC-USD.csv  ETH-USD.csv ...\n"
            "# Symbols ending in -USD are crypto. Add each session's bar after the close (or\n"
            "# re-export the files); `tsys data validate` checks the folder."
        )
    else:  # shared
        where = folder or "../shared/data"
        lines.append('source = "csv"')
        lines.append(
            f"shared_data = {json.dumps(str(Path(where).expanduser().absolute()))}"
            "   # equities/, crypto/, meta/, news/"
        )
    members = name in ("alpaca", "csv")
    extras = _extras(preset, alphavantage, coingecko, members=members)
    comment = {
        "sp500-members": "S&P 500 members (keyless, cached daily)",
        "coingecko": "crypto market-cap ranks (no key needed)",
        "alphavantage": "news, earnings, sectors (ALPHAVANTAGE_API_KEY)",
    }
    if extras:
        lines.extend(f"# {e}: {comment[e]}" for e in extras)
        lines.append(f"extra_sources = {json.dumps(extras)}")
    else:
        lines.append('# extra_sources = ["sp500-members", "coingecko", "alphavantage"]')
    lines.append("history_years = 3")
    lines.append("")
    if name in ("alpaca", "alpaca-crypto"):
        lines.append("[data.options.alpaca]")
        lines.append('feed = "iex"           # "sip" needs a paid subscription for recent bars')
        lines.append(
            "# What the source lists as its symbols: the crypto bucket's universe when no"
            " source\n# ranks coins by market cap (add coingecko to extra_sources for that)."
        )
        lines.append("symbols = [")
        for i in range(0, len(ALPACA_COINS), 6):
            chunk = ", ".join(json.dumps(s) for s in ALPACA_COINS[i : i + 6])
            lines.append(f"    {chunk},")
        lines.append("]")
        lines.append("")
    if "alphavantage" in extras:
        lines.append("[data.options.alphavantage]")
        lines.append(
            "daily_budget = 25       # the free key's calls a day; the run spends them on the\n"
            "                        # day's best candidates and says which checks it skipped"
        )
        lines.append("")
    return "\n".join(lines) + "\n"


def _buckets(preset: Preset) -> str:
    sp = "true" if preset.equities else "false"
    share_sp = "0.6" if preset.equities else "0.0"
    share_crypto = "0.2" if preset.equities else "0.5"
    note = "" if preset.equities else "   # this preset has no stock bars"
    return (
        "[buckets.sp500]\n"
        f"enabled = {sp}{note}\n"
        f"capital_share = {share_sp}    # share of account equity this bucket may use\n"
        "max_positions = 10\n"
        'sizing = "inverse_vol" # equal | inverse_vol | risk\n'
        '# params_file = "params/sp500.json"   # relative to the data dir; `tsys optimize` '
        "writes it\n\n"
        "[buckets.crypto]\n"
        "enabled = true\n"
        f"capital_share = {share_crypto}\n"
        "max_positions = 5\n"
        'sizing = "inverse_vol"\n\n'
    )


def _other_buckets() -> str:
    """Every other installed bucket, disabled: a preset's data is made for sp500 and crypto
    (an enabled bucket without data would fail every day)."""
    from tsys import plugins

    out = []
    for name in plugins.buckets().names():
        if name in ("sp500", "crypto"):
            continue
        out.append(
            f"[buckets.{name}]\nenabled = false   # installed; enable it when your data covers it\n\n"
        )
    return "".join(out)
