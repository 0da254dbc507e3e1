"""Alpaca market data as a tsys data source: daily stock bars (IEX or SIP) and crypto bars.

Stock bars need the Alpaca keys (``ALPACA_API_KEY`` / ``ALPACA_API_SECRET``); crypto bars do
not (no auth headers are sent without keys). alpaca-py follows ``next_page_token`` itself.
Daily stock bars are stamped at midnight New York time in UTC (``04:00Z``/``05:00Z``); they
are re-stamped to the session date at UTC midnight, the convention of :class:`tsys.data.Bars`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, ClassVar, Self

from tsys.api import (
    AssetClass,
    Bars,
    BarsRequest,
    DataError,
    DataSource,
    SourceContext,
    VolumeUnit,
)
from tsys_broker_alpaca import symbols as sym
from tsys_broker_alpaca.compat import set_private
from tsys_broker_alpaca.options import AlpacaDataOptions


class AlpacaDataSource(DataSource):
    """Daily bars from Alpaca.

    Parameters
    ----------
    feed
        ``iex`` (free) or ``sip`` (all US exchanges; needs a subscription for recent data).
    adjustment
        ``raw``, ``split``, ``dividend`` or ``all`` (default: split and dividend adjusted).
    symbols
        What :meth:`symbols` answers (Alpaca has no cheap "every symbol with bars" call).
    base_url
        Data host override, for tests (``http://127.0.0.1:PORT``).
    cache_dir
        Where fetched bars are kept (Parquet per symbol; set by ``from_config`` to the
        source's cache folder). Only ranges not yet cached are asked for, in one request per
        distinct missing range, and the last two days are always asked again (late or revised
        bars). None: no cache.
    """

    name: ClassVar[str] = "alpaca"
    options_class: ClassVar[type] = AlpacaDataOptions
    provides: ClassVar[frozenset[str]] = frozenset({"bars"})
    #: Alpaca counts volume in shares and, for crypto pairs, in coins.
    volume_units: dict[AssetClass, VolumeUnit] = {
        AssetClass.EQUITY: VolumeUnit.BASE,
        AssetClass.CRYPTO: VolumeUnit.BASE,
    }

    def __init__(
        self,
        *,
        feed: str = "iex",
        adjustment: str = "all",
        symbols: Sequence[str] = (),
        base_url: str | None = None,
        api_key: str | None = None,
        secret_key: str | None = None,
        cache_dir: str | None = None,
    ) -> None:
        self.feed = feed
        self.adjustment = adjustment
        self._symbols = list(symbols)
        self.base_url = base_url
        self.api_key = api_key
        self.secret_key = secret_key
        self.cache = None
        if cache_dir is not None:
            from tsys.api import ParquetCache

            self.cache = ParquetCache(cache_dir)

    @classmethod
    def from_config(cls, options: dict[str, Any], ctx: SourceContext) -> Self:
        opts = cls.options_from(options)
        return cls(
            feed=opts.feed,
            adjustment=opts.adjustment,
            symbols=opts.symbols,
            base_url=opts.base_url,
            cache_dir=opts.cache_dir or str(ctx.cache_dir / "bars"),
            api_key=opts.api_key,
            secret_key=opts.secret_key,
        )

    def symbols(self, asset_class: AssetClass | None = None) -> list[str]:
        return [
            s for s in self._symbols if asset_class is None or sym.asset_class_of(s) is asset_class
        ]

    def read_bars(self, request: BarsRequest) -> Bars:
        wanted, end = request.wanted(self), request.end
        start = request.start_or(dt.timedelta(days=365 * 3))
        if self.cache is None:
            frames = self._fetch(wanted, start, end)
        else:
            frames = self._cached(wanted, start, end)
        frames = {s: f for s, f in frames.items() if len(f)}
        if not frames:
            return Bars.empty(source=f"alpaca {self.feed}")
        classes = {s: sym.asset_class_of(s) for s in frames}
        return self.bars_from_frames(frames, classes, source=f"alpaca ({self.feed} feed)")

    def _key(self, symbol: str) -> str:
        return f"alpaca/{self.feed}/{self.adjustment}/{symbol}"

    def _cached(self, wanted: list[str], start: dt.date, end: dt.date) -> dict[str, Any]:
        """Bars through the cache: one request per distinct missing range, not per symbol."""
        import pandas as pd

        cache = self.cache
        assert cache is not None
        groups: dict[tuple[dt.date, dt.date], list[str]] = {}
        for s in wanted:
            for piece in cache.missing(self._key(s), start, end):
                groups.setdefault(piece, []).append(s)
        fetched = {piece: self._fetch(syms, *piece) for piece, syms in groups.items()}
        settled = min(end, dt.datetime.now(dt.UTC).date() - dt.timedelta(days=2))
        empty = pd.DataFrame(columns=["open", "high", "low", "close", "volume"], dtype=float)
        out = {}
        for s in wanted:
            out[s] = cache.get_or_fetch(
                self._key(s),
                start,
                end,
                lambda lo, hi, s=s: fetched[(lo, hi)].get(s, empty),
                settled=settled,
            )
        return out

    def _fetch(self, wanted: list[str], start: dt.date, end: dt.date) -> dict[str, Any]:
        """Daily frames of ``wanted`` from ``start`` to ``end`` inclusive, straight from Alpaca."""
        equities = [s for s in wanted if sym.asset_class_of(s) is AssetClass.EQUITY]
        cryptos = [s for s in wanted if sym.asset_class_of(s) is AssetClass.CRYPTO]
        t0 = dt.datetime.combine(start, dt.time(), dt.UTC)
        # Alpaca's end is inclusive; ask to the next midnight and cut at ``end`` afterwards.
        t1 = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), dt.UTC)
        frames: dict[str, Any] = {}
        if equities:
            frames.update(self._stock_frames(equities, t0, t1))
        if cryptos:
            frames.update(self._crypto_frames(cryptos, t0, t1))
        return {s: f.loc[f.index.date <= end] for s, f in frames.items()}

    def _call(self, what: str, fn: Any, req: Any) -> dict[str, list[dict[str, Any]]]:
        import requests
        from alpaca.common.exceptions import APIError

        try:
            out = fn(req)
        except APIError as exc:
            from tsys_broker_alpaca.apierror import error_parts

            status, message = error_parts(exc, (self.api_key, self.secret_key))
            hint = None
            if status == 403 and "SIP" in message:
                hint = "use feed = 'iex' in [data.options.alpaca], or a SIP subscription"
            raise DataError(
                f"Alpaca refused {what} (HTTP {status}): {message}", hint=hint
            ) from None
        except (requests.exceptions.RequestException, ValueError) as exc:
            raise DataError(f"Alpaca {what} failed: {type(exc).__name__}: {exc}") from None
        return out.data if hasattr(out, "data") else out

    def _stock_frames(self, symbols: list[str], t0: dt.datetime, t1: dt.datetime) -> dict:
        from alpaca.data.enums import Adjustment, DataFeed
        from alpaca.data.historical.stock import StockHistoricalDataClient
        from alpaca.data.requests import StockBarsRequest
        from alpaca.data.timeframe import TimeFrame

        if self.api_key is None or self.secret_key is None:
            # A DataError, not a ConfigError: the buckets that need stock bars are skipped
            # and the others (crypto bars need no keys) still run (issue 22).
            raise DataError(
                "Alpaca stock bars need ALPACA_API_KEY and ALPACA_API_SECRET in the environment",
                hint="crypto bars work without keys; free keys give the IEX feed",
            )
        client = StockHistoricalDataClient(
            self.api_key, self.secret_key, url_override=self.base_url
        )
        set_private(client, "_retry_wait", 1)  # alpaca-py waits 3 s between 429/504 retries
        req = StockBarsRequest(
            symbol_or_symbols=symbols,
            timeframe=TimeFrame.Day,
            start=t0,
            end=t1,
            feed=DataFeed(self.feed),
            adjustment=Adjustment(self.adjustment),
        )
        return _frames(self._call("stock bars", client.get_stock_bars, req), None)

    def _crypto_frames(self, symbols: list[str], t0: dt.datetime, t1: dt.datetime) -> dict:
        from alpaca.data.historical.crypto import CryptoHistoricalDataClient
        from alpaca.data.requests import CryptoBarsRequest
        from alpaca.data.timeframe import TimeFrame

        client = CryptoHistoricalDataClient(url_override=self.base_url)
        set_private(client, "_retry_wait", 1)
        names = {sym.to_alpaca(s, AssetClass.CRYPTO): s for s in symbols}
        req = CryptoBarsRequest(
            symbol_or_symbols=list(names), timeframe=TimeFrame.Day, start=t0, end=t1
        )
        return _frames(self._call("crypto bars", client.get_crypto_bars, req), names)


def _frames(data: dict[str, list[Any]], names: dict[str, str] | None) -> dict:
    import pandas as pd

    out = {}
    for alpaca_symbol, bars in data.items():
        if not bars:
            continue
        symbol = names.get(alpaca_symbol, alpaca_symbol) if names else alpaca_symbol
        idx = pd.DatetimeIndex([b.timestamp for b in bars]).tz_convert("UTC").normalize()
        df = pd.DataFrame(
            {
                "open": [b.open for b in bars],
                "high": [b.high for b in bars],
                "low": [b.low for b in bars],
                "close": [b.close for b in bars],
                "volume": [b.volume for b in bars],
            },
            index=idx,
        )
        if not df.index.is_unique:
            raise DataError(f"Alpaca sent two daily bars for one date of {symbol}")
        out[symbol] = df.sort_index()
    return out
