"""The demo market: a seeded synthetic market generated from a fixed epoch (see tsys.data.demo).

:func:`generate_market` builds equities (made-up tickers in the 11 GICS sectors, SPY and the
sector ETFs built from them), crypto, point-in-time membership, earnings dates and the
volatility the news table is derived from. Every random stream is prefix-stable, so the data up
to any date does not depend on the end date asked for. :class:`tsys.data.demo.DemoSource`
serves it as a data source.
"""

from __future__ import annotations

import datetime as dt
import threading
from functools import lru_cache
from typing import Any

import attrs
import numpy as np
import pandas as pd

from tsys.contracts import AssetClass
from tsys.data.bars import FIELDS, Bars, VolumeUnit
from tsys.data.demo_random import _AR1, _BLOCK, _ar1, _Garch, _garch_var, _rng, _rowdot, _tdraws

EPOCH = dt.date(2000, 1, 1)
CRYPTO_EPOCH = dt.date(2014, 1, 1)
N_EQUITIES = 540
N_MEMBERS = 500
N_LOW_FLOAT = 15

#: (sector, count, ETF, beta range, idiosyncratic annual vol median, name suffixes)
SECTORS: tuple[tuple[str, int, str, tuple[float, float], float, tuple[str, ...]], ...] = (
    ("Information Technology", 76, "XLK", (1.05, 1.45), 0.30, ("Systems", "Micro", "Software")),
    ("Health Care", 64, "XLV", (0.70, 1.05), 0.28, ("Therapeutics", "Medical", "Health")),
    ("Financials", 72, "XLF", (0.95, 1.30), 0.22, ("Bancorp", "Financial", "Capital")),
    ("Consumer Discretionary", 54, "XLY", (1.00, 1.35), 0.28, ("Brands", "Retail", "Motors")),
    ("Industrials", 76, "XLI", (0.90, 1.20), 0.22, ("Industries", "Aerospace", "Machinery")),
    ("Consumer Staples", 38, "XLP", (0.50, 0.80), 0.17, ("Foods", "Beverage", "Household")),
    ("Energy", 26, "XLE", (0.90, 1.30), 0.30, ("Petroleum", "Energy", "Resources")),
    ("Utilities", 32, "XLU", (0.35, 0.65), 0.15, ("Power", "Electric", "Utilities")),
    ("Real Estate", 32, "XLRE", (0.70, 1.05), 0.20, ("Realty", "Properties", "REIT")),
    ("Materials", 30, "XLB", (0.90, 1.20), 0.24, ("Chemicals", "Materials", "Mining")),
    ("Communication Services", 40, "XLC", (0.90, 1.25), 0.28, ("Media", "Telecom", "Networks")),
)
SECTOR_ETFS = {s[2]: s[0] for s in SECTORS}
INDEX_ETF = "SPY"
#: Defensive funds (Bucket A's trend book), generated on their own random stream after
#: everything else, so adding them left every other series unchanged: (symbol, start price,
#: annual drift, annual volatility, beta to the market factor).
DEFENSIVE_FUNDS = (("TLT", 90.0, 0.045, 0.14, -0.25), ("GLD", 110.0, 0.05, 0.16, 0.05))

