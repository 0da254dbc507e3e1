"""The demo market: a seeded synthetic market generated from a fixed epoch (see tsys.data.demo).

:func:`generate_market` builds equities (made-up tickers in the 11 GICS sectors, SPY and the
sector ETFs built from them), crypto, point-in-time membership, earnings dates and the
volatility the news table is derived from. Every random stream is prefix-stable, so the data up
to any date does not depend on the end date asked for. :class:`tsys.data.demo.DemoSource`
serves it as a data source.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

import attrs
import numpy as np
import pandas as pd

from tsys.contracts import AssetClass
from tsys.data.bars import FIELDS, Bars, VolumeUnit

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
