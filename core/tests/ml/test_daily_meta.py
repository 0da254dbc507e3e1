"""The daily run's meta-model filter and its guards (tsys.daily.meta)."""

from __future__ import annotations

import attrs
import numpy as np
import pytest
from ml_market import CoinBucket, hub_of, market

from tsys.config import BucketConfig, Config
from tsys.daily.meta import meta_filter
from tsys.ml import store
from tsys.ml.apply import score_events
from tsys.ml.model import TrainSpec
from tsys.research.lab import Lab
from tsys.research.meta import train_current

FILTER = BucketConfig(ml="filter")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    bucket = CoinBucket()
    lab = Lab(
        bucket, hub_of(market(planted=True, n_days=700), tmp_path_factory.mktemp("d")), Config()
    )
    values = attrs.asdict(bucket.default_params())
    model = train_current(lab, values, TrainSpec(n_splits=3, max_iter=30))
    return lab, bucket, model


def test_ml_off_by_default_and_when_the_model_is_missing(trained, tmp_path):
    lab, bucket, _model = trained
    day, params = lab.end, bucket.default_params()
    assert meta_filter(bucket, BucketConfig(), tmp_path, day, params) == (None, [])
    adjust, notes = meta_filter(bucket, FILTER, tmp_path, day, params)
    assert adjust is None and "ML filter is OFF today: no ML model" in notes[0]


def test_a_model_the_walk_forward_did_not_switch_on_stays_off(trained, tmp_path):
    lab, bucket, model = trained
    store.save(model, tmp_path, bucket.name)
    store.set_decision(tmp_path, bucket.name, {"ml_on": False, "reasons": ["t = 0.4 < 2"]})
    adjust, notes = meta_filter(bucket, FILTER, tmp_path, lab.end, bucket.default_params())
    assert adjust is None and "did not switch it on (t = 0.4 < 2)" in notes[0]


def test_a_judged_model_filters_todays_entries_and_explains_each(trained, tmp_path):
    lab, bucket, model = trained
    store.save(model, tmp_path, bucket.name)
    store.set_decision(tmp_path, bucket.name, {"ml_on": True, "reasons": ["ok"]})
    step = lab.step(attrs.asdict(bucket.default_params()))
    bars, out = step.bars, step.output
    # find a day with entries on both sides of the threshold, and run the filter as of then
    scored = score_events(model, bars, out, bucket.benchmark)
    days = [
        t
        for t in np.unique(scored.t)
        if len({p >= model.threshold for p in scored.p[scored.t == t]}) == 2
    ]
    t = int(days[-1])
    head = bars.head(t + 1)
    out_t = bucket.compute(None, head, bucket.default_params())
    adjust, notes = meta_filter(
        bucket, FILTER, tmp_path, head.index[-1].date(), bucket.default_params()
    )
    assert adjust is not None and notes == []
    got = adjust(head, out_t)
    mine = scored.t == t
    for j, p in zip(scored.j[mine], scored.p[mine], strict=True):
        assert bool(got.entries[t, j]) == (p >= model.threshold)
        assert any(f"{bars.symbols[j]} meta-probability {p:.2f}" in n for n in notes)
    assert (got.entries[:t] == out_t.entries[:t]).all()  # only today's entries are touched
    assert all("moved by" in n for n in notes)
