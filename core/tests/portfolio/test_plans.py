"""plan_positions over a history and build_allocations for the daily run, on a scripted bucket."""

from __future__ import annotations

import datetime as dt

import attrs
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tsys.buckets import Bucket, BucketContext, BucketOutput, PositionRules
from tsys.config import BucketConfig, OverridesConfig, RiskConfig
from tsys.contracts import Action, AssetClass, EntryMethod, PositionRecord, StopKind
from tsys.data import Bars
from tsys.portfolio import (
    build_allocations,
    client_order_id,
    plan_positions,
    rebalance_mask,
    valid_until,
)
from tsys.testing import InMemorySource, memory_context

LOOSE = RiskConfig(
    sector_cap=1.0, max_pairwise_correlation=1.0, max_adv_share=1.0, max_position_weight=1.0
)


@attrs.frozen
class P:
    pass


class Scripted(Bucket):
    """Outputs set by the test: entries/exits/stops exactly where the test wants them."""

    name = "scripted"
    asset_class = AssetClass.EQUITY
    version = "1.0"
    Params = P

    def __init__(self, out: BucketOutput, rules: PositionRules = PositionRules()):
        self.out = out
        self.rules = rules

    def position_rules(self, params):
        return self.rules

    def universe(self, ctx):
        return []

    def compute(self, ctx, bars, params):
        return self.out

    def explain(self, ctx, bars, output, symbol, t):
        return [f"scripted {symbol}"]


def flat_bars(T=20, syms=("A", "B", "C"), ac=AssetClass.EQUITY, freq="B", price=10.0):
    idx = pd.date_range("2024-01-01", periods=T, freq=freq, tz="UTC")
    c = np.full((T, len(syms)), price)
    return Bars(idx, syms, c, c * 1.01, c * 0.99, c, np.full_like(c, 1e6), [ac] * len(syms))


def output(T, N, **kw):
    base = dict(
        score=np.full((T, N), np.nan),
        entries=np.zeros((T, N), bool),
        exits=np.zeros((T, N), bool),
        stop=np.full((T, N), np.nan),
        target=np.full((T, N), np.nan),
    )
    base.update(kw)
    return BucketOutput(**base)


def test_entries_hold_until_exit_then_flat():
    bars = flat_bars()
    T, N = bars.shape
    out = output(T, N)
    out.score[3] = [2.0, 1.0, 0.5]
    out.entries[3] = [True, True, True]
    out.exits[8, 0] = True
    s = BucketConfig(capital_share=0.6, max_positions=2, sizing="equal")
    plan = plan_positions(Scripted(out), None, bars, out, s, LOOSE, OverridesConfig())
    assert np.all(plan.weights[:3] == 0)
    assert np.allclose(plan.weights[3:8, 0], 0.3) and np.allclose(plan.weights[3:, 1], 0.3)
    assert np.all(plan.weights[:, 2] == 0)  # third candidate: no slot
    assert np.all(plan.weights[8:, 0] == 0) and plan.exit_reasons[(8, 0)] == "signal"


def test_stop_touch_closes_and_trailing_stop_ratchets():
    bars = flat_bars(syms=("A",))
    low = bars.low.copy()
    low[10, 0] = 9.5  # touches a stop at 9.6
    bars = bars.with_fields(low=low)
    T, N = bars.shape
    out = output(T, N)
    out.score[2, 0] = 1.0
    out.entries[2, 0] = True
    out.stop[:, 0] = 9.0 + 0.06 * np.arange(T)  # rises every bar; 9.54 at bar 9
    s = BucketConfig(capital_share=1.0, max_positions=1, sizing="equal")
    fixed = plan_positions(Scripted(out), None, bars, out, s, LOOSE, OverridesConfig())
    assert np.all(fixed.stop[2:, 0] == out.stop[2, 0])  # fixed at entry, never touched
    assert fixed.weights[-1, 0] == 1.0
    trailing = plan_positions(
        Scripted(out, PositionRules(stop_kind="atr_trailing", atr_multiple=3.0)),
        None,
        bars,
        out,
        s,
        LOOSE,
        OverridesConfig(),
    )
    assert trailing.exit_reasons.get((10, 0)) == "stop"
    assert trailing.stop[9, 0] == pytest.approx(out.stop[9, 0])
    assert np.all(trailing.weights[10:, 0] == 0)


