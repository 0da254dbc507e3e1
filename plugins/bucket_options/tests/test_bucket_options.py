"""Bucket D: discovery, the contract suite on the demo flow, when an alert may act, explain."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest
from tsys_bucket_options import __version__
from tsys_bucket_options.bucket import OptionsFlowBucket, Params
from tsys_bucket_options.flow import alert_rows

from tsys.api import FLOW_COLUMNS
from tsys.testing import (
    InMemorySource,
    bucket_contract_suite,
    discovered_bucket,
    lookahead_audit,
    memory_context,
    synthetic_bars,
)

NY = ZoneInfo("America/New_York")
AS_OF = dt.date(2021, 12, 31)


class FlowSource(InMemorySource):
    """The in-memory panel plus a fixed table of flow alerts (by New York date)."""

    provides = frozenset({*InMemorySource.provides, "options_flow"})

    def __init__(self, bars, flow: pd.DataFrame, **kw) -> None:
        super().__init__(bars, **kw)
        self.flow = flow

    def options_flow(self, start, end):
        days = pd.to_datetime(self.flow["timestamp"], utc=True).dt.tz_convert(NY).dt.date
        keep = (days >= start) & (days <= end)
        return self.flow[keep.to_numpy()].reset_index(drop=True)


def _alert(when_ny: dt.datetime, symbol: str, kind: str = "call", premium: float = 1e6, **kw):
    row = {
        "timestamp": pd.Timestamp(when_ny.replace(tzinfo=NY)).tz_convert("UTC"),
        "symbol": symbol,
        "option_type": kind,
        "premium": premium,
        "volume": 5000,
        "open_interest": 1000,
        "rule": "RepeatedHits",
        "side": "ask",
        "sweep": True,
        "opening": True,
        "dte": 14,
        "strike": 105.0,
        "expiry": dt.date(2020, 7, 17),
    }
    row.update(kw)
    return row


def _flow(rows) -> pd.DataFrame:
    cols = [*FLOW_COLUMNS, "side", "sweep", "opening", "dte", "strike", "expiry"]
    return pd.DataFrame(rows, columns=cols)


def _panel():
    bars = synthetic_bars(["AAA", "BBB", "CCC", "SPY"], n_bars=160, start="2020-01-01", seed=3)
    # liquid: about $100M a day
    return bars.with_fields(volume=np.full(bars.shape, 2e6))


def test_discovered_through_entry_point():
    bucket = discovered_bucket("options", OptionsFlowBucket, distribution="tsys-bucket-options")
    assert bucket.version == __version__


def test_contract_suite_on_the_demo_flow():
    from tsys.data.demo import DemoSource

    src = DemoSource(seed=7, as_of=AS_OF)
    members = src.universe("sp500", AS_OF)
    bars = src.bars([*members[:60], "SPY"], dt.date(2020, 6, 1), AS_OF)
    ctx = memory_context(src, AS_OF)
    for rule in ("follow", "fade", "both"):
        ctx.params = Params(rule=rule)
        bucket_contract_suite(OptionsFlowBucket(), ctx, bars)
    out = OptionsFlowBucket().compute(ctx, bars, Params(rule="both"))
    assert out.entries.any(), "the demo flow should produce some signals"
    # the demo flow says nothing of side, sweep or opening: the run says so
    assert any("does not say ask side" in w for w in ctx.warnings)


@pytest.mark.parametrize("clock", [(15, 59), (16, 1), (19, 30)])
def test_an_alert_at_or_after_the_close_acts_at_the_next_open(clock):
    bars = _panel()
    day = bars.index[100].date()
    when = dt.datetime.combine(day, dt.time(*clock))
    src = FlowSource(bars, _flow([_alert(when, "BBB")]))
    ctx = memory_context(src, bars.index[-1].date(), params=Params())
    out = OptionsFlowBucket().compute(ctx, bars, Params(signal_sessions=1))
    j = bars.column("BBB")
    # decided at the close of the alert's session, so the simulator fills at the next open
    assert np.flatnonzero(out.entries[:, j]).tolist() == [100]
    assert not out.entries[:, [bars.column(s) for s in ("AAA", "CCC")]].any()


def test_weekend_and_premarket_alerts_never_act_before_they_exist():
    bars = _panel()
    idx = [d.date() for d in bars.index]
    friday = next(k for k, d in enumerate(idx) if d.weekday() == 4 and k > 50)
    saturday = idx[friday] + dt.timedelta(days=1)
    monday_pre = dt.datetime.combine(idx[friday + 1], dt.time(8, 0))
    ts = pd.Series(
        [
            pd.Timestamp(dt.datetime.combine(saturday, dt.time(11)).replace(tzinfo=NY)),
            pd.Timestamp(monday_pre.replace(tzinfo=NY)),
        ]
    )
    # both belong to Monday's row (decided after Monday's close, filled Tuesday)
    assert alert_rows(ts, bars.index).tolist() == [friday + 1, friday + 1]
    # beyond the panel: dropped, never folded into the last row
    late = pd.Series([pd.Timestamp(bars.index[-1]) + pd.Timedelta(days=3)])
    assert alert_rows(late, bars.index).tolist() == [-1]


def test_an_alert_changes_nothing_before_its_row_and_bars_before_it_do_not_move_it():
    bars = _panel()
    t = 100
    when = dt.datetime.combine(bars.index[t].date(), dt.time(15, 59))
    with_alert = FlowSource(bars, _flow([_alert(when, "BBB")]))
    without = FlowSource(bars, _flow([]))
    bucket, p = OptionsFlowBucket(), Params(signal_sessions=1)
    a = bucket.compute(memory_context(with_alert, bars.index[-1].date()), bars, p).arrays()
    b = bucket.compute(memory_context(without, bars.index[-1].date()), bars, p).arrays()
    for name in a:
        assert np.array_equal(a[name][:t], b[name][:t], equal_nan=a[name].dtype != bool), name
    # perturb every bar before the alert: the signal still sits at the alert's row, no earlier
    fields = {f: getattr(bars, f).copy() for f in ("open", "high", "low", "close")}
    noise = np.exp(np.random.default_rng(5).normal(0, 0.02, (t, bars.shape[1])))
    for arr in fields.values():
        arr[:t] *= noise
    moved = bars.with_fields(**fields)
    c = bucket.compute(memory_context(with_alert, bars.index[-1].date()), moved, p)
    assert np.flatnonzero(c.entries[:, bars.column("BBB")]).tolist() == [t]
    # and the look-ahead audit holds with cut points on both sides of the alert
    lookahead_audit(
        bucket,
        memory_context(with_alert, bars.index[-1].date()),
        bars,
        p,
        cut_points=[t - 1, t, t + 1],
    )


def test_a_backtest_fills_at_the_open_after_the_alert():
    from tsys.backtest.bucket import backtest_bucket
    from tsys.config import Config

    bars = _panel()
    t = 100
    when = dt.datetime.combine(bars.index[t].date(), dt.time(16, 1))
    src = FlowSource(bars, _flow([_alert(when, "CCC")]))
    hub = memory_context(src, bars.index[-1].date()).data
    bt = backtest_bucket(
        OptionsFlowBucket(),
        hub,
        Config(),
        params=Params(signal_sessions=1, hold_sessions=3),
        start=bars.index[30].date(),
        end=bars.index[-1].date(),
    )
    buys = bt.fills[(bt.fills["side"] == "buy") & (bt.fills["qty"] > 0)]
    (first,) = buys.to_dict("records")
    assert (first["symbol"], first["date"]) == ("CCC", bars.index[t + 1])
    # a market-on-open order: the next open's price plus slippage, never a price before it
    assert first["ref_price"] == bars.open[t + 1, bars.column("CCC")]
    # the run states the alert history behind it
    assert any("options: 1 alert(s)" in w for w in bt.warnings)


def test_follow_filters_and_fade_rule():
    bars = _panel()
    t = 90
    day = bars.index[t].date()
    rows = [
        _alert(dt.datetime.combine(day, dt.time(11)), "AAA", premium=100_000),  # too small
        _alert(dt.datetime.combine(day, dt.time(11)), "BBB", side="bid"),  # sold calls
        _alert(dt.datetime.combine(day, dt.time(11)), "CCC", dte=200),  # too far out
        _alert(dt.datetime.combine(day, dt.time(12)), "SPY", kind="put", premium=3e6),
    ]
    src = FlowSource(bars, _flow(rows))
    ctx = memory_context(src, bars.index[-1].date())
    b = OptionsFlowBucket()
    follow = b.compute(ctx, bars, Params(rule="follow"))
    assert not follow.entries.any()
    fade = b.compute(ctx, bars, Params(rule="fade", signal_sessions=1, fade_lookback=1))
    assert np.flatnonzero(fade.entries[:, bars.column("SPY")]).tolist() == [t]
    loose = b.compute(
        ctx, bars, Params(rule="follow", ask_only=False, max_dte=365, follow_min_premium=50_000)
    )
    assert sorted({bars.symbols[j] for _, j in np.argwhere(loose.entries)}) == ["AAA", "BBB", "CCC"]


def test_explain_names_the_alert_behind_the_pick():
    bars = _panel()
    t = 100
    when = dt.datetime.combine(bars.index[t].date(), dt.time(15, 59))
    src = FlowSource(bars, _flow([_alert(when, "BBB", premium=1_250_000)]))
    ctx = memory_context(src, bars.index[-1].date(), params=Params())
    b = OptionsFlowBucket()
    out = b.compute(ctx, bars, Params())
    tags = b.explain(ctx, bars, out, "BBB", t)
    assert tags[0] == "entry: follow call flow, $1,250,000 premium"
    alert = next(x for x in tags if x.startswith("alert "))
    assert alert == (
        f"alert {bars.index[t].date()} 15:59 ET call $1,250,000, ask side, sweep, strike 105, "
        "exp 2020-07-17, RepeatedHits"
    )


def test_universe_is_the_flow_underlyings():
    bars = _panel()
    day = bars.index[-3].date()
    src = FlowSource(bars, _flow([_alert(dt.datetime.combine(day, dt.time(11)), "CCC")]))
    ctx = memory_context(src, bars.index[-1].date(), params=Params())
    assert OptionsFlowBucket().universe(ctx) == ["CCC", "SPY"]
    bare = memory_context(InMemorySource(bars), bars.index[-1].date(), params=Params())
    assert OptionsFlowBucket().universe(bare) == ["SPY"]
    assert any("options: flow not checked" in w for w in bare.warnings)


def test_run_daily_demo_shows_the_options_bucket_when_asked(tmp_path, monkeypatch):
    """Opt-in: not in a default demo run; ``--buckets options`` runs it with its alerts."""
    import json

    from click.testing import CliRunner

    from tsys.cli import cli

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TSYS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("TSYS_DATABASE_URL", raising=False)
    run = CliRunner().invoke(
        cli, ["run-daily", "--demo", "--as-of", "2024-06-28", "--buckets", "options", "--json"]
    )
    assert run.exit_code == 0, run.output
    (options,) = [b for b in json.loads(run.output)["run"]["buckets"] if b["bucket"] == "options"]
    assert options.get("error") in (None, "")
    plans = options["plans"]
    assert plans, "the demo flow gives the bucket something to say"
    buys = [p["allocation"]["signal"]["rationale"] for p in plans if p["action"] == "buy"]
    assert buys
    for why in buys:
        assert why[0].startswith("entry: follow call flow")
        assert any(tag.startswith("alert 2024-06-") for tag in why)
    assert all(p["entry"] == "MOO" for p in plans if p["action"] == "buy")