#: (symbol, listing date, price at listing, supply, beta to the crypto factor, idio daily vol,
#: kind) - kind "stable" pins near $1, "wrapped" tracks its underlying.
COINS: tuple[tuple[str, str, float, float, float, float, str], ...] = (
    ("BTC-USD", "2014-01-01", 800.0, 19.5e6, 1.00, 0.012, "coin"),
    ("ETH-USD", "2015-08-07", 12.0, 120e6, 1.15, 0.025, "coin"),
    ("USDT-USD", "2015-03-01", 1.0, 8e10, 0.0, 0.0, "stable"),
    ("BNB-USD", "2017-07-25", 0.12, 1.5e8, 1.10, 0.030, "coin"),
    ("XRP-USD", "2014-08-04", 0.005, 5.5e10, 1.05, 0.035, "coin"),
    ("USDC-USD", "2018-10-08", 1.0, 3.2e10, 0.0, 0.0, "stable"),
    ("ADA-USD", "2017-10-01", 0.025, 3.5e10, 1.25, 0.035, "coin"),
    ("SOL-USD", "2020-04-10", 0.9, 4.5e8, 1.40, 0.045, "coin"),
    ("DOGE-USD", "2014-01-01", 0.0006, 1.4e11, 1.10, 0.045, "coin"),
    ("DOT-USD", "2020-08-20", 3.0, 1.4e9, 1.30, 0.040, "coin"),
    ("DAI-USD", "2019-11-18", 1.0, 5e9, 0.0, 0.0, "stable"),
    ("WBTC-USD", "2019-01-30", 3500.0, 1.5e5, 1.00, 0.0, "wrapped"),
    ("AVAX-USD", "2020-09-22", 4.5, 3.9e8, 1.40, 0.045, "coin"),
    ("TRX-USD", "2017-09-13", 0.002, 8.8e10, 1.05, 0.035, "coin"),
    ("LTC-USD", "2014-01-01", 3.0, 7.4e7, 1.00, 0.025, "coin"),
    ("LINK-USD", "2017-11-09", 0.2, 5.8e8, 1.25, 0.040, "coin"),
    ("BCH-USD", "2017-08-01", 100.0, 1.96e7, 1.05, 0.035, "coin"),
    ("XLM-USD", "2014-08-05", 0.003, 2.8e10, 1.05, 0.035, "coin"),
    ("ATOM-USD", "2019-03-14", 7.0, 3.9e8, 1.25, 0.040, "coin"),
    ("UNI-USD", "2020-09-17", 3.5, 7.5e8, 1.30, 0.045, "coin"),
    ("ETC-USD", "2016-07-24", 0.9, 1.45e8, 1.10, 0.040, "coin"),
    ("XMR-USD", "2014-05-21", 2.0, 1.8e7, 0.95, 0.030, "coin"),
    ("NEAR-USD", "2020-10-14", 1.2, 1.0e9, 1.35, 0.045, "coin"),
    ("AAVE-USD", "2020-10-02", 50.0, 1.5e7, 1.35, 0.045, "coin"),
    ("SHIB-USD", "2021-04-01", 2e-6, 5.9e14, 1.50, 0.060, "coin"),
    ("HBAR-USD", "2019-09-17", 0.04, 3.5e10, 1.20, 0.040, "coin"),
)
EXCLUDED_COINS = frozenset(c[0] for c in COINS if c[6] in ("stable", "wrapped"))

_CONSONANTS = "BCDFGHJKLMNPRSTVWXZ"
_VOWELS = "AEIOUY"
#: Tickers the made-up names must never collide with.
_RESERVED = {INDEX_ETF, *SECTOR_ETFS, *(f[0] for f in DEFENSIVE_FUNDS)} | {
    c[0].split("-")[0] for c in COINS
}


@lru_cache(maxsize=1)
def _tickers() -> tuple[str, ...]:
    # Seed-independent, so configs and tests can name demo tickers across seeds.
    rng = _rng(20_240_607, 0)
    out: list[str] = []
    seen = set(_RESERVED)
    while len(out) < N_EQUITIES:
        c = rng.integers(0, len(_CONSONANTS), 2)
        v = rng.integers(0, len(_VOWELS), 2)
        t = _CONSONANTS[c[0]] + _VOWELS[v[0]] + _CONSONANTS[c[1]] + _VOWELS[v[1]]
        if t not in seen:
            seen.add(t)
            out.append(t)
    return tuple(out)


def _horizon(end: dt.date) -> dt.date:
    # Generate whole years so that nearby end dates share one cached market.
    return dt.date(end.year, 12, 31)


@attrs.frozen(eq=False)
class _Universe:
    """Static per-symbol properties (depend on the seed only)."""

    tickers: tuple[str, ...]
    names: tuple[str, ...]
    sector: np.ndarray  # int index into SECTORS
    beta: np.ndarray
    loading: np.ndarray
    idio_vol: np.ndarray  # daily
    shares: np.ndarray
    float_frac: np.ndarray
    turnover: np.ndarray
    log_p0: np.ndarray
    earn_offset: np.ndarray  # days after quarter end