def test_time_stop_and_user_block():
    bars = flat_bars()
    T, N = bars.shape
    out = output(T, N)
    out.score[1] = [1.0, 2.0, 3.0]
    out.entries[1] = True
    s = BucketConfig(capital_share=0.9, max_positions=3, sizing="equal")
    plan = plan_positions(
        Scripted(out, PositionRules(time_stop_bars=5)),
        None,
        bars,
        out,
        s,
        LOOSE,
        OverridesConfig(blocked_symbols=["C"]),
    )
    assert plan.weights[1, 2] == 0 and plan.rejections == {"user_blocked": 1}
    assert np.all(plan.weights[1:6, 0] > 0) and plan.exit_reasons[(6, 0)] == "time"


def test_weekly_rebalance_enters_only_on_first_bar_of_week():
    idx = pd.date_range("2024-01-01", periods=15, freq="B", tz="UTC")  # Mon 1 Jan
    mask = rebalance_mask(idx, "weekly")
    assert list(np.flatnonzero(mask)) == [0, 5, 10]
    monthly = rebalance_mask(pd.date_range("2024-01-29", periods=6, freq="D", tz="UTC"), "monthly")
    assert list(np.flatnonzero(monthly)) == [0, 3]
    bars = flat_bars(T=15)
    T, N = bars.shape
    out = output(T, N)
    out.score[2, 0] = 1.0
    out.entries[2, 0] = True
    out.score[3:, 1] = 1.0
    out.entries[3:, 1] = True
    s = BucketConfig(capital_share=1.0, max_positions=2, sizing="equal")
    plan = plan_positions(Scripted(out), None, bars, out, s, LOOSE, OverridesConfig(), "weekly")
    assert np.all(plan.weights[:, 0] == 0)  # its only entry day was a Wednesday
    assert np.flatnonzero(plan.weights[:, 1])[0] == 5


def test_client_order_id_is_deterministic_clean_and_short():
    cid = client_order_id("crypto", dt.date(2024, 3, 5), "BTC/USD", "buy")
    assert cid == "tsys-crypto-20240305-BTC-USD-buy"
    long = client_order_id(
        "a-very-long-bucket-name", dt.date(2024, 3, 5), "SYMBOL.WITH.DOTS", "sell"
    )
    assert len(long) <= 48 and long == client_order_id(
        "a-very-long-bucket-name", dt.date(2024, 3, 5), "SYMBOL.WITH.DOTS", "sell"
    )
    assert all(c.isalnum() or c in "._-" for c in long)


def test_valid_until_next_session_close():
    # Friday 2024-03-08 -> Monday 2024-03-11 16:00 New York = 20:00 UTC (DST started 10 March)
    assert valid_until(dt.date(2024, 3, 8), AssetClass.EQUITY) == dt.datetime(
        2024, 3, 11, 20, 0, tzinfo=dt.UTC
    )
    assert valid_until(dt.date(2024, 3, 8), AssetClass.CRYPTO) == dt.datetime(
        2024, 3, 10, 0, 0, tzinfo=dt.UTC
    )


def _rec(sym, source, qty=10.0, bucket="scripted", stop=None):
    return PositionRecord(
        id=f"{sym}-{source}",
        source=source,
        symbol=sym,
        asset_class="equity",
        side="buy",
        quantity=qty,
        opened_at=dt.datetime(2024, 1, 2, tzinfo=dt.UTC),
        entry_price=9.0,
        bucket=bucket,
        stop=stop,
    )


