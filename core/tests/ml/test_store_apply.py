"""Model files and their guards; filter and size applied to a bucket step."""

from __future__ import annotations

import datetime as dt

import attrs
import numpy as np
import pytest
from ml_market import CoinBucket, hub_of, market

from tsys.config import Config
from tsys.ml import store
from tsys.ml.apply import applied, filtered_output, score_events, sized_output
from tsys.ml.model import SIZE_FLOOR, TrainSpec
from tsys.research.lab import Lab
from tsys.research.meta import train_current


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    bucket = CoinBucket()
    lab = Lab(
        bucket, hub_of(market(planted=True, n_days=700), tmp_path_factory.mktemp("s")), Config()
    )
    values = attrs.asdict(bucket.default_params())
    model = train_current(lab, values, TrainSpec(n_splits=3, max_iter=30))
    return lab, values, model


def test_model_file_round_trips_with_its_provenance(trained, tmp_path):
    lab, _values, model = trained
    path = store.save(model, tmp_path, "coin")
    assert path.exists() and path.with_suffix(".json").exists()
    meta = store.current_meta(tmp_path, "coin")
    assert meta["file"] == path.name
    assert meta["data_fingerprint"] == lab.fingerprint
    assert meta["features"] == model.features and meta["training"]["events"] > 100
    assert meta["training"]["end"] <= lab.index[-1].date().isoformat()
    got = store.load_current(
        tmp_path, "coin", as_of=lab.index[-1].date(), fingerprint=lab.fingerprint,
        params_digest=meta["params_digest"],
    )  # fmt: skip
    assert got.ok and got.reason is None
    X = np.random.default_rng(0).normal(size=(5, len(model.features)))
    assert np.allclose(got.model.predict(X), model.predict(X))


def test_guards_fall_back_with_a_reason(trained, tmp_path):
    lab, _values, model = trained
    end = lab.index[-1].date()
    missing = store.load_current(tmp_path, "coin", as_of=end)
    assert not missing.ok and "no ML model" in missing.reason
    path = store.save(model, tmp_path, "coin")
    stale = store.load_current(tmp_path, "coin", as_of=end + dt.timedelta(days=400))
    assert not stale.ok and "stale" in stale.reason
    other = store.load_current(tmp_path, "coin", as_of=end, fingerprint="0" * 16)
    assert not other.ok and "other data" in other.reason
    params = store.load_current(tmp_path, "coin", as_of=end, params_digest="x")
    assert not params.ok and "parameters" in params.reason
    path.unlink()
    gone = store.load_current(tmp_path, "coin", as_of=end)
    assert not gone.ok and "missing" in gone.reason


def test_filter_drops_only_low_entries_and_size_never_raises_a_weight(trained):
    lab, values, model = trained
    step = lab.step(values)
    scored = score_events(model, step.bars, step.output, step.bucket.benchmark)
    out = filtered_output(step.output, scored, model.threshold)
    low = scored.p < model.threshold
    assert low.any() and (~low).any()
    assert not out.entries[scored.t[low], scored.j[low]].any()
    assert out.entries[scored.t[~low], scored.j[~low]].all()
    assert (out.entries <= step.output.entries).all()  # never a new entry, never a side change
    filtered, _ = applied(step, model, "filter", lab.config, lab.window)
    assert (filtered.plan.weights > 0).sum() < (step.plan.weights > 0).sum()
    sized, _ = applied(step, model, "size", lab.config, lab.window)
    w0, w1 = step.plan.weights, sized.plan.weights
    both = (w0 > 0) & (w1 > 0) & (step.plan.entry_rows == sized.plan.entry_rows)
    ratio = w1[both] / w0[both]
    assert both.sum() > 100
    assert ratio.min() >= SIZE_FLOOR - 1e-12 and ratio.max() <= 1.0 + 1e-12
    assert (ratio < 1 - 1e-9).any()
    assert w1.sum(axis=1).max() <= w0.sum(axis=1).max() + 1e-12
    # the factor goes through the portfolio path and stays with a position while it is held
    half = applied(step, model, "off", lab.config, lab.window)[1]
    out = sized_output(step.output, half, np.full(len(half.p), 0.5))
    from tsys.ml.apply import replan

    halved = replan(step, out, lab.config, lab.window).plan
    held = halved.weights > 0
    assert held.any()
    same = held & (halved.entry_rows == step.plan.entry_rows)
    assert np.allclose(halved.weights[same], step.plan.weights[same] * 0.5)


def test_explain_names_the_features_that_move_a_probability(trained):
    _lab, _values, model = trained
    x = np.nan_to_num(model.medians.copy())
    x[model.features.index("volume_ratio")] = 2.0  # a hot symbol
    top = model.explain(x, top=3)
    assert len(top) == 3 and top[0][0] == "volume_ratio" and top[0][2] > 0