def _universe(seed: int) -> _Universe:
    rng = _rng(seed, 1)
    tickers = _tickers()
    sector = np.concatenate([np.full(s[1], k) for k, s in enumerate(SECTORS)])
    n = len(sector)
    assert n == N_EQUITIES
    lo = np.array([SECTORS[k][3][0] for k in sector])
    hi = np.array([SECTORS[k][3][1] for k in sector])
    beta = rng.uniform(lo, hi)
    loading = rng.uniform(0.6, 1.1, n)
    ann = np.array([SECTORS[k][4] for k in sector]) * np.exp(rng.normal(0, 0.25, n))
    idio = np.clip(ann, 0.10, 0.60) / np.sqrt(252)
    # Market caps at the epoch: lognormal, a few giants; the last names are small caps.
    cap0 = np.exp(rng.normal(np.log(9e9), 1.0, n))
    small = rng.choice(n, N_LOW_FLOAT, replace=False)
    cap0[small] = rng.uniform(2e8, 8e8, N_LOW_FLOAT)
    p0 = np.exp(rng.uniform(np.log(14), np.log(220), n))
    p0[small] = rng.uniform(9, 25, N_LOW_FLOAT)
    shares = np.round(cap0 / p0, -3)
    float_frac = rng.uniform(0.75, 0.99, n)
    # Low-float names: under 20M shares float.
    float_frac[small] = np.minimum(rng.uniform(0.15, 0.6, N_LOW_FLOAT), 19e6 / shares[small])
    turnover = np.exp(rng.normal(np.log(0.008), 0.35, n))
    turnover[small] *= 2.5
    names = tuple(
        f"{t.title()} {SECTORS[k][5][i % 3]} (synthetic)"
        for i, (t, k) in enumerate(zip(tickers, sector, strict=True))
    )
    return _Universe(
        tickers,
        names,
        sector,
        beta,
        loading,
        idio,
        shares,
        float_frac,
        turnover,
        np.log(p0),
        rng.integers(18, 45, n),
    )


def _earnings_dates(seed: int, u: _Universe, sessions: pd.DatetimeIndex, last_year: int):
    """Quarterly report sessions per equity (T x N bool) and each report's price jump, as
    (rows, columns, sizes) in the order they are drawn."""
    mask = np.zeros((len(sessions), len(u.tickers)), dtype=bool)
    rows, cols, sizes = [], [], []
    for year in range(EPOCH.year, last_year + 1):
        rng = _rng(seed, 7, year)
        jitter = rng.integers(-3, 4, (4, len(u.tickers)))
        size = _tdraws(rng, (4, len(u.tickers)), 3.0, 4.0) * 0.045
        for q, month in enumerate((3, 6, 9, 12)):
            qend = pd.Timestamp(year, month, 1) + pd.offsets.MonthEnd(0)
            days = qend + pd.to_timedelta(u.earn_offset + jitter[q], unit="D")
            pos = sessions.searchsorted(days)
            ok = pos < len(sessions)
            mask[pos[ok], np.flatnonzero(ok)] = True
            rows.append(pos[ok])
            cols.append(np.flatnonzero(ok))
            sizes.append(size[q, ok])
    return mask, (np.concatenate(rows), np.concatenate(cols), np.concatenate(sizes))


def _field(part: str, i: int, doc: str) -> Any:
    """A :class:`Market` attribute: item ``i`` of one of its parts, generated on first use."""
    return property(lambda mk: mk._part(part)[i], doc=doc)


