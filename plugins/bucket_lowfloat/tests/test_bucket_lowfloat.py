"""Bucket C: discovery, the contract suite and look-ahead audit (demo and real small-float
data), the universe filters, halts, gaps, earnings, explain, and the caps as properties."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import attrs
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tsys_bucket_lowfloat import __version__
from tsys_bucket_lowfloat import signals as sig
from tsys_bucket_lowfloat.bucket import (
    MAX_ENTRY_GAP,
    LowFloatBucket,
    Params,
)

from tsys.api import Fundamentals
from tsys.buckets import BucketContext
from tsys.config import Config, config_from_dict
from tsys.data import Bars, DataHub, SourceContext
from tsys.testing import (
    InMemorySource,
    bucket_contract_suite,
    discovered_bucket,
    lookahead_audit,
    memory_context,
    shared_data_dir,
    shipped_defaults,
)

SHARED = shared_data_dir()
needs_shared = pytest.mark.skipif(
    SHARED is None, reason="../shared/data is absent (real-data tests skipped)"
)


class FloatSource(InMemorySource):
    """An in-memory panel whose fundamentals give float, shares and names."""

    def __init__(self, bars: Bars, floats: dict[str, Fundamentals], **kw) -> None:
        super().__init__(bars, **kw)
        self._floats = floats

    def fundamentals(self, symbols):
        return {s: self._floats.get(s, Fundamentals(symbol=s)) for s in symbols}


def _ctx(src, end, params=None) -> BucketContext:
    return memory_context(src, end, params=params or Params())


# ----------------------------------------------------------------------------- a market
def _market(n=260, seed=0, names=("AAA", "BBB", "CCC", "DDD", "EEE", "FFF")):
    """Six thin stocks at $3-$12 with 200k-shares days, a few volume surges and breakouts."""
    rng = np.random.default_rng(seed)
    idx = pd.bdate_range("2012-01-02", periods=n, tz="UTC")
    N = len(names)
    ret = rng.normal(0.0005, 0.03, (n, N))
    close = rng.uniform(3, 12, N) * np.exp(np.cumsum(ret, axis=0))
    volume = rng.lognormal(np.log(2e5), 0.4, (n, N))
    for t in rng.choice(np.arange(70, n - 5), 10, replace=False):  # attention shocks
        j = rng.integers(N)
        volume[t, j] *= 6
        close[t:, j] *= 1.15
    open_ = close * np.exp(rng.normal(0, 0.01, (n, N)))
    high = np.maximum(open_, close) * (1 + rng.uniform(0.005, 0.04, (n, N)))
    low = np.minimum(open_, close) * (1 - rng.uniform(0.005, 0.04, (n, N)))
    return Bars(idx, names, open_, high, low, close, volume, ["equity"] * N, source="test")


def _floats(names, flt=5e6, shares=8e6):
    return {s: Fundamentals(symbol=s, name=f"{s} Inc", shares_float=flt, shares_outstanding=shares)
            for s in names}  # fmt: skip


def _setup(**kw):
    bars = _market(**kw)
    src = FloatSource(bars, _floats(bars.symbols))
    end = bars.index[-1].date()
    return bars, src, _ctx(src, end)


# ----------------------------------------------------------------------------- discovery
def test_discovered_through_entry_point_with_its_settings():
    bucket = discovered_bucket("lowfloat", LowFloatBucket, distribution="tsys-bucket-lowfloat")
    assert bucket.version == __version__
    rules = bucket.position_rules(Params(time_stop_bars=7, stop_atr=1.5))
    assert rules.stop_kind == "fixed" and rules.time_stop_bars == 7 and rules.atr_multiple == 1.5
    # Without a [buckets.lowfloat] section: off (opt-in); when on, 5% of the account in five
    # equal 1% positions.
    s = Config().bucket(bucket)
    assert (s.enabled, s.capital_share, s.max_positions, s.sizing) == (False, 0.05, 5, "equal")
    s = config_from_dict({"buckets": {"lowfloat": {"enabled": True}}}).bucket(bucket)
    assert (s.enabled, s.capital_share, s.max_positions) == (True, 0.05, 5)
    # A section that sets some keys keeps the bucket's defaults for the others.
    s = config_from_dict({"buckets": {"lowfloat": {"max_positions": 3}}}).bucket(bucket)
    assert (s.capital_share, s.max_positions) == (0.05, 3)
    s = config_from_dict({"buckets": {"lowfloat": {"capital_share": 0.02}}}).bucket(bucket)
    assert (s.capital_share, s.max_positions) == (0.02, 5)


# ----------------------------------------------------------------------------- contract
def test_contract_suite_and_lookahead_on_a_thin_market():
    bars, _src, ctx = _setup()
    bucket_contract_suite(LowFloatBucket(), ctx, bars)
    out = LowFloatBucket().compute(ctx, bars, Params())
    assert out.entries.any(), "the shocks make breakouts"
    cuts = lookahead_audit(LowFloatBucket(), ctx, bars, Params(volume_surge=2.0), [100, 180, 250])
    assert cuts == [100, 180, 250]


def test_contract_suite_on_the_demo_low_float_names():
    from tsys.data.demo import DemoSource

    end = dt.date(2024, 6, 28)
    demo = DemoSource(seed=7, as_of=end)
    sctx = SourceContext(cache_dir=Path(".tsys-cache"))
    ctx = BucketContext(as_of=end, data=DataHub(demo, [], sctx), params=Params())
    syms = LowFloatBucket().history_symbols(ctx)
    funds = demo.fundamentals(syms)
    assert syms and all(funds[s].shares_float <= 20e6 for s in syms)
    bars = demo.bars(syms, dt.date(2022, 1, 1), end, asset_class="equity")
    bucket_contract_suite(LowFloatBucket(), ctx, bars)
    out = LowFloatBucket().compute(ctx, bars, Params())
    assert (out.extras["member"] > 0).any()
    said = [w for w in ctx.warnings if "shares float from" in w]
    assert said == [said[0]] and "the 2024-06-28 (synthetic) snapshot" in said[0]


@pytest.mark.shared_data
@needs_shared
def test_contract_and_lookahead_on_real_small_float_stocks():
    """Real faults in the files (low 0, high below low, a 12-share print, 17000-dollar
    zero-volume rows, a 16x day) keep the contract and never make an entry on a bad day."""
    from tsys.data.csv import CsvSource

    sctx = SourceContext(cache_dir=Path(".tsys-cache"))
    src = CsvSource(
        SHARED / "equities" / "smallcap_stooq",
        float_file=SHARED / "meta" / "smallcap_float_2023-08.csv",
        volume_unit="base",
        ctx=sctx,
    )
    syms = ["ADMP", "TTNP", "CMT", "KRO", "CRT", "ACER", "EGLE", "NVR", "FICO"]
    bars = src.bars(syms, dt.date(2005, 1, 1), dt.date(2015, 12, 31), asset_class="equity")
    ctx = BucketContext(as_of=dt.date(2015, 12, 31), data=DataHub(src, [], sctx), params=Params())
    bucket_contract_suite(LowFloatBucket(), ctx, bars)
    out = LowFloatBucket().compute(ctx, bars, Params())
    member = out.extras["member"] > 0
    # Large high-priced companies pass a float limit counted in shares, never the cap filter.
    for s in ("NVR", "FICO"):
        assert not member[:, bars.column(s)].any(), s
    # The 12-share print at 15.30 (ADMP 2009-04-22) is untradeable and no entry follows it.
    t = int(bars.index.searchsorted(pd.Timestamp("2009-04-22", tz="UTC")))
    j = bars.column("ADMP")
    assert bars.close[t, j] == pytest.approx(15.30)
    assert out.extras["untradeable"][t, j] == 1.0
    assert not out.entries[t : t + 5, j].any()
    # ACER's 17000-dollar zero-volume rows of 2005 are untradeable, never members.
    a = bars.column("ACER")
    early = bars.index < pd.Timestamp("2005-06-01", tz="UTC")
    assert (out.extras["untradeable"][early, a] > 0).any()
    assert not member[early, a].any()
    # TTNP's real 16x day is kept in the data (the worst gap shows it) but entered on never.
    k = int(bars.index.searchsorted(pd.Timestamp("2009-05-07", tz="UTC")))
    m = bars.column("TTNP")
    assert bars.close[k, m] / bars.close[k - 1, m] > 10
    assert not out.entries[k, m]
    assert out.extras["worst_gap"][k:, m].min() > 5
    assert any("shares float from the 2023-08 snapshot" in w for w in ctx.warnings), ctx.warnings
    lookahead_audit(LowFloatBucket(), ctx, bars, Params(), [1500, 2400])


# ----------------------------------------------------------------------------- signals
def test_untradeable_days_and_the_gap_across_a_halt():
    o = np.array([[10.0], [10.0], [12.0], [13.0], [8.0]])
    h = np.array([[10.5], [10.0], [13.0], [13.0], [9.0]])
    lo = np.array([[9.5], [10.0], [11.5], [0.0], [7.5]])
    c = np.array([[10.0], [10.0], [12.5], [13.0], [8.5]])
    v = np.array([[1e5], [12.0], [0.0], [1e5], [1e5]])
    bad = sig.untradeable(o, h, lo, c, v)
    # row 1: one price all day (a single print); row 2: no volume; row 3: low 0
    assert bad[:, 0].tolist() == [False, True, True, True, False]
    gap = sig.overnight_gap(o, c, bad)
    # the open after the halt is measured against the last tradeable close (row 0: 10)
    assert np.isnan(gap[:4, 0]).all() and gap[4, 0] == pytest.approx(-0.2)
    assert sig.worst_gap(gap)[4, 0] == pytest.approx(0.2)


def test_no_entry_after_a_big_gap_or_a_recent_halt():
    bars, _src, ctx = _setup()
    out = LowFloatBucket().compute(ctx, bars, Params(volume_surge=1.5))
    t, j = np.argwhere(out.entries)[-1]
    o = bars.open.copy()
    o[t, j] = bars.close[t - 1, j] * (1 + MAX_ENTRY_GAP + 0.05)
    gapped = attrs.evolve(bars, open=o, high=np.maximum(bars.high, o))
    out2 = LowFloatBucket().compute(ctx, gapped, Params(volume_surge=1.5))
    assert not out2.entries[t, j]
    tags = LowFloatBucket().explain(ctx, gapped, out2, bars.symbols[j], t)
    assert any(x.startswith("gap +") and "no entry" in x for x in tags), tags
    v = bars.volume.copy()
    v[t - 2, j] = 0.0  # a halt two sessions before
    halted = attrs.evolve(bars, volume=v)
    out3 = LowFloatBucket().compute(ctx, halted, Params(volume_surge=1.5))
    assert not out3.entries[t, j]
    assert out3.extras["recent_halt"][t, j] == 1.0


def test_universe_filters_float_price_market_cap_and_funds():
    bars = _market()
    names = bars.symbols
    floats = _floats(names)
    floats["BBB"] = attrs.evolve(floats["BBB"], shares_float=25e6)  # float too large
    floats["CCC"] = attrs.evolve(floats["CCC"], shares_outstanding=1e9)  # cap far above 2B
    floats["DDD"] = attrs.evolve(floats["DDD"], name="Thin Small Cap ETF")  # a fund
    del floats["EEE"]  # no float known
    src = FloatSource(bars, floats)
    ctx = _ctx(src, bars.index[-1].date())
    # The universe is the float pre-filter; market cap, price and liquidity apply per day.
    assert LowFloatBucket().universe(ctx) == ["AAA", "CCC", "FFF", "IWM"]
    out = LowFloatBucket().compute(ctx, bars, Params())
    member = out.extras["member"] > 0
    for s in ("BBB", "CCC", "DDD", "EEE"):
        assert not member[:, bars.column(s)].any(), s
    assert member[:, bars.column("AAA")].any()
    # price band
    out = LowFloatBucket().compute(ctx, bars, Params(max_price=1.5))
    assert not (out.extras["member"] > 0).any()


def test_no_float_anywhere_is_said_and_leaves_no_universe():
    bars = _market()
    ctx = _ctx(InMemorySource(bars), bars.index[-1].date())
    out = LowFloatBucket().compute(ctx, bars, Params())
    assert not out.entries.any()
    assert any("no data source knows shares float" in w for w in ctx.warnings)
    assert LowFloatBucket().universe(ctx) == []
    with pytest.raises(Exception, match="no stock with a known float"):
        LowFloatBucket().history_symbols(ctx)


def test_a_daily_run_on_csv_without_float_data_shows_the_bucket_with_no_plan(tmp_path):
    """A csv folder and no float file: the bucket is in the run, without a plan and without
    an error (exit 0), and the run says why."""
    import json

    from click.testing import CliRunner

    from tsys.cli import cli

    bars = _market()
    folder = tmp_path / "bars"
    folder.mkdir()
    for j, s in enumerate(bars.symbols):
        pd.DataFrame(
            {
                "date": bars.index.strftime("%Y-%m-%d"),
                **{f: getattr(bars, f)[:, j] for f in ("open", "high", "low", "close", "volume")},
            }
        ).to_csv(folder / f"{s}.csv", index=False)
    day = bars.index[-1].date().isoformat()
    cfg = tmp_path / "tsys.toml"
    cfg.write_text(f'data_dir = "{tmp_path / "data"}"\n[data]\nsource = "csv"\npath = "{folder}"\n')
    args = ["--config", str(cfg), "run-daily", "--buckets", "lowfloat", "--as-of", day]
    res = CliRunner().invoke(cli, [*args, "--no-send", "--json"])
    assert res.exit_code == 0, res.output
    run = json.loads(res.stdout)["run"]
    (lf,) = run["buckets"]
    assert lf["bucket"] == "lowfloat" and lf["error"] is None and not lf["plans"]
    said = " | ".join(lf["warnings"])
    assert "no data source knows shares float" in said and "universe is empty" in said


def test_earnings_block_entries_and_force_an_exit_before_the_report():
    bars = _market()
    out0 = LowFloatBucket().compute(*_setup()[2:], bars, Params(volume_surge=1.5))
    t, j = np.argwhere(out0.entries)[-1]
    report = bars.index[t].date() + dt.timedelta(days=2)
    earn = pd.DataFrame({"symbol": [bars.symbols[j]], "date": [report.isoformat()]})
    src = FloatSource(bars, _floats(bars.symbols), earnings=earn)
    ctx = _ctx(src, bars.index[-1].date())
    out = LowFloatBucket().compute(ctx, bars, Params(volume_surge=1.5))
    assert not out.entries[t, j] and out.blocked[t, j] and out.exits[t, j]
    assert out.block_reasons[(t, j)] == "earnings in 2 days: blocked"
    tags = LowFloatBucket().explain(ctx, bars, out, bars.symbols[j], t)
    assert any(x.startswith("exit: earnings") for x in tags)
    # without an earnings source the run says the check did not run
    ctx2 = _setup()[2]
    LowFloatBucket().compute(ctx2, bars, Params())
    assert any("lowfloat: earnings not checked" in w for w in ctx2.warnings)


def test_explain_says_float_dollar_volume_setup_stop_and_worst_gap():
    bars, _src, ctx = _setup()
    out = LowFloatBucket().compute(ctx, bars, Params(volume_surge=1.5))
    t, j = np.argwhere(out.entries)[-1]
    tags = LowFloatBucket().explain(ctx, bars, out, bars.symbols[j], t)
    joined = " | ".join(tags)
    for word in ("float 5.0M shares", "median dollar volume $", "setup: breakout over",
                 "stop ", "worst gap ", "entry: "):  # fmt: skip
        assert word in joined, (word, tags)


# ----------------------------------------------------------------------------- caps
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    max_positions=st.integers(1, 6),
    capital_share=st.sampled_from([0.02, 0.05, 0.1]),
    adv_share=st.sampled_from([0.001, 0.01, 0.05]),
)
def test_caps_hold_on_every_day_of_a_backtest(seed, max_positions, capital_share, adv_share):
    """On every bar of a backtest: the bucket's positions sum to at most its sleeve, each is
    at most one slot (1% of the account at the defaults), and each entry is at most
    ``max_adv_share`` of the symbol's 20-day dollar volume; the simulated account holds at
    most ``max_positions`` names and never goes below zero cash."""
    from tsys.backtest.bucket import backtest_bucket
    from tsys.portfolio.step import History, bucket_step

    bars, src, _ = _setup(seed=seed)
    cfg = config_from_dict(
        {
            "account": {"size": 250_000},
            "buckets": {
                "lowfloat": {"capital_share": capital_share, "max_positions": max_positions}
            },
            "risk": {"max_adv_share": adv_share},
        }
    )
    bucket = LowFloatBucket()
    params = Params(volume_surge=1.5)
    sleeve = cfg.account.size  # a backtest trades the sleeve as a whole account
    settings_ = attrs.evolve(cfg.bucket(bucket), capital_share=1.0)
    end = bars.index[-1].date()
    hub = DataHub(src, [], SourceContext(cache_dir=Path(".tsys-cache")))
    ctx = BucketContext(as_of=end, data=hub, settings=settings_, params=params)
    step = bucket_step(bucket, ctx, cfg, History(start=None, end=end, equity=sleeve))
    w = step.plan.weights
    held = np.nan_to_num(w, nan=0.0)
    assert (held.sum(axis=1) <= 1.0 + 1e-9).all()
    assert (held <= 1.0 / max_positions + 1e-9).all()
    assert ((held > 0).sum(axis=1) <= max_positions).all()
    from tsys.api import indicators as ind

    adv = ind.dollar_volume(step.bars.close, step.bars.base_volume(), 20)
    # entry_rows[t, j]: the row the position held at t was entered (-1: none held)
    entered = step.plan.entry_rows
    rows, cols = np.nonzero(entered >= 0)
    assert len(rows) == (held > 0).sum()
    for t, j in zip(rows.tolist(), cols.tolist(), strict=True):
        e = int(entered[t, j])
        assert held[t, j] * sleeve <= adv_share * adv[e, j] * (1 + 1e-9)
    bt = backtest_bucket(bucket, hub, cfg, params=params, end=end, cash=sleeve)
    filled = bt.fills[bt.fills["qty"] > 0]  # an unfilled order's row has no price
    if len(filled):
        assert (filled["price"] > 0).all()
    assert np.all(np.isfinite(bt.equity)) and bt.equity.min() > 0


# ----------------------------------------------------------------------------- modes, halts
def test_reversal_mode_buys_washouts_and_sells_the_rebound():
    bars, _src, ctx = _setup(seed=3)
    p = Params(mode="reversal", volume_surge=1.5, breakout_window=10)
    out = LowFloatBucket().compute(ctx, bars, p)
    assert out.entries.any()
    t, j = np.argwhere(out.entries)[0]
    assert bars.close[t, j] < out.extras["breakout_level"][t, j]  # below the 10-day low
    tags = LowFloatBucket().explain(ctx, bars, out, bars.symbols[j], t)
    assert any(x.startswith("setup: break below") for x in tags), tags
    assert any(x.startswith("entry:") and "washout" in x for x in tags), tags
    k = np.argwhere(out.exits[:, j] & (np.arange(len(bars.index)) > t))[0][0]
    tags = LowFloatBucket().explain(ctx, bars, out, bars.symbols[j], k)
    assert any(x.startswith("exit: rebound") for x in tags), tags
    lookahead_audit(LowFloatBucket(), ctx, bars, p, [120, 200])
    # the mode is chosen by research (one study per mode), never searched inside one
    assert "mode" not in LowFloatBucket().search_space()
    assert set(LowFloatBucket().search_space()) == {
        "breakout_window", "volume_surge", "stop_atr", "time_stop_bars"
    }  # fmt: skip


def test_a_stop_meeting_a_halt_fills_at_the_next_open_and_the_report_counts_it():
    """A held position whose symbol halts (no volume) and reopens far below its stop is sold
    at that first tradeable open; the backtest's metrics count the stop, the gap fill, the
    halted day held and the stop right after a halt."""
    from tsys.backtest.bucket import backtest_bucket

    bars, src, _ctx0 = _setup()
    p = Params(volume_surge=1.5, time_stop_bars=30)
    cfg = config_from_dict({"buckets": {"lowfloat": {"max_positions": 5}}})

    def run(b, s):
        hub = DataHub(s, [], SourceContext(cache_dir=Path(".tsys-cache")))
        return backtest_bucket(LowFloatBucket(), hub, cfg, params=p, end=b.index[-1].date())

    base = run(bars, src)
    long_ = base.trades[(base.trades["exit_bar"] - base.trades["entry_bar"] >= 4)]
    trade = long_.iloc[-1]
    j = bars.column(trade["symbol"])
    e = int(bars.index.get_loc(base.index[int(trade["entry_bar"])]))  # the entry fill's row
    o, h, lo, c, v = (a.copy() for a in (bars.open, bars.high, bars.low, bars.close, bars.volume))
    v[e + 1, j] = 0.0  # halted the session after the entry
    crash = float(trade["entry_price"]) * 0.5  # and reopening at half the entry: under any stop
    o[e + 2, j], lo[e + 2, j], h[e + 2, j], c[e + 2, j] = crash, crash * 0.98, crash * 1.05, crash
    halted = attrs.evolve(bars, open=o, high=h, low=lo, close=c, volume=v)
    bt = run(halted, FloatSource(halted, _floats(halted.symbols)))
    f = bt.fills[(bt.fills["qty"] > 0) & (bt.fills["symbol"] == halted.symbols[j])]
    sold = f[(f["side"] == "sell") & (f["date"] == halted.index[e + 2])]
    assert sold["reason"].tolist() == ["stop"]
    assert sold["ref_price"].iloc[0] == pytest.approx(crash)  # the open, not the stop level
    assert not len(f[f["date"] == halted.index[e + 1]]), "nothing fills on the halted day"
    m = bt.metrics
    stops = bt.fills[(bt.fills["qty"] > 0) & (bt.fills["reason"] == "stop")]
    assert m["stop_exits"] == len(stops) >= 1
    assert m["stops_after_halt"] >= 1 and m["halted_position_days"] >= 1
    assert m["stop_gap_share"] > 0


def test_shipped_parameters_are_the_researched_defaults_and_say_they_failed():
    import json

    doc = shipped_defaults(LowFloatBucket())
    assert doc["bucket_version"] == __version__ and doc["params"] == attrs.asdict(Params())
    assert doc["n_trials"] == 61 and doc["data_fingerprint"]
    # the full report ships beside the package, under the name params.json gives it
    report = Path(__file__).parents[1] / doc["report"]
    full = json.loads(report.read_text())
    assert full["final"]["chosen_params"] == doc["params"]
    # honest: out of sample it lost to IWM and to its universe, and it says so
    assert doc["research"]["passed"] is False
    oos = doc["research"]["out_of_sample"]
    assert oos["sharpe"] < doc["research"]["best_anchor_sharpe"]
    assert full["out_of_sample"]["metrics"]["cagr"] < full["figures"]["benchmark_cagr"]


def test_optimisation_sessions_without_the_benchmark_in_the_data():
    """The demo market has no IWM: optimisation then splits the equities' own sessions."""
    from tsys.optimize.bucket import sessions

    bars, src, _ = _setup()
    hub = DataHub(src, [], SourceContext(cache_dir=Path(".tsys-cache")))
    period = sessions(hub, LowFloatBucket(), None, bars.index[-1].date())
    assert period.index[-1] == bars.index[-1]
    assert len(period.index) == len(bars.index) - LowFloatBucket.warmup_bars