def test_build_allocations_hold_sell_manual_and_caps():
    bars = flat_bars(T=10, syms=("A", "B", "C", "D"))
    T, N = bars.shape
    out = output(T, N, regime=np.ones(T))
    out.exits[-1, 0] = True  # exit signal for A (held by system) and B (held manually)
    out.exits[-1, 1] = True
    out.score[-1] = [np.nan, np.nan, 2.0, 1.0]
    out.entries[-1] = [False, False, True, True]
    out.stop[-1] = [np.nan, np.nan, 9.0, 9.5]
    out.extras["limit"] = np.full((T, N), np.nan)
    out.extras["limit"][-1, 2] = 9.8
    src = InMemorySource(bars, sectors={"A": "Tech", "B": "Tech", "C": "Tech", "D": "Energy"})
    ctx = memory_context(src, bars.index[-1].date())
    holdings = [_rec("A", "system"), _rec("B", "manual")]
    s = BucketConfig(capital_share=0.5, max_positions=3, sizing="equal")
    risk = RiskConfig(
        sector_cap=0.03, max_pairwise_correlation=1.0, max_adv_share=1.0, max_position_weight=1.0
    )
    res = build_allocations(
        Scripted(out, PositionRules(limit_entry=True)),
        ctx,
        bars,
        out,
        s,
        risk,
        OverridesConfig(),
        equity=10_000.0,
        holdings=holdings,
    )
    by = {(p.symbol, p.action): p for p in res.plans}
    assert by[("A", Action.SELL)].allocation.quantity == 10.0
    manual = by[("B", Action.HOLD)]
    assert any("consider selling" in r for r in manual.allocation.signal.rationale)
    assert ("B", Action.SELL) not in by
    # Tech already holds 2 x 10 x $10 = $200 of a $300 cap (3%): C gets $100 -> 10 shares
    c = by[("C", Action.BUY)]
    assert c.allocation.quantity == 10.0 and c.allocation.constraints[-1].name == "sector_cap"
    assert c.entry is EntryMethod.LIMIT and c.limit_price == 9.8
    assert c.stop.kind is StopKind.FIXED and c.stop.price == 9.0
    assert c.client_order_id == f"tsys-scripted-{bars.index[-1]:%Y%m%d}-C-buy"
    # A (system) and B (manual, tagged with this bucket) use 2 of the 3 slots: only C is bought
    assert [p.symbol for p in res.plans if p.action is Action.BUY] == ["C"]
    # D had an entry but no slot: it is on the watch list, with no money attached
    d = by[("D", Action.WATCH)]
    assert d.allocation.quantity == 0
    assert d.allocation.signal.rationale[0] == "all 3 slots taken"


def test_build_allocations_regime_off_buys_nothing_and_watches():
    bars = flat_bars(T=5, syms=("A", "B", "C", "D", "E"))
    T, N = bars.shape
    out = output(T, N, regime=np.zeros(T))
    out.score[-1] = [1.0, 5.0, np.nan, 3.0, 2.0]
    out.entries[-1, 0] = True
    ctx = BucketContext(as_of=bars.index[-1].date(), data=None)
    res = build_allocations(
        Scripted(out), ctx, bars, out, BucketConfig(), LOOSE, OverridesConfig(), equity=10_000.0
    )
    assert any("risk-off" in n for n in res.notes)
    assert [p.action for p in res.plans] == [Action.WATCH] * 3
    assert [p.symbol for p in res.plans] == ["B", "D", "E"]  # best three scores, no NaN
    assert all(p.allocation.quantity == 0 for p in res.plans)
    assert res.plans[0].allocation.signal.rationale[0] == "risk-off: not buying"


