"""The ``demo`` data source: a seeded synthetic market that needs no network and no files.

Everything here is made up and labelled so (``Bars.synthetic``, ``source="demo (synthetic, seed
N)"``, news titles starting ``[synthetic]``). It is built to be "real enough" for the rest of tsys
to be exercised end to end:

* 540 equities with made-up four-letter tickers in the 11 GICS sectors: returns from a market
  factor (GARCH volatility, student-t shocks), sector factors and idiosyncratic GARCH noise;
  prices held in a $5-$800 band by slow mean reversion around a beta-scaled market path;
  earnings-day gaps; volume tied to float turnover and to the size of the move; a few halts per
  year (no bar on those sessions, which validation reports as gaps).
* "SPY" and the 11 sector ETFs (XLK, XLF, ...) built cap-weighted from the constituents.
* 26 coins ("BTC-USD", ...) on every UTC day with higher volatility, supplies and market caps,
  including stablecoins (USDT/USDC/DAI, pinned near $1) and a wrapped token (WBTC, tracking BTC)
  that universes must exclude.
* point-in-time "sp500" membership (quarterly cap-ranked swaps), fundamentals with some
  low-float names, daily news sentiment, quarterly earnings dates and unusual options-flow
  alerts.

Determinism: every random stream is prefix-stable (row-major draws from its own generator, causal
recursions, per-year generators for events), and generation always starts from a fixed epoch.
The data up to any date therefore does not depend on the end date asked for: a later as-of only
appends bars. Equities trade on real NYSE sessions (exchange_calendars XNYS).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any, ClassVar, Self

import attrs
import numpy as np
import pandas as pd

from tsys.contracts import AssetClass
from tsys.data.bars import FIELDS, Bars, VolumeUnit
from tsys.data.source import (
    EARNINGS_COLUMNS,
    FLOW_COLUMNS,
    NEWS_COLUMNS,
    OPTIONAL_DATA,
    DataSource,
    Fundamentals,
    SourceContext,
)
from tsys.options import above, structure_options

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
_FLOW_RULES = (
    "RepeatedHits",
    "FloorTradeLargeCap",
    "FloorTradeMidCap",
    "SweepsFollowedByFloor",
    "OtmEarningsFloor",
    "LowHistoricVolumeFloor",
)
_NEWS_UP = (
    "beats expectations",
    "raises guidance",
    "wins major contract",
    "upgraded",
    "shares rally on strong demand",
)
_NEWS_DOWN = (
    "misses estimates",
    "cuts outlook",
    "faces regulatory probe",
    "downgraded",
    "shares slide as margins shrink",
)
_NEWS_FLAT = (
    "announces conference call",
    "names new director",
    "files quarterly report",
    "holds investor day",
)


def _rng(seed: int, *stream: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, *stream])))


def _tdraws(rng: np.random.Generator, shape: tuple[int, int], df: float, clip: float):
    """Unit-variance student-t shocks, clipped; row-major so a longer draw extends a shorter."""
    z = rng.standard_t(df, size=shape) / np.sqrt(df / (df - 2.0))
    return np.clip(z, -clip, clip, out=z)


_BLOCK = 256


def _garch_var(z: np.ndarray, var: np.ndarray, a: float, b: float) -> np.ndarray:
    """Conditional variances of a GARCH(1,1) driven by standardised shocks ``z`` (T x N).

    ``h[k+1] = w + (a z[k]^2 + b) h[k]`` is linear in ``h``, so each block of rows is solved
    with a cumulative product and sum instead of a Python loop over days. Blocks start at fixed
    rows, so the first rows never depend on how many rows follow.
    """
    w = var * (1 - a - b)
    out = np.empty_like(z)
    h = np.array(var, dtype=np.float64)
    for s in range(0, len(z), _BLOCK):
        c = a * z[s : s + _BLOCK] ** 2 + b
        p = np.cumprod(c, axis=0)  # p[i] = c[0]..c[i]
        prev_p = np.vstack([np.ones_like(h)[None, :], p[:-1]])
        # h[s+i] = prev_p[i] * (h_s + w * sum_{j<i} 1 / p[j])
        inv = np.vstack([np.zeros_like(h)[None, :], np.cumsum(1.0 / p[:-1], axis=0)])
        out[s : s + _BLOCK] = prev_p * (h + w * inv)
        h = p[-1] * (h + w * (inv[-1] + 1.0 / p[-1]))
    return out


def _rowdot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b`` with each row summed in a fixed order.

    BLAS picks its blocking from the matrix shape (and the CPU), so ``a @ b`` can differ in the
    last bit between a panel and its prefix; einsum's own loop does not, which keeps a longer
    market a pure extension of a shorter one.
    """
    return np.einsum("tn,ng->tg", a, b, optimize=False)