@pytest.mark.shared_data
@needs_shared
def test_backtest_command_on_the_small_float_folder_with_the_float_csv_from_config(tmp_path):
    """`tsys backtest lowfloat --source csv --path .../smallcap_stooq`, the float CSV wired
    through `[data.options.csv] float_file`: figures, the snapshot caveat, the stop and halt
    counts, and the bad rows named."""
    import json

    from click.testing import CliRunner

    from tsys.cli import cli

    cfg = tmp_path / "tsys.toml"
    float_csv = SHARED / "meta" / "smallcap_float_2023-08.csv"
    cfg.write_text(
        f'data_dir = "{tmp_path / "data"}"\n[data.options.csv]\nfloat_file = "{float_csv}"\n'
    )
    args = ["--config", str(cfg), "backtest", "lowfloat", "--source", "csv", "--path"]
    args += [str(SHARED / "equities" / "smallcap_stooq"), "--start", "2010-06-01"]
    res = CliRunner().invoke(cli, [*args, "--end", "2010-12-31", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["bucket"] == "lowfloat" and out["metrics"]["trades"] > 0
    for k in ("stop_exits", "stop_gap_share", "stops_after_halt", "halted_position_days"):
        assert k in out["metrics"]
    said = " | ".join(out["warnings"])
    assert "shares float from the 2023-08 snapshot" in said
    assert "CMT: dropped 1 row(s)" in said  # the low-0 row of 2010-08-26
