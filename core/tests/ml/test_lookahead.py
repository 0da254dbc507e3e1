"""The features and the model's prediction at t do not change when bars after t change."""

from __future__ import annotations

import numpy as np
import pytest
from ml_market import CoinBucket, market

from tsys.buckets import BucketOutput
from tsys.ml.features import feature_matrix, feature_panels
from tsys.ml.labels import triple_barrier
from tsys.ml.model import TrainSpec, train
from tsys.sim import default_costs
from tsys.testing import InMemorySource, LookaheadError, lookahead_audit, memory_context


class MetaAudited(CoinBucket):
    """The coin bucket whose output also carries every feature panel and the model's
    probability for each entry (as extras), so the audit compares them row by row."""

    def __init__(self, model=None, leak: bool = False):
        self.model = model
        self.leak = leak

    def compute(self, ctx, bars, params) -> BucketOutput:
        out = super().compute(ctx, bars, params)
        panels = feature_panels(bars, out, self.benchmark)
        if self.leak:  # a deliberately broken feature: tomorrow's return
            nxt = np.vstack(
                [bars.close[1:] / bars.close[:-1] - 1, np.full((1, bars.shape[1]), np.nan)]
            )
            panels = {**panels, "ret_5": nxt}
        extras = {f"f_{k}": np.array(v) for k, v in panels.items()}
        if self.model is not None:
            t, j = np.nonzero(out.entries)
            X, _ = feature_matrix(panels, t, j, self.model.features)
            p = np.full(bars.shape, np.nan)
            p[t, j] = self.model.predict(X)
            extras["meta_p"] = p
        out.extras = extras
        return out


@pytest.fixture(scope="module")
def setup():
    bars = market(planted=True, n_days=700)
    bucket = CoinBucket()
    params = bucket.default_params()
    out = bucket.compute(None, bars, params)
    ev = triple_barrier(bars, out, bucket.position_rules(params), default_costs("equity"))
    ev = ev.take(ev.known)
    X, names = feature_matrix(feature_panels(bars, out, bucket.benchmark), ev.t, ev.j)
    model = train(X, ev.label, ev.ret, ev.t, ev.exit_bar, names, TrainSpec(n_splits=3, max_iter=30))
    return bars, params, model


def test_features_and_prediction_pass_the_lookahead_audit(setup):
    bars, params, model = setup
    ctx = memory_context(InMemorySource(bars), bars.index[-1].date())
    cuts = [250, 420, len(bars.index) - 2]
    assert lookahead_audit(MetaAudited(model), ctx, bars, params, cut_points=cuts) == cuts


def test_the_audit_catches_a_leaking_feature(setup):
    bars, params, _model = setup
    ctx = memory_context(InMemorySource(bars), bars.index[-1].date())
    with pytest.raises(LookaheadError, match="f_ret_5"):
        lookahead_audit(MetaAudited(leak=True), ctx, bars, params, cut_points=[300])
