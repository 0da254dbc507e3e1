"""The daily run's meta-model (tsys.daily.meta): guards, filter and size, the "why" of each pick."""

from __future__ import annotations

import datetime as dt

import attrs
import pytest
from ml_market import CoinBucket, hub_of, market

from tsys.buckets import BucketContext
from tsys.config import BucketConfig, Config
from tsys.contracts import Action
from tsys.daily.meta import daily_ml
from tsys.ml import store
from tsys.ml.apply import score_events
from tsys.ml.model import SIZE_FLOOR, TrainSpec
from tsys.portfolio.construct import SIZE_CONSTRAINT
from tsys.portfolio.step import LastBar, bucket_step
from tsys.research.lab import Lab
from tsys.research.meta import train_current

FILTER = BucketConfig(ml="filter")
SIZE = BucketConfig(ml="size")
#: Sessions of the market after the training window (the days the daily run plans).
AFTER = 40


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    bucket = CoinBucket()
    bars = market(planted=True, n_days=700)
    hub = hub_of(bars, tmp_path_factory.mktemp("d"))
    end = bars.index[-AFTER - 1].date()
    lab = Lab(bucket, hub, Config(), end=end)
    values = attrs.asdict(bucket.default_params())
    model = train_current(lab, values, TrainSpec(n_splits=3, max_iter=30))
    return lab, bucket, model, bars, hub


def _judged(root, model, on=True):
    store.save(model, root, "coin")
    store.set_decision(root, "coin", {"ml_on": on, "reasons": ["ok" if on else "t = 0.4 < 2"]})


def _day(trained, settings, root, as_of):
    """The daily step of the coin bucket on ``as_of`` with the meta-model of ``root``."""
    _lab, bucket, _model, _bars, hub = trained
    params = bucket.default_params()
    ml = daily_ml(bucket, settings, root, as_of, params)
    ctx = BucketContext(as_of=as_of, data=hub, settings=settings, params=params, latest_only=True)
    step = bucket_step(bucket, ctx, Config(), LastBar(equity=100_000.0), adjust_output=ml.adjust)
    return ml, step, ml.annotate(step.decisions)


def _entry_days(trained, n=3):
    """The last ``n`` planning days after the training window with at least one entry."""
    _lab, bucket, _model, bars, _hub = trained
    out = bucket.compute(None, bars, bucket.default_params())
    days = [t for t in range(bars.shape[0] - AFTER, bars.shape[0]) if out.entries[t].any()]
    return [bars.index[t].date() for t in days[-n:]]


def test_ml_off_by_default_and_when_the_model_is_missing(trained, tmp_path):
    lab, bucket, _model, _bars, _hub = trained
    day, params = lab.end, bucket.default_params()
    off = daily_ml(bucket, BucketConfig(), tmp_path, day, params)
    assert off.adjust is None and off.notes == [] and off.why == {}
    got = daily_ml(bucket, FILTER, tmp_path, day, params)
    assert got.adjust is None and "ML filter is OFF today: no ML model" in got.notes[0]


def test_a_model_the_walk_forward_did_not_switch_on_stays_off(trained, tmp_path):
    lab, bucket, model, _bars, _hub = trained
    _judged(tmp_path, model, on=False)
    got = daily_ml(bucket, SIZE, tmp_path, lab.end, bucket.default_params())
    assert (
        got.adjust is None
        and "ML size is OFF: the walk-forward did not switch it on" in (got.notes[0])
    )