def test_watch_list_says_why_each_symbol_was_not_bought():
    bars = flat_bars(T=5, syms=("A", "B", "C", "D"))
    T, N = bars.shape
    out = output(T, N, regime=np.ones(T))
    out.score[-1] = [4.0, 3.0, 2.0, 1.0]
    out.entries[-1] = [True, False, True, False]  # B and D score but have no entry trigger
    out.blocked = np.zeros((T, N), bool)
    out.blocked[-1, 3] = True  # D is blocked: it is listed to avoid, not watched
    ctx = BucketContext(as_of=bars.index[-1].date(), data=None)
    s = BucketConfig(capital_share=1.0, max_positions=1, sizing="equal")
    res = build_allocations(
        Scripted(out), ctx, bars, out, s, LOOSE, OverridesConfig(), equity=10_000.0
    )
    why = {p.symbol: p.allocation.signal.rationale for p in res.plans}
    assert [p.action for p in res.plans] == [Action.BUY, Action.WATCH, Action.WATCH]
    assert why["A"] == ("entry signal (score 4.00)", "scripted A")
    assert why["B"] == ("no entry signal today", "scripted B")
    assert why["C"] == ("its one slot is taken", "scripted C")
    assert "D" not in why

    broke = BucketConfig(capital_share=0.0, max_positions=1, sizing="equal")
    res = build_allocations(
        Scripted(out), ctx, bars, out, broke, LOOSE, OverridesConfig(), equity=10_000.0
    )
    assert [p.symbol for p in res.plans] == ["A", "B", "C"]
    assert {p.allocation.signal.rationale[0] for p in res.plans} == {"bucket has no capital"}


class Tagged(Scripted):
    """Like Scripted, but explain() names the entry and exit conditions the way buckets do."""

    def explain(self, ctx, bars, output, symbol, t):
        j = bars.column(symbol)
        tags = [f"descriptive {symbol}"]
        if output.entries[t, j]:
            tags.append(f"entry: breakout {symbol}")
        if output.exits[t, j]:
            tags.append(f"exit: trend break {symbol}")
        return tags


def test_trust_reason_matches_action():
    """SELL leads with its exit reason, BUY with its entry reason, WATCH with its binding
    constraint, HOLD with why it is held (issue 13.3)."""
    bars = flat_bars(T=10, syms=("A", "B", "C", "D", "E"))
    T, N = bars.shape
    out = output(T, N, regime=np.ones(T))
    out.exits[-1, 0] = True  # A: held, its exit fires
    out.score[-1] = [np.nan, 0.5, 3.0, 2.0, 1.0]
    out.entries[-1] = [False, False, True, True, True]
    holdings = [_rec("A", "system"), _rec("B", "paper"), _rec("E", "manual", bucket="other")]
    ctx = BucketContext(as_of=bars.index[-1].date(), data=None)
    s = BucketConfig(capital_share=1.0, max_positions=3, sizing="equal")
    res = build_allocations(
        Tagged(out), ctx, bars, out, s, LOOSE, OverridesConfig(), equity=10_000.0,
        holdings=holdings,
    )  # fmt: skip
    first = {(p.symbol, p.action): p.allocation.signal.rationale for p in res.plans}
    assert first[("A", Action.SELL)] == ("exit: trend break A", "descriptive A")
    assert first[("B", Action.HOLD)][0] == "hold: no exit condition today"
    assert first[("C", Action.BUY)][0] == "entry: breakout C"
    assert first[("D", Action.WATCH)][0] == "all 3 slots taken"
    # The fallback when a bucket's explain names no exit: still the exit, never a trend tag.
    sell = build_allocations(
        Scripted(out), ctx, bars, out, s, LOOSE, OverridesConfig(), equity=10_000.0,
        holdings=holdings,
    )  # fmt: skip
    a = next(p for p in sell.plans if p.symbol == "A")
    assert a.action is Action.SELL and a.allocation.signal.rationale[0] == "exit signal"
    # A manual position whose exit fires is held, leading with the advice to consider selling.
    out.exits[-1, 4] = True
    out.entries[-1, 4] = False
    manual = [_rec("E", "manual")]
    res = build_allocations(
        Tagged(out), ctx, bars, out, s, LOOSE, OverridesConfig(), equity=10_000.0,
        holdings=manual,
    )  # fmt: skip
    e = next(p for p in res.plans if p.symbol == "E")
    assert e.action is Action.HOLD
    assert e.allocation.signal.rationale[0] == (
        "exit: trend break E: consider selling (manual position)"
    )