class Market:
    """One generated market up to ``horizon``; cached per seed (see :func:`generate_market`).

    Its two parts are generated on first use, each once: the equities (with the membership,
    the earnings and the volatility made with them) and the crypto. A crypto bucket's market
    caps never generate the 540 equities.
    """

    def __init__(self, seed: int, horizon: dt.date) -> None:
        self.seed = seed
        self.horizon = horizon
        self._lock = threading.Lock()
        self._equity_part: tuple[Any, ...] | None = None
        self._crypto_part: tuple[Bars, np.ndarray] | None = None

    def __getstate__(self) -> dict[str, Any]:  # picklable, as it was: the lock is per process
        return {k: v for k, v in self.__dict__.items() if k != "_lock"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def _part(self, name: str) -> tuple[Any, ...]:
        with self._lock:
            if getattr(self, name) is None:
                make = _generate_equities if name == "_equity_part" else _generate_crypto
                setattr(self, name, make(self.seed, self.horizon))
            return getattr(self, name)

    @property
    def has_equities(self) -> bool:
        """True once the equities are generated (reading them costs nothing more)."""
        return self._equity_part is not None

    universe = _field("_equity_part", 0, "Static per-symbol properties of the equities.")
    equities = _field("_equity_part", 1, "The stocks, SPY, the sector ETFs and the funds.")
    earnings = _field("_equity_part", 2, "T x N_EQUITIES bool: the report sessions.")
    members = _field("_equity_part", 3, "The sp500 reviews: (session, members) on changes.")
    sigma = _field("_equity_part", 4, "T x N_EQUITIES daily vol estimate (news and flow).")
    crypto = _field("_crypto_part", 0, "The coins.")
    coin_supply = _field("_crypto_part", 1, "T_crypto x N_coins.")


def _generate_equities(seed: int, horizon: dt.date, chunk: int = _BLOCK):
    """The equity panels, their membership, earnings and volatility, ``chunk`` rows at a time
    (a whole number of :data:`_BLOCK`): only what is kept is T x N, every intermediate is one
    chunk of rows. Every stream and recursion carries over between chunks, so the values do
    not depend on ``chunk``."""
    from tsys.data import calendars

    u = _universe(seed)
    sessions = calendars.sessions(EPOCH, horizon)
    t, n, ns = len(sessions), len(u.tickers), len(SECTORS)
    earnings, jumps = _earnings_dates(seed, u, sessions, horizon.year)

    # Market factor: GARCH(1,1) with student-t(4) shocks; sector factors share its clustering.
    zm = _tdraws(_rng(seed, 2), (t, 1), 4.0, 6.0)
    zs = _tdraws(_rng(seed, 3), (t, ns), 5.0, 6.0)
    mu_m, var_m = 0.075 / 252, (0.16 / np.sqrt(252)) ** 2
    hm = np.minimum(_garch_var(zm, np.array([var_m]), 0.09, 0.89)[:, 0], 16 * var_m)
    m = mu_m + np.sqrt(hm) * zm[:, 0]
    regime = np.sqrt(hm / var_m)
    sec = zs * (0.011 * np.sqrt(regime))[:, None]
    gen = _EquityRows(seed, u, hm, sec, np.cumsum(m), earnings, jumps)
    halted = _halts(seed, sessions, n)
    reviews = _reviews(sessions)
    funds = _defensive_funds(seed, m)
    total = n + 1 + ns + len(DEFENSIVE_FUNDS)
    panel = {f: np.empty((t, total)) for f in FIELDS}
    sigma = np.empty((t, n))
    caps: dict[int, np.ndarray] = {}  # the rows the membership reviews read
    for s in range(0, t, chunk):
        e = min(s + chunk, t)
        close = gen.fill({f: panel[f][s:e, : n + 1 + ns] for f in FIELDS}, sigma[s:e], s)
        for r in {0, *(k - 1 for k in reviews)}:
            if s <= r < e:
                caps[r] = close[r - s] * u.shares
        # A few halts a year: no bar (the ETFs still trade).
        for f in FIELDS:
            panel[f][s:e, :n][halted[s:e]] = np.nan
    for f in FIELDS:
        panel[f][:, n + 1 + ns :] = funds[f]
    groups = [INDEX_ETF, *(s[2] for s in SECTORS)]
    symbols = [*u.tickers, *groups, *(f[0] for f in DEFENSIVE_FUNDS)]
    bars = Bars(
        sessions.tz_localize("UTC"),
        symbols,
        **panel,
        asset_classes=[AssetClass.EQUITY] * len(symbols),
        volume_units=VolumeUnit.BASE,  # shares
        source=f"demo (synthetic, seed {seed})",
        synthetic=True,
    )
    members = _membership(seed, u, sessions, caps)
    return u, bars, earnings, members, sigma


class _EquityRows:
    """The equities' random streams and recursions, advanced one chunk of rows at a time."""

    def __init__(self, seed: int, u: _Universe, hm, sec, market_path, earnings, jumps) -> None:
        n = len(u.tickers)
        self.u, self.hm, self.sec, self.market_path = u, hm, sec, market_path
        self.earnings, self.jumps = earnings, jumps
        self.zi = _rng(seed, 4)
        self.aux = [_rng(seed, 6, k) for k in range(4)]
        self.var_i = u.idio_vol**2
        self.garch = _Garch(self.var_i, 0.07, 0.90)
        # Deviations from the beta-scaled market path revert slowly (half-life ~1.7 years),
        # which keeps prices in a realistic band without touching the short-term dynamics.
        self.devs = _AR1(1.0 - 1.0 / (252 * 2.5), (n,))
        self.log_close = u.log_p0  # the last row's log close (the epoch's prices at first)
        # Index and sector ETFs: cap-weighted by yesterday's caps over the constituents. With
        # fixed share counts, sum(w * price / prev) = (price @ shares) / (prev @ shares).
        self.member = np.zeros((n, 1 + len(SECTORS)))
        self.member[:, 0] = u.shares
        self.member[np.arange(n), 1 + u.sector] = u.shares
        self.base = np.array([140.0] + [30.0] * len(SECTORS))
        self.growth = np.ones(1 + len(SECTORS))  # the product of the gross returns so far
        self.level = self.base  # the last row's ETF levels

    def fill(self, panel: dict[str, np.ndarray], sigma: np.ndarray, s: int) -> np.ndarray:
        """Write the rows from ``s`` on (as many as ``sigma`` has) into ``panel`` (each field's
        equity and ETF columns of those rows) and ``sigma``; return the rows' close."""
        u, k, n = self.u, len(sigma), len(self.u.tickers)
        rows = slice(s, s + k)
        zi = _tdraws(self.zi, (k, n), 4.0, 5.0)
        aux = [g.random((k, n), dtype=np.float32) for g in self.aux]
        his = np.minimum(self.garch.rows(zi), 6 * self.var_i)
        jump = np.zeros((k, n))
        r, c, size = self.jumps
        here = (r >= s) & (r < s + k)
        jump[r[here] - s, c[here]] = size[here]
        devs = self.devs.rows(np.sqrt(his) * zi + u.loading * self.sec[rows][:, u.sector] + jump)
        close = panel["close"][:, :n]
        np.add(np.outer(self.market_path[rows], u.beta), devs, out=close)
        close += u.log_p0
        prev = np.empty((k, n))
        prev[0] = self.log_close
        prev[1:] = close[:-1]
        self.log_close = close[-1].copy()
        ret = close - prev  # log returns (close still holds log prices here)
        np.exp(close, out=close)
        np.exp(prev, out=prev)
        np.sqrt(his + np.outer(self.hm[rows], u.beta**2), out=sigma)
        # Part of each move happens overnight (bigger on earnings days), the rest in session.
        share = np.where(self.earnings[rows], 0.8, 0.25 + 0.2 * aux[0])
        open_ = panel["open"][:, :n]
        np.multiply(prev, np.exp(share * ret), out=open_)
        high, low = panel["high"][:, :n], panel["low"][:, :n]
        span_hi = np.exp(sigma * 0.6 * -np.log1p(-aux[1] * 0.98))
        np.multiply(np.maximum(open_, close), span_hi, out=high)
        span_lo = np.exp(sigma * -0.6 * -np.log1p(-aux[2] * 0.98))
        np.multiply(np.minimum(open_, close), span_lo, out=low)
        volume = panel["volume"][:, :n]
        volume[:] = np.round(
            (u.shares * u.float_frac * u.turnover)
            * (0.6 + 0.5 * np.abs(ret) / sigma)
            * np.exp(0.7 * (aux[3] - 0.5))
        )
        self._etfs(panel, prev, s)
        return close

    def _etfs(self, panel: dict[str, np.ndarray], prev: np.ndarray, s: int) -> None:
        n, member = len(self.u.tickers), self.member
        close, volume = panel["close"][:, :n], panel["volume"][:, :n]
        den = _rowdot(prev, member)
        gross_close = _rowdot(close, member) / den
        if s == 0:
            gross_close[0] = 1.0
        growth = np.cumprod(np.vstack([self.growth[None, :], gross_close]), axis=0)[1:]
        level = self.base * growth
        prev_level = np.vstack([self.level[None, :], level[:-1]])
        self.growth, self.level = growth[-1], level[-1]
        for f in ("open", "high", "low"):
            panel[f][:, n:] = prev_level * _rowdot(panel[f][:, :n], member) / den
        panel["close"][:, n:] = level
        dollar = _rowdot(volume * close, (member > 0).astype(np.float64))
        panel["volume"][:, n:] = np.round(0.04 * dollar / level)


def _halts(seed: int, sessions: pd.DatetimeIndex, n: int) -> np.ndarray:
    """A few halts a year (T x N bool): 1-3 per year, 1-3 sessions each."""
    halted = np.zeros((len(sessions), n), dtype=bool)
    years = sessions.year.to_numpy()
    for year in range(EPOCH.year, sessions[-1].year + 1):
        rng = _rng(seed, 8, year)
        idx = np.flatnonzero(years == year)
        for _ in range(int(rng.integers(1, 4))):
            j, d, length = rng.integers(0, n), rng.integers(0, len(idx)), rng.integers(1, 4)
            halted[idx[d : d + length], j] = True
    return halted


def _defensive_funds(seed: int, m: np.ndarray) -> dict[str, np.ndarray]:
    """OHLCV of :data:`DEFENSIVE_FUNDS`: a slow trend that turns every two years or so (so a
    trend rule has something to find and a fund can fall with stocks), a beta to the market's
    daily move ``m``, and their own GARCH-clustered shocks. Every draw has its own stream (40,
    k) and row t depends on rows up to t only, so a longer market is a pure extension."""
    t, k = len(m), len(DEFENSIVE_FUNDS)
    z = _tdraws(_rng(seed, 40, 0), (t, k), 5.0, 6.0)
    vol = np.array([f[3] for f in DEFENSIVE_FUNDS]) / np.sqrt(252)
    h = np.minimum(_garch_var(z, vol**2, 0.06, 0.92), 9 * vol**2)
    drift = np.array([f[2] for f in DEFENSIVE_FUNDS]) / 252
    turns = np.cumsum(_rng(seed, 40, 1).random((t, k)) < 1 / 500, axis=0) % 2
    trend = np.where(turns == 0, 1.0, -0.6) * drift * 2.0
    beta = np.array([f[4] for f in DEFENSIVE_FUNDS])
    ret = trend + np.outer(m, beta) + np.sqrt(h) * z
    close = np.array([f[1] for f in DEFENSIVE_FUNDS]) * np.exp(np.cumsum(ret, axis=0))
    prev = np.vstack([close[:1] / np.exp(ret[:1]), close[:-1]])
    aux = _rng(seed, 40, 2).random((t, k, 3))
    open_ = prev * np.exp(0.3 * ret + 0.1 * np.sqrt(h) * (aux[..., 0] - 0.5))
    span = np.sqrt(h) * 0.6 * -np.log1p(-aux[..., 1] * 0.98)
    high = np.maximum(open_, close) * np.exp(span)
    low = np.minimum(open_, close) * np.exp(-span * (0.5 + aux[..., 2]))
    volume = np.round(5e6 * (0.6 + 0.5 * np.abs(ret) / np.sqrt(h)))
    return {"open": open_, "high": high, "low": low, "close": close, "volume": volume}


def _reviews(sessions: pd.DatetimeIndex) -> list[int]:
    """Rows of the quarterly membership reviews (the session on or after the 20th of March,
    June, September and December), the first session excluded."""
    out = []
    for year in range(sessions[0].year, sessions[-1].year + 1):
        for month in (3, 6, 9, 12):
            k = int(sessions.searchsorted(pd.Timestamp(year, month, 20)))
            if 0 < k < len(sessions):
                out.append(k)
    return out


def _membership(seed, u, sessions, caps):
    """Quarterly reviews: up to three swaps of the smallest members for bigger outsiders.
    ``caps[r]`` is row r of the equities' market caps (the first row, each review's eve)."""
    order = np.argsort(-caps[0], kind="stable")
    current = set(order[:N_MEMBERS].tolist())
    out = [(sessions[0], frozenset(u.tickers[j] for j in current))]
    for k in _reviews(sessions):
        cap = caps[k - 1]
        ins = sorted(current, key=lambda j: cap[j])
        outs = sorted(set(range(len(cap))) - current, key=lambda j: -cap[j])
        changed = False
        for a, b in zip(ins[:3], outs[:3], strict=False):
            if cap[b] > 1.15 * cap[a]:
                current.remove(a)
                current.add(b)
                changed = True
        if changed:
            out.append((sessions[k], frozenset(u.tickers[j] for j in current)))
    return out


def _generate_crypto(seed: int, horizon: dt.date):
    days = pd.date_range(CRYPTO_EPOCH, max(horizon, CRYPTO_EPOCH), freq="D")
    t, n = len(days), len(COINS)
    zc = _tdraws(_rng(seed, 20), (t, 1), 3.5, 6.0)
    zi = _tdraws(_rng(seed, 21), (t, n), 3.5, 5.0)
    aux = [_rng(seed, 22, k).random((t, n), dtype=np.float32) for k in range(4)]
    # Crypto factor: GARCH, mean-reverting around a saturating growth trend (bubbles and busts).
    var_c = 0.035**2
    hc = np.minimum(_garch_var(zc, np.array([var_c]), 0.10, 0.87)[:, 0], 9 * var_c)
    years = np.arange(t) / 365.0
    trend = 4.3 * (1 - np.exp(-years / 4.0))
    cm = trend + _ar1((np.sqrt(hc) * zc[:, 0])[:, None], 1 - 1 / 400)[:, 0]
    start = np.array([days.searchsorted(pd.Timestamp(c[1])) for c in COINS])
    beta = np.array([c[4] for c in COINS])
    idio = np.array([c[5] for c in COINS])
    kind = [c[6] for c in COINS]
    his = np.minimum(_garch_var(zi, idio**2, 0.08, 0.88), 6 * idio**2)
    devs = _ar1(np.sqrt(his) * zi, 1 - 1 / 300)
    anchor = np.minimum(start, t - 1)  # coins listed after the horizon stay all-NaN
    logc = (
        np.log([c[2] for c in COINS])
        + (cm[:, None] - cm[anchor]) * beta
        + devs
        - devs[anchor, np.arange(n)]
    )
    sigma = np.sqrt(his + np.outer(hc, beta**2))
    btc = 0
    for j, kd in enumerate(kind):
        if kd == "stable":
            # Pinned to $1 with a tiny wobble (a few basis points).
            logc[:, j] = 0.0008 * np.tanh(zi[:, j] / 2)
            sigma[:, j] = 0.001
        elif kd == "wrapped":
            logc[:, j] = logc[:, btc] + 0.002 * np.tanh(zi[:, j] / 2)
            sigma[:, j] = sigma[:, btc]
    close = np.exp(logc)
    prev = np.vstack([close[:1], close[:-1]])
    ret = np.log(close / prev)
    open_ = prev * np.exp(0.02 * ret * aux[0])  # 24/7: the open is yesterday's close, nearly
    top, bot = np.maximum(open_, close), np.minimum(open_, close)
    high = top * np.exp(sigma * 0.5 * -np.log1p(-aux[1] * 0.98))
    low = bot * np.exp(-sigma * 0.5 * -np.log1p(-aux[2] * 0.98))
    supply = np.array([c[3] for c in COINS]) * np.ones((t, 1))
    for j, kd in enumerate(kind):
        if kd in ("stable", "wrapped"):
            # Stablecoin and wrapped supplies grew from little to their size over ~6 years.
            age = np.clip((np.arange(t) - start[j]) / (6 * 365.0), 0, 1)
            supply[:, j] *= 0.02 + 0.98 * age
    turnover = np.where(np.array(kind) == "stable", 0.15, 0.03)
    volume = np.round(
        supply * turnover * (0.6 + 0.4 * np.abs(ret) / sigma) * np.exp(0.7 * (aux[3] - 0.5))
    )
    listed = np.arange(t)[:, None] >= start[None, :]
    panel = {
        f: np.where(listed, a, np.nan)
        for f, a in zip(FIELDS, (open_, high, low, close, volume), strict=True)
    }
    bars = Bars(
        days.tz_localize("UTC"),
        [c[0] for c in COINS],
        **panel,
        asset_classes=[AssetClass.CRYPTO] * n,
        volume_units=VolumeUnit.BASE,  # coins
        source=f"demo (synthetic, seed {seed})",
        synthetic=True,
    )
    return bars, np.where(listed, supply, np.nan)


#: The longest market generated so far, per seed. Generation is prefix-stable (a later horizon
#: only appends days), so a market reaching further serves every earlier end date unchanged.
_MARKETS: dict[int, Market] = {}


def generate_market(seed: int, horizon: dt.date) -> Market:
    """The demo market from the epoch to at least ``horizon`` (cached in-process)."""
    mk = _MARKETS.get(seed)
    if mk is None or mk.horizon < horizon:
        mk = _generate_market(seed, horizon)
        _MARKETS[seed] = mk
    return mk


def _generate_market(seed: int, horizon: dt.date) -> Market:
    """A new (uncached) market: its parts are generated on first use."""
    return Market(seed, horizon)
