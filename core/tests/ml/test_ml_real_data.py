"""Meta-labels and a model on the real crypto data in ../shared/data (skipped when absent)."""

from __future__ import annotations

import datetime as dt

import attrs
import numpy as np
import pytest

from tsys.testing import shared_data_dir

SHARED = shared_data_dir()
pytestmark = [
    pytest.mark.shared_data,
    pytest.mark.skipif(SHARED is None, reason="../shared/data is absent (real-data tests skipped)"),
]


def test_crypto_entries_are_labelled_by_the_fill_rules_and_a_model_trains(tmp_path):
    from tsys import plugins
    from tsys.config import config_from_dict
    from tsys.data.sources import open_hub
    from tsys.ml.dataset import dataset
    from tsys.ml.labels import side_costs
    from tsys.ml.model import TrainSpec
    from tsys.research.lab import Lab

    config = config_from_dict({"data_dir": str(tmp_path / "data")})
    hub = open_hub(config, shared_data=SHARED, extras=False)
    bucket = plugins.buckets().get("crypto")
    values = attrs.asdict(bucket.default_params())
    lab = Lab(
        bucket, hub, config, start=dt.date(2018, 6, 1), end=dt.date(2020, 12, 31), values=values
    )
    step = lab.step(values)
    ds = dataset(step, lab.costs)
    e = ds.events
    assert len(e) > 30 and e.known.mean() > 0.8
    assert (e.entry_bar == e.t + 1).mean() > 0.95  # next open, unless the bar cannot trade
    known = e.take(e.known)
    assert (known.exit_bar >= known.entry_bar).all()
    fee, slip = side_costs(lab.costs)
    o = step.bars.open
    nxt = np.isin(known.reasons(), ["trailing", "target", "signal", "time"])
    k = np.flatnonzero(nxt)
    want = (
        o[known.exit_bar[k], known.j[k]] * (1 - slip) * (1 - fee)
        / (o[known.entry_bar[k], known.j[k]] * (1 + slip) * (1 + fee)) - 1
    )  # fmt: skip
    assert np.allclose(known.ret[k], want)
    assert ((known.ret > 0) == (known.label == 1)).all()
    model = ds.fit(ds.trainable(len(step.bars.index) - 1), TrainSpec(n_splits=3, max_iter=30))
    p = model.predict(ds.X)
    assert ((p > 0) & (p < 1)).all() and np.isfinite(model.scores["oof_auc"])