def _ar1(u: np.ndarray, phi: float) -> np.ndarray:
    """``d[k] = phi d[k-1] + u[k]`` (d[-1] = 0) down the rows, blockwise like :func:`_garch_var`."""
    out = np.empty_like(u)
    d = np.zeros(u.shape[1:])
    pw_full = phi ** np.arange(1, _BLOCK + 1, dtype=np.float64)
    for s in range(0, len(u), _BLOCK):
        blk = u[s : s + _BLOCK]
        pw = pw_full[: len(blk)].reshape((-1,) + (1,) * (u.ndim - 1))
        out[s : s + _BLOCK] = pw * (d + np.cumsum(blk / pw, axis=0))
        d = out[s + len(blk) - 1]
    return out


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
    """Quarterly report sessions per equity (T x N bool) and each report's price jump."""
    mask = np.zeros((len(sessions), len(u.tickers)), dtype=bool)
    jump = np.zeros(mask.shape)
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
            jump[pos[ok], np.flatnonzero(ok)] = size[q, ok]
    return mask, jump


@attrs.frozen(eq=False)
class Market:
    """One generated market up to ``horizon``; cached per (seed, horizon)."""

    seed: int
    horizon: dt.date
    universe: _Universe
    equities: Bars
    crypto: Bars
    earnings: np.ndarray  # T x N_EQUITIES bool
    members: list[tuple[pd.Timestamp, frozenset[str]]]
    coin_supply: np.ndarray  # T_crypto x N_coins
    sigma: np.ndarray  # T x N_EQUITIES daily vol estimate, for news and flow