def test_trust_never_buy_what_exits():
    """A symbol whose exit condition holds at a close is never bought at that close, in the
    daily plan and in the backtest plan alike (issue 13.3: NERE bought while exiting)."""
    bars = flat_bars(T=12, syms=("A", "B"))
    T, N = bars.shape
    out = output(T, N, regime=np.ones(T))
    out.score[:] = [[2.0, 1.0]] * T
    out.entries[:] = True
    out.exits[5:, 0] = True  # A keeps its entry flag but is exiting from bar 5 on
    s = BucketConfig(capital_share=1.0, max_positions=2, sizing="equal")
    plan = plan_positions(Tagged(out), None, bars, out, s, LOOSE, OverridesConfig())
    assert np.all(plan.weights[:5, 0] > 0)
    assert plan.exit_reasons[(5, 0)] == "signal"
    assert np.all(plan.weights[5:, 0] == 0)  # never re-entered while the exit holds
    assert np.all(plan.weights[:, 1] > 0)
    assert plan.rejections.get("exit_signal", 0) == T - 5
    # The daily plan at bar 7 (A not held): A becomes a WATCH saying why, B is bought.
    ctx = BucketContext(as_of=bars.index[7].date(), data=None)
    res = build_allocations(
        Tagged(out), ctx, bars, out, s, LOOSE, OverridesConfig(), equity=10_000.0, t=7
    )
    acts = {p.symbol: p for p in res.plans}
    assert acts["B"].action is Action.BUY
    assert acts["A"].action is Action.WATCH and acts["A"].allocation.quantity == 0
    assert acts["A"].allocation.signal.rationale[0] == (
        "not bought: its exit holds (trend break A)"
    )
    assert acts["A"].allocation.constraints[0].name == "exit_signal"
    # A position stopped out at a close is not bought back at that same close either.
    low = bars.low.copy()
    low[3, 1] = 5.0
    out.stop[:, 1] = 9.0
    stopped = plan_positions(
        Tagged(out), None, bars.with_fields(low=low), out, s, LOOSE, OverridesConfig()
    )
    assert stopped.exit_reasons[(3, 1)] == "stop"
    assert stopped.weights[3, 1] == 0 and stopped.weights[4, 1] > 0


@st.composite
def scripted_panels(draw):
    T, N = draw(st.integers(2, 14)), draw(st.integers(1, 4))
    flags = st.lists(st.booleans(), min_size=T * N, max_size=T * N)
    entries = np.array(draw(flags)).reshape(T, N)
    exits = np.array(draw(flags)).reshape(T, N)
    score = np.array(draw(st.lists(st.floats(-3, 3), min_size=T * N, max_size=T * N))).reshape(T, N)
    touched = np.array(draw(flags)).reshape(T, N)
    return T, N, entries, exits, score, touched


@settings(max_examples=60, deadline=None)
@given(panels=scripted_panels(), max_pos=st.integers(1, 4))
def test_trust_never_buy_what_exits_property(panels, max_pos):
    """Over any history: no position is entered at a close where its exit mask is set or
    where it was just closed (stop, signal, time)."""
    T, N, entries, exits, score, touched = panels
    syms = tuple("ABCD"[:N])
    bars = flat_bars(T=T, syms=syms)
    low = np.where(touched, 8.0, bars.low)  # a stop at 9 is touched on these bars
    bars = bars.with_fields(low=low)
    out = output(T, N, regime=np.ones(T))
    out.score[:] = score
    out.entries[:] = entries
    out.exits[:] = exits
    out.stop[:] = 9.0
    s = BucketConfig(capital_share=1.0, max_positions=max_pos, sizing="equal")
    plan = plan_positions(
        Scripted(out, PositionRules(time_stop_bars=3)), None, bars, out, s, LOOSE,
        OverridesConfig(),
    )  # fmt: skip
    for t in range(T):
        for j in range(N):
            if plan.entry_rows[t, j] == t:
                assert not exits[t, j]
                assert (t, j) not in plan.exit_reasons
