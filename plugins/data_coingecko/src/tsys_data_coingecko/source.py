"""The ``coingecko`` data source: today's crypto market-cap ranking and what to exclude."""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Any, ClassVar, Self

import attrs
import pandas as pd

from tsys.api import (
    ApiSource,
    ConfigError,
    JsonCache,
    SourceContext,
    above,
    at_least,
    between,
    http_url,
    non_empty,
    one_of,
    secret_field,
)
from tsys_data_coingecko.client import PLANS, CoinGeckoClient, CoinGeckoError

_EACH_NAME = attrs.validators.deep_iterable(member_validator=non_empty())


def _lower_keys(value: dict[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in value.items()}


@attrs.frozen
class CoinGeckoOptions:
    """``[data.options.coingecko]``; the key comes from COINGECKO_API_KEY only."""

    #: None: "demo" when COINGECKO_API_KEY is set, else "public".
    plan: str | None = attrs.field(default=None, validator=one_of(*PLANS))
    #: None: the plan's host.
    base_url: str | None = attrs.field(default=None, validator=http_url())
    timeout: float = attrs.field(default=20.0, validator=above(0))
    top_n: int = attrs.field(default=100, validator=at_least(1))
    per_page: int = attrs.field(default=250, validator=between(1, 250))
    max_pages: int = attrs.field(default=4, validator=at_least(1))
    max_retries: int = attrs.field(default=3, validator=at_least(0))
    backoff_seconds: float = attrs.field(default=2.0, validator=at_least(0))
    max_backoff_seconds: float = attrs.field(default=60.0, validator=at_least(0))
    exclude_categories: list[str] = attrs.field(
        factory=lambda: ["stablecoins", "wrapped-tokens"], validator=_EACH_NAME
    )
    #: CoinGecko id or symbol -> bars symbol, e.g. ``{ "matic-network" = "POL-USD" }``.
    symbol_overrides: dict[str, str] = attrs.field(
        factory=dict,
        converter=_lower_keys,
        validator=attrs.validators.deep_mapping(non_empty(), non_empty()),
    )
    quote: str = "USD"
    api_key: str | None = secret_field("COINGECKO_API_KEY")


#: Symbols that are never risk assets on their own (EXTERNAL_APIS.md 4.1 hygiene list).
HEURISTIC_SYMBOLS = frozenset(
    {"wbtc", "weth", "steth", "wsteth", "cbbtc", "usdt", "usdc", "usde", "dai", "fdusd",
     "pyusd", "usds", "tusd", "busd", "paxg", "xaut"}
)  # fmt: skip
HEURISTIC_PREFIXES = ("wrapped ", "bridged ", "staked ", "binance-peg ")
_SYMBOL_RE = re.compile(r"[A-Z0-9]+")


class CoinGeckoSource(ApiSource):
    """Market caps from ``/coins/markets`` and exclusions from its category filter.

    Cache under ``<cache>/coingecko`` (names slugged and hashed by the JSON cache):
    ``markets/top<N>`` and ``category/<name>``, refreshed once per UTC day; a failed refresh
    keeps and uses the previous file and says so in the run's warnings.
    """

    name: ClassVar[str] = "coingecko"
    provides: ClassVar[frozenset[str]] = frozenset({"market_caps", "excluded_coins"})
    options_class: ClassVar[type] = CoinGeckoOptions
    client: CoinGeckoClient
    options: CoinGeckoOptions

    @classmethod
    def from_config(cls, options: dict[str, Any], ctx: SourceContext) -> Self:
        """Build from ``[data.options.coingecko]``; the key comes from COINGECKO_API_KEY."""
        opts = cls.options_from(options)
        key = opts.api_key
        plan = opts.plan or ("demo" if key else "public")
        if plan != "public" and key is None:
            raise ConfigError(
                f"[data.options.coingecko] plan = {plan!r} needs COINGECKO_API_KEY in the "
                "environment",
                hint='export COINGECKO_API_KEY, or set plan = "public" (no key, lower limits)',
            )
        client = CoinGeckoClient(
            plan=plan,
            api_key=key if plan != "public" else None,
            base_url=opts.base_url,
            timeout=opts.timeout,
            max_retries=opts.max_retries,
            backoff_seconds=opts.backoff_seconds,
            max_backoff_seconds=opts.max_backoff_seconds,
        )
        return cls(client, JsonCache(cls.cache_folder(ctx)), ctx, opts)

    # ------------------------------------------------------------------------- symbol mapping
    def bars_symbol(self, coin: dict[str, Any]) -> str | None:
        """The bars-source symbol of a coin ("btc" -> "BTC-USD"); None when it cannot have one."""
        overrides = self.options.symbol_overrides
        cid, sym = str(coin.get("id", "")), str(coin.get("symbol", "")).lower()
        if cid in overrides:
            return overrides[cid]
        if sym in overrides:
            return overrides[sym]
        upper = sym.upper()
        if not _SYMBOL_RE.fullmatch(upper):
            return None
        return f"{upper}-{self.options.quote}"

    # ------------------------------------------------------------------------------ fetching
    def _markets(self, what: str, cache_key: tuple[str, ...], params: dict, limit: int | None):
        """Coins of ``/coins/markets`` pages (cached per UTC day), market cap descending."""
        return self.daily_payload(
            cache_key, lambda: self._fetch_markets(what, params, limit), what=what, kept="list"
        )

    def _fetch_markets(self, what: str, params: dict, limit: int | None) -> list[dict[str, Any]]:
        per_page = self.options.per_page
        if limit is not None:
            per_page = min(per_page, limit)
        coins: list[dict[str, Any]] = []
        for page in range(1, self.options.max_pages + 1):
            data = self.client.get_json(
                "coins/markets",
                {
                    "vs_currency": "usd",
                    "order": "market_cap_desc",
                    "per_page": per_page,
                    "page": page,
                    **params,
                },
            )
            if not isinstance(data, list):
                raise CoinGeckoError(
                    f"CoinGecko coins/markets sent an unexpected shape for {what} "
                    f"({type(data).__name__} instead of a list)",
                    hint="the API may have changed; please report it",
                )
            coins.extend(_slim(c) for c in data if isinstance(c, dict) and c.get("id"))
            if len(data) < per_page or (limit is not None and len(coins) >= limit):
                break
        else:
            self.ctx.warn(f"coingecko: {what} has more than {len(coins)} coins (max_pages reached)")
        return coins

    def ranking(self) -> list[dict[str, Any]]:
        """The top ``top_n`` coins by market cap: ``{id, symbol, name, market_cap}`` each."""
        top_n = self.options.top_n
        return self._markets("the market-cap ranking", ("markets", f"top{top_n}"), {}, top_n)

    # --------------------------------------------------------------------------- the methods
    def market_caps(self, start: dt.date | None, end: dt.date) -> pd.DataFrame | None:
        """One row indexed by the as-of date: market cap per bars symbol, largest first.

        CoinGecko's ``/coins/markets`` knows only the present, so a request whose ``end`` lies
        more than a day before today returns None (the next source is asked), with a warning,
        rather than today's caps dressed up as history.
        """
        today = self.today()
        if end < today - dt.timedelta(days=1):
            self.ctx.warn(f"coingecko: only current market caps are available, none as of {end}")
            return None
        as_of = min(end, today)
        caps: dict[str, float] = {}
        for coin in self.ranking():
            sym = self.bars_symbol(coin)
            cap = coin.get("market_cap")
            if sym is None or cap is None or sym in caps:
                continue  # a smaller coin sharing a symbol never shadows the larger one
            caps[sym] = float(cap)
        if not caps:
            self.ctx.warn("coingecko: the market-cap ranking came back empty")
        index = pd.DatetimeIndex([pd.Timestamp(as_of)], name="date")
        return pd.DataFrame([caps], index=index, columns=list(caps), dtype="float64")

    def excluded_coins(self) -> set[str]:
        """Bars symbols to keep out of a crypto universe: stablecoins, wrapped tokens and kin.

        Category members are matched by CoinGecko id against the ranking; a category member
        whose symbol belongs to a larger, non-excluded coin (a bridged "ETH") does not exclude
        that coin. Names starting "Wrapped"/"Bridged"/"Staked"/"Binance-Peg" and a short list
        of stablecoin and gold-token symbols are excluded as well.
        """
        excluded_ids: set[str] = set()
        members: list[dict[str, Any]] = []
        for cat in self.options.exclude_categories:
            coins = self._markets(f"category {cat!r}", ("category", cat), {"category": cat}, None)
            members.extend(coins)
            excluded_ids.update(c["id"] for c in coins)
        out: set[str] = set()
        owner: dict[str, str] = {}
        for coin in self.ranking():
            sym = self.bars_symbol(coin)
            if sym is None:
                continue
            owner.setdefault(sym, coin["id"])
            if owner[sym] != coin["id"]:
                continue
            name = str(coin.get("name") or "").lower()
            if (
                coin["id"] in excluded_ids
                or str(coin.get("symbol", "")).lower() in HEURISTIC_SYMBOLS
                or name.startswith(HEURISTIC_PREFIXES)
            ):
                out.add(sym)
        for coin in members:
            sym = self.bars_symbol(coin)
            if sym is not None and sym not in owner:
                out.add(sym)
        for sym in HEURISTIC_SYMBOLS:
            mapped = self.bars_symbol({"id": "", "symbol": sym})
            if mapped is not None and mapped not in owner:
                out.add(mapped)
        return out

    def universe(self, name: str, as_of: dt.date) -> list[str] | None:
        """``"crypto"``: the ranking minus exclusions, largest first; None for other names."""
        if name != "crypto":
            return None
        caps = self.market_caps(None, as_of)
        if caps is None:
            return None
        excluded = self.excluded_coins()
        return [s for s in caps.columns if s not in excluded]


def _slim(coin: dict[str, Any]) -> dict[str, Any]:
    cap = coin.get("market_cap")
    try:
        cap = float(cap) if cap is not None else None
    except (TypeError, ValueError):
        cap = None
    if cap is not None and (not math.isfinite(cap) or cap <= 0):
        cap = None
    return {
        "id": str(coin["id"]),
        "symbol": str(coin.get("symbol") or ""),
        "name": str(coin.get("name") or ""),
        "market_cap": cap,
    }