def _generate_equities(seed: int, horizon: dt.date):
    from tsys.data import calendars

    u = _universe(seed)
    sessions = calendars.sessions(EPOCH, horizon)
    t, n, ns = len(sessions), len(u.tickers), len(SECTORS)
    earnings, jump = _earnings_dates(seed, u, sessions, horizon.year)

    # Market factor: GARCH(1,1) with student-t(4) shocks; sector factors share its clustering.
    zm = _tdraws(_rng(seed, 2), (t, 1), 4.0, 6.0)
    zs = _tdraws(_rng(seed, 3), (t, ns), 5.0, 6.0)
    zi = _tdraws(_rng(seed, 4), (t, n), 4.0, 5.0)
    aux = [_rng(seed, 6, k).random((t, n), dtype=np.float32) for k in range(4)]

    mu_m, var_m = 0.075 / 252, (0.16 / np.sqrt(252)) ** 2
    hm = np.minimum(_garch_var(zm, np.array([var_m]), 0.09, 0.89)[:, 0], 16 * var_m)
    m = mu_m + np.sqrt(hm) * zm[:, 0]
    regime = np.sqrt(hm / var_m)
    sec = zs * (0.011 * np.sqrt(regime))[:, None]
    var_i = u.idio_vol**2
    his = np.minimum(_garch_var(zi, var_i, 0.07, 0.90), 6 * var_i)
    # Deviations from the beta-scaled market path revert slowly (half-life ~1.7 years), which
    # keeps prices in a realistic band without touching the short-term dynamics.
    devs = _ar1(np.sqrt(his) * zi + u.loading * sec[:, u.sector] + jump, 1.0 - 1.0 / (252 * 2.5))
    market_path = np.cumsum(m)
    total = len(u.tickers) + 1 + ns
    panel = {f: np.empty((t, total)) for f in FIELDS}
    close = panel["close"][:, :n]
    np.add(np.outer(market_path, u.beta), devs, out=close)
    close += u.log_p0
    prev = np.empty((t, n))
    prev[0] = u.log_p0
    prev[1:] = close[:-1]
    ret = close - prev  # log returns (close still holds log prices here)
    np.exp(close, out=close)
    np.exp(prev, out=prev)
    sigma = np.sqrt(his + np.outer(hm, u.beta**2))
    # Part of each move happens overnight (bigger on earnings days), the rest in the session.
    share = np.where(earnings, 0.8, 0.25 + 0.2 * aux[0])
    open_ = panel["open"][:, :n]
    np.multiply(prev, np.exp(share * ret), out=open_)
    high, low = panel["high"][:, :n], panel["low"][:, :n]
    np.multiply(np.maximum(open_, close), np.exp(sigma * 0.6 * -np.log1p(-aux[1] * 0.98)), out=high)
    np.multiply(np.minimum(open_, close), np.exp(sigma * -0.6 * -np.log1p(-aux[2] * 0.98)), out=low)
    volume = panel["volume"][:, :n]
    volume[:] = np.round(
        (u.shares * u.float_frac * u.turnover)
        * (0.6 + 0.5 * np.abs(ret) / sigma)
        * np.exp(0.7 * (aux[3] - 0.5))
    )

    # Index and sector ETFs: cap-weighted by yesterday's caps over the constituents. With
    # fixed share counts, sum(w * price / prev) = (price @ shares) / (prev @ shares) per group.
    groups = [(INDEX_ETF, 140.0)] + [(s[2], 30.0) for s in SECTORS]
    member = np.zeros((n, 1 + ns))
    member[:, 0] = u.shares
    member[np.arange(n), 1 + u.sector] = u.shares
    base = np.array([g[1] for g in groups])
    den = _rowdot(prev, member)
    gross_close = _rowdot(close, member) / den
    gross_close[0] = 1.0
    level = base * np.cumprod(gross_close, axis=0)
    prev_level = np.vstack([base[None, :], level[:-1]])
    for f in ("open", "high", "low"):
        panel[f][:, n:] = prev_level * _rowdot(panel[f][:, :n], member) / den
    panel["close"][:, n:] = level
    dollar = _rowdot(volume * close, (member > 0).astype(np.float64))
    panel["volume"][:, n:] = np.round(0.04 * dollar / level)

    # A few halts a year: no bar (the ETFs still trade).
    halted = np.zeros((t, n), dtype=bool)
    years = sessions.year.to_numpy()
    for year in range(EPOCH.year, horizon.year + 1):
        rng = _rng(seed, 8, year)
        idx = np.flatnonzero(years == year)
        for _ in range(int(rng.integers(1, 4))):
            j, d, length = rng.integers(0, n), rng.integers(0, len(idx)), rng.integers(1, 4)
            halted[idx[d : d + length], j] = True
    caps = close * u.shares
    for f in FIELDS:
        panel[f][:, :n][halted] = np.nan
    symbols = [*u.tickers, *(g[0] for g in groups), *(f[0] for f in DEFENSIVE_FUNDS)]
    funds = _defensive_funds(seed, m)
    panel = {f: np.hstack([panel[f], funds[f]]) for f in FIELDS}
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


def _membership(seed, u, sessions, caps):
    """Quarterly reviews: up to three swaps of the smallest members for bigger outsiders."""
    order = np.argsort(-caps[0], kind="stable")
    current = set(order[:N_MEMBERS].tolist())
    out = [(sessions[0], frozenset(u.tickers[j] for j in current))]
    for year in range(sessions[0].year, sessions[-1].year + 1):
        for month in (3, 6, 9, 12):
            k = sessions.searchsorted(pd.Timestamp(year, month, 20))
            if k <= 0 or k >= len(sessions):
                continue
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
    u, eq, earnings, members, sigma = _generate_equities(seed, horizon)
    crypto, supply = _generate_crypto(seed, horizon)
    return Market(seed, horizon, u, eq, crypto, earnings, members, supply, sigma)


def _date(x: Any) -> dt.date:
    return pd.Timestamp(x).date()