def test_filter_drops_low_entries_and_each_pick_says_why(trained, tmp_path):
    from tsys.report.newsletter import _plan_row

    _lab, bucket, model, _bars, _hub = trained
    _judged(tmp_path, model)
    seen_kept = seen_dropped = False
    shown = 0
    for day in _entry_days(trained, 8):
        ml, step, decisions = _day(trained, FILTER, tmp_path, day)
        assert ml.adjust is not None and not any("OFF" in n for n in ml.notes), ml.notes
        t = step.bars.shape[0] - 1
        raw = bucket.compute(None, step.bars, bucket.default_params())
        scored = score_events(model, step.bars, raw, bucket.benchmark, rows=slice(t, t + 1))
        assert set(ml.why) == {step.bars.symbols[j] for j in scored.j}
        for j, p in zip(scored.j.tolist(), scored.p.tolist(), strict=True):
            sym = step.bars.symbols[j]
            assert bool(step.output.entries[t, j]) == (p >= model.threshold)
            assert ml.why[sym].startswith(f"ML meta-probability {p:.2f}")
            assert "moved by" in ml.why[sym] and ";" not in ml.why[sym]
            seen_dropped |= p < model.threshold
            seen_kept |= p >= model.threshold
        for plan in decisions.plans:
            if plan.symbol not in ml.why:
                continue
            why = plan.allocation.signal.rationale
            if plan.action is Action.BUY:
                assert why[1] == ml.why[plan.symbol] and "kept" in why[1]
                assert ml.why[plan.symbol] in _plan_row(plan, 100_000.0)["rationale"]
                shown += 1
            elif plan.action is Action.WATCH and plan.symbol in ml.dropped:
                assert why[0] == ml.why[plan.symbol] and "dropped" in why[0]
        assert any(n.startswith("ML filter: ") for n in ml.notes)
    assert seen_kept and seen_dropped and shown


def test_size_mode_scales_allocations_through_the_portfolio_path(trained, tmp_path):
    _lab, _bucket, model, _bars, _hub = trained
    _judged(tmp_path, model)
    sized_any = False
    for day in _entry_days(trained, 5):
        ml, step, decisions = _day(trained, SIZE, tmp_path, day)
        _off, _step0, plain = _day(trained, BucketConfig(), tmp_path, day)
        f = step.output.extras["size_factor"][-1]
        base = {p.symbol: p.allocation for p in plain.plans if p.action is Action.BUY}
        for plan in decisions.plans:
            if plan.action is not Action.BUY:
                continue
            a = plan.allocation
            j = step.bars.column(plan.symbol)
            assert SIZE_FLOOR <= f[j] <= 1.0
            assert a.dollars <= base[plan.symbol].dollars + 1e-9
            assert a.signal.rationale[1] == ml.why[plan.symbol] and "sized x" in ml.why[plan.symbol]
            if f[j] < 1.0 - 1e-9:
                sized_any = True
                assert any(c.name == SIZE_CONSTRAINT for c in a.constraints)
    assert sized_any


def test_the_data_check_tells_the_training_data_from_other_data(trained):
    lab, _bucket, model, bars, _hub = trained
    sig = model.meta["data_check"]
    assert sig["dates"][-1] == lab.end.isoformat() and len(sig["dates"]) == store.CHECK_SESSIONS + 1
    assert store.data_check(sig, bars) is None
    # a dividend or split adjustment later rescales old prices but keeps their returns
    scaled = bars.with_fields(close=bars.close * 0.97)
    assert store.data_check(sig, scaled) is None
    # one close in the training sessions differs: other data
    t = list(bars.index.date).index(dt.date.fromisoformat(sig["dates"][5]))
    close = bars.close.copy()
    close[t, bars.column(sig["symbols"][0])] *= 1.01
    why = store.data_check(sig, bars.with_fields(close=close))
    assert why is not None and "trained on other data" in why and sig["symbols"][0] in why
    # bars that end before the training window's last session cannot check it
    why = store.data_check(sig, bars.head(t))
    assert why is not None and "cannot be checked" in why
    assert "no data signature" in store.data_check(None, bars)


def test_a_model_trained_on_other_data_is_off_with_the_reason(trained, tmp_path):
    _lab, _bucket, model, _bars, _hub = trained
    sig = dict(model.meta["data_check"])
    sig["returns"] = [[None if x is None else x + 0.01 for x in col] for col in sig["returns"]]
    foreign = attrs.evolve(model)
    foreign.meta = {**model.meta, "data_check": sig}
    _judged(tmp_path, foreign)
    day = _entry_days(trained, 1)[0]
    ml, step, decisions = _day(trained, FILTER, tmp_path, day)
    assert any(
        "ML filter is OFF today: the ML model was trained on other data" in n for n in ml.notes
    )
    assert ml.why == {} and "size_factor" not in step.output.extras
    assert all(
        not any(r.startswith("ML ") for r in p.allocation.signal.rationale) for p in decisions.plans
    )