@attrs.frozen(eq=False)
class _NewsTable:
    """Every synthetic article of one market, as session x ticker panels (built once)."""

    has: np.ndarray  # T x N_EQUITIES bool: an article that session
    sentiment: np.ndarray  # T x N_EQUITIES, rounded to 3 decimals
    relevance: np.ndarray  # T x N_EQUITIES, rounded to 3 decimals
    phrase: np.ndarray  # T x N_EQUITIES index into _NEWS_PHRASES
    tickers: np.ndarray  # N_EQUITIES object
    titles: np.ndarray  # N_EQUITIES x len(_NEWS_PHRASES) object: "[synthetic] TICK phrase"


_NEWS_PHRASES = (*_NEWS_UP, *_NEWS_DOWN, *_NEWS_FLAT)
#: The derived news panels, per seed, for the market they were built from.
_NEWS: dict[int, tuple[Market, _NewsTable]] = {}


#: Validation reports of each market's two panels, per (seed, strict), for the market they
#: came from (issues are frozen, so each source's report may share them).
_VALIDATED: dict[tuple[int, bool], tuple[Market, list[Any]]] = {}
#: Review dates and sorted member lists of each seed's market, for the market they came from.
_MEMBERS: dict[int, tuple[Market, np.ndarray, tuple[tuple[str, ...], ...]]] = {}


def _member_lists(mk: Market) -> tuple[np.ndarray, tuple[tuple[str, ...], ...]]:
    """The "sp500" review days (datetime64[D], ascending) and each review's sorted members."""
    hit = _MEMBERS.get(mk.seed)
    if hit is None or hit[0] is not mk:
        when = np.array([np.datetime64(w.date(), "D") for w, _ in mk.members])
        hit = (mk, when, tuple(tuple(sorted(m)) for _, m in mk.members))
        _MEMBERS[mk.seed] = hit
    return hit[1], hit[2]


def _text(values: np.ndarray, take: np.ndarray) -> Any:
    """``values[take]`` (Python strings) as the column pandas would build from those strings.

    With pandas' Arrow-backed string dtype the strings are taken on the Arrow side (no
    per-element conversion); otherwise the object array itself is the column.
    """
    dtype = pd.Series(["x"]).dtype
    if getattr(dtype, "storage", None) != "pyarrow":
        return values[take]
    import pyarrow as pa

    return pd.array(pa.array(values.tolist()).take(pa.array(take)), dtype=dtype)


def _news_table(mk: Market) -> _NewsTable:
    """The news of ``mk``, derived once: every element depends on its own session and ticker
    only, so a query is a slice of these panels (the same articles as drawing them per call)."""
    hit = _NEWS.get(mk.seed)
    if hit is not None and hit[0] is mk:
        return hit[1]
    eq = mk.equities
    n = len(mk.universe.tickers)
    u = _rng(mk.seed, 30).random((len(eq.index), n, 3))
    c = eq.close[:, :n]
    prev = np.vstack([c[:1], c[:-1]])
    with np.errstate(invalid="ignore"):
        surprise = np.log(c / prev) / mk.sigma
    p = 0.06 + 0.5 * np.tanh(np.abs(np.nan_to_num(surprise)) / 3) + 0.6 * mk.earnings
    has = (u[..., 0] < p) & ~np.isnan(surprise)
    sent = np.round(
        np.clip(np.tanh(0.5 * np.nan_to_num(surprise)) + 0.5 * (u[..., 1] - 0.5), -1, 1), 3
    )
    u2 = u[..., 2]
    # The phrase pool follows the rounded sentiment; the pick within it follows u2.
    n_up, n_down, n_flat = len(_NEWS_UP), len(_NEWS_DOWN), len(_NEWS_FLAT)
    phrase = np.where(
        sent > 0.2,
        (u2 * n_up).astype(np.int64),
        np.where(
            sent < -0.2,
            n_up + (u2 * n_down).astype(np.int64),
            n_up + n_down + (u2 * n_flat).astype(np.int64),
        ),
    ).astype(np.int8)
    tickers = np.array(mk.universe.tickers, dtype=object)
    titles = np.array(
        [[f"[synthetic] {t} {ph}" for ph in _NEWS_PHRASES] for t in tickers], dtype=object
    )
    table = _NewsTable(has, sent, np.round(0.5 + 0.5 * u2, 3), phrase, tickers, titles)
    _NEWS[mk.seed] = (mk, table)
    return table


@attrs.frozen
class DemoOptions:
    """``[data.options.demo]``."""

    #: None: ``[data] demo_seed``.
    seed: int | None = None
    #: The market's last day; None: the run's as-of date.
    as_of: dt.date | None = None
    history_years: float = attrs.field(default=20.0, validator=above(0))


class DemoSource(DataSource):
    """A synthetic, seeded market: equities, ETFs, crypto, and every optional capability."""

    name: ClassVar[str] = "demo"
    options_class: ClassVar[type] = DemoOptions
    synthetic: ClassVar[bool] = True
    provides: ClassVar[frozenset[str]] = frozenset({"bars", *OPTIONAL_DATA})
    #: The generator counts volume in shares and in coins (turnover of the float / supply).
    volume_units: Mapping[AssetClass, VolumeUnit] = {
        AssetClass.EQUITY: VolumeUnit.BASE,
        AssetClass.CRYPTO: VolumeUnit.BASE,
    }

    def __init__(
        self,
        seed: int = 7,
        *,
        as_of: dt.date | str | None = None,
        history_years: float = 20.0,
        ctx: SourceContext | None = None,
    ) -> None:
        self.seed = int(seed)
        self.as_of = _date(as_of) if as_of is not None else dt.date.today()
        self.history_years = float(history_years)
        self.ctx = ctx
        self._reports: dict[dt.date, Any] = {}
        self.report: Any = None

    @classmethod
    def from_config(cls, options: dict[str, Any], ctx: SourceContext) -> Self:
        opts = structure_options(DemoOptions, options, where="$.data.options.demo")
        seed = opts.seed
        if seed is None and ctx.config is not None:
            seed = ctx.config.data.demo_seed
        return cls(
            7 if seed is None else seed,
            as_of=opts.as_of if opts.as_of is not None else ctx.as_of,
            history_years=opts.history_years,
            ctx=ctx,
        )

    @property
    def label(self) -> str:
        return f"demo (synthetic, seed {self.seed})"

    def market(self, end: dt.date | None = None) -> Market:
        return generate_market(self.seed, _horizon(_date(end) if end is not None else self.as_of))

    # ------------------------------------------------------------------ bars
    def symbols(self, asset_class: AssetClass | None = None) -> list[str]:
        eq = [*_tickers(), INDEX_ETF, *SECTOR_ETFS, *(f[0] for f in DEFENSIVE_FUNDS)]
        cr = [c[0] for c in COINS]
        if asset_class is None:
            return eq + cr
        return eq if AssetClass(asset_class) is AssetClass.EQUITY else cr

    def validate(self, end: dt.date | None = None):
        """Validation report of the generated panels (clean except the halts, seen as gaps)."""
        from tsys.data.validate import QualityReport, validate_bars

        mk = self.market(end)
        if mk.horizon not in self._reports:
            strict = self.ctx is not None and self.ctx.strict
            hit = _VALIDATED.get((self.seed, strict))
            if hit is None or hit[0] is not mk:
                # Once per generated market and process: the panels never change once made.
                parts = [
                    validate_bars(panel, strict=strict)[1] for panel in (mk.equities, mk.crypto)
                ]
                hit = (mk, parts)
                _VALIDATED[(self.seed, strict)] = hit
            report = QualityReport(source=self.label)
            for part in hit[1]:
                report.extend(part)  # a report of its own: the shared parts are only read
            self._reports[mk.horizon] = report
        return self._reports[mk.horizon]

    def bars(
        self,
        symbols: Sequence[str] | None,
        start: dt.date | None,
        end: dt.date,
        *,
        asset_class: AssetClass | None = None,
    ) -> Bars:
        end = _date(end)
        if start is None:
            start = end - dt.timedelta(days=round(365.25 * self.history_years))
        mk = self.market(end)
        # Validated like any load (once per generated market): the halts show up as gaps.
        self.report = self.validate(end)
        panels = []
        ac = AssetClass(asset_class) if asset_class is not None else None
        for panel, cls in ((mk.equities, AssetClass.EQUITY), (mk.crypto, AssetClass.CRYPTO)):
            if ac is not None and ac is not cls:
                continue
            if symbols is None:
                panels.append(panel)
                continue
            have = set(panel.symbols)
            wanted = [s for s in symbols if s in have]
            if wanted:
                panels.append(panel.select(wanted))
        if symbols is not None:
            known = set(self.symbols(ac))
            unknown = [s for s in symbols if s not in known]
            if unknown and self.ctx is not None:
                self.ctx.warn(
                    f"demo: unknown symbol(s) left out: {', '.join(unknown[:10])}"
                    f"{' ...' if len(unknown) > 10 else ''}"
                )
        out = Bars.empty(source=self.label)
        for p in panels:
            out = out.merge(p.between(start, end))
        return attrs.evolve(out, source=self.label, synthetic=True)

    # ------------------------------------------------------------------ metadata
    def universe(self, name: str, as_of: dt.date) -> list[str] | None:
        if name != "sp500":
            return None
        as_of = _date(as_of)
        mk = self.market(as_of)
        when, lists = _member_lists(mk)
        # The last review on or before the day (the first list before any review).
        k = max(int(np.searchsorted(when, np.datetime64(as_of, "D"), side="right")) - 1, 0)
        return list(lists[k])

    def membership_changes(self, end: dt.date | None = None) -> list[dt.date]:
        """Dates on which the synthetic "sp500" membership changed."""
        end = _date(end)
        return [w.date() for w, _ in self.market(end).members[1:] if w.date() <= end]

    def market_caps(self, start: dt.date | None, end: dt.date) -> pd.DataFrame:
        mk = self.market(end)
        caps = pd.DataFrame(
            mk.crypto.close * mk.coin_supply, index=mk.crypto.index, columns=list(mk.crypto.symbols)
        )
        lo = pd.Timestamp(start, tz="UTC") if start is not None else caps.index[0]
        return caps[(caps.index >= lo) & (caps.index <= pd.Timestamp(end, tz="UTC"))]

    def excluded_coins(self) -> set[str]:
        return set(EXCLUDED_COINS)

    def fundamentals(self, symbols: Sequence[str]) -> dict[str, Fundamentals]:
        mk = self.market(self.as_of)
        u = mk.universe
        pos = {s: j for j, s in enumerate(u.tickers)}
        asof = pd.Timestamp(self.as_of, tz="UTC")
        erow = max(int(mk.equities.index.searchsorted(asof, side="right")) - 1, 0)
        crow = max(int(mk.crypto.index.searchsorted(asof, side="right")) - 1, 0)
        coins = {c[0]: j for j, c in enumerate(COINS)}
        out: dict[str, Fundamentals] = {}
        for s in symbols:
            if s in pos:
                j = pos[s]
                px = _last_valid(mk.equities.close[: erow + 1, j])
                shares = float(u.shares[j])
                out[s] = Fundamentals(
                    symbol=s,
                    name=u.names[j],
                    sector=SECTORS[u.sector[j]][0],
                    shares_outstanding=shares,
                    shares_float=float(np.round(shares * u.float_frac[j], -3)),
                    market_cap=None if px is None else px * shares,
                )
            elif s in coins:
                j = coins[s]
                px = _last_valid(mk.crypto.close[: crow + 1, j])
                sup = mk.coin_supply[crow, j]
                out[s] = Fundamentals(
                    symbol=s,
                    name=f"{s.split('-')[0]} (synthetic)",
                    shares_outstanding=None if np.isnan(sup) else float(sup),
                    shares_float=None if np.isnan(sup) else float(sup),
                    market_cap=None if px is None or np.isnan(sup) else px * float(sup),
                )
            elif s == INDEX_ETF or s in SECTOR_ETFS or s in {f[0] for f in DEFENSIVE_FUNDS}:
                out[s] = Fundamentals(
                    symbol=s, name=f"{s} (synthetic ETF)", sector=SECTOR_ETFS.get(s)
                )
            else:
                out[s] = Fundamentals(symbol=s)
        return out

    def news(self, symbols: Sequence[str], start: dt.date, end: dt.date) -> pd.DataFrame:
        """Daily sentiment rows: more likely and more extreme on big moves and earnings days."""
        start, end = _date(start), _date(end)
        mk = self.market(end)
        eq = mk.equities
        pos = {s: j for j, s in enumerate(mk.universe.tickers)}
        cols = np.array([pos[s] for s in symbols if s in pos], dtype=np.int64)
        if not len(cols):
            return pd.DataFrame(columns=list(NEWS_COLUMNS))
        table = _news_table(mk)
        rows = np.flatnonzero(
            (eq.index >= pd.Timestamp(start, tz="UTC")) & (eq.index <= pd.Timestamp(end, tz="UTC"))
        )
        # Row-major over (session, requested symbol): the order articles are listed in.
        rr, kk = np.nonzero(table.has[rows[:, None], cols[None, :]])
        if not len(rr):
            return pd.DataFrame([], columns=list(NEWS_COLUMNS))
        r, j = rows[rr], cols[kk]
        n_titles = table.titles.shape[1]
        return pd.DataFrame(
            {
                "date": eq.index[r],
                "symbol": _text(table.tickers, j),
                "sentiment": table.sentiment[r, j],
                "relevance": table.relevance[r, j],
                "title": _text(table.titles.ravel(), j * n_titles + table.phrase[r, j]),
                "url": _text(np.array([""], dtype=object), np.zeros(len(r), dtype=np.int64)),
                "source": _text(np.array([self.label], dtype=object), np.zeros(len(r), np.int64)),
            },
            columns=list(NEWS_COLUMNS),
        )

    def earnings(self, symbols: Sequence[str], start: dt.date, end: dt.date) -> pd.DataFrame:
        """Quarterly report dates; dates after the as-of are the announced upcoming ones."""
        start, end = _date(start), _date(end)
        mk = self.market(end)
        pos = {s: j for j, s in enumerate(mk.universe.tickers)}
        idx = mk.equities.index
        rows = np.flatnonzero(
            (idx >= pd.Timestamp(start, tz="UTC")) & (idx <= pd.Timestamp(end, tz="UTC"))
        )
        cols = np.array([pos[s] for s in symbols if s in pos], dtype=np.int64)
        rr, kk = np.nonzero(mk.earnings[rows[:, None], cols[None, :]])
        if not len(rr):
            return pd.DataFrame([], columns=list(EARNINGS_COLUMNS))
        tickers = np.array(mk.universe.tickers, dtype=object)
        df = pd.DataFrame({"symbol": tickers[cols[kk]], "date": idx[rows[rr]]})
        return df.sort_values(["date", "symbol"], ignore_index=True)

    def options_flow(self, start: dt.date, end: dt.date) -> pd.DataFrame:
        """Unusual options alerts (a few per session), leaning with the session's move."""
        start, end = _date(start), _date(end)
        mk = self.market(end)
        eq = mk.equities
        n = len(mk.universe.tickers)
        caps = eq.close[:, :n] * mk.universe.shares
        idx = eq.index
        rows = np.flatnonzero(
            (idx >= pd.Timestamp(start, tz="UTC")) & (idx <= pd.Timestamp(end, tz="UTC"))
        )
        epoch = pd.Timestamp(EPOCH, tz="UTC")
        out = []
        for r in rows:
            rng = _rng(self.seed, 40, int((idx[r] - epoch).days))
            k = int(rng.poisson(4))
            w = np.nan_to_num(caps[r]) ** 0.5
            picks = rng.choice(n, size=k, p=w / w.sum())
            for j in picks:
                c0 = eq.close[r - 1, j] if r else np.nan
                move = (
                    0.0
                    if np.isnan(c0) or np.isnan(eq.close[r, j])
                    else np.log(eq.close[r, j] / c0) / mk.sigma[r, j]
                )
                call = rng.random() < 0.5 + 0.35 * np.tanh(move)
                vol = int(rng.integers(500, 20000))
                out.append(
                    (
                        idx[r] + pd.Timedelta(hours=19, minutes=int(rng.integers(0, 59))),
                        mk.universe.tickers[j],
                        "call" if call else "put",
                        float(np.round(np.exp(rng.normal(np.log(4e5), 0.9)), -2)),
                        vol,
                        int(vol * rng.uniform(0.1, 0.9)),
                        _FLOW_RULES[int(rng.integers(0, len(_FLOW_RULES)))],
                    )
                )
        return pd.DataFrame(out, columns=list(FLOW_COLUMNS))


def _last_valid(col: np.ndarray) -> float | None:
    ok = np.flatnonzero(~np.isnan(col))
    return None if not len(ok) else float(col[ok[-1]])
