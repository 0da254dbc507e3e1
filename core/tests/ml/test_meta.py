"""The walk-forward judgement: a planted feature is found and switched on, noise is not."""

from __future__ import annotations

import math

import attrs
import pytest
from ml_market import CoinBucket, hub_of, market

from tsys.config import Config
from tsys.ml.model import TrainSpec
from tsys.research.lab import Lab
from tsys.research.loop import fold_windows
from tsys.research.meta import MetaSpec, compare

SPEC = MetaSpec(train=TrainSpec(n_splits=4, max_iter=60))


def _compare(tmp_path, planted: bool) -> dict:
    bucket = CoinBucket()
    lab = Lab(bucket, hub_of(market(planted=planted, n_days=1200), tmp_path), Config())
    windows = fold_windows(lab.n_bars, 4, 10)
    values = attrs.asdict(bucket.default_params())
    return compare(lab, windows, [values] * len(windows), SPEC)


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    return _compare(tmp_path_factory.mktemp("planted"), planted=True)


@pytest.fixture(scope="module")
def null(tmp_path_factory):
    return _compare(tmp_path_factory.mktemp("null"), planted=False)


def test_the_model_finds_the_planted_feature_and_improves_out_of_sample(planted):
    base, ml = planted["without_ml"], planted["with_ml"]
    assert ml["sharpe"] > base["sharpe"] + 1.0
    assert ml["entry_precision"] > base["entry_precision"] + 0.05
    assert ml["trades"] < base["trades"]  # it filtered
    # the planted feature (volume against its average) is what the models lean on
    assert all(f["top_features"][0] in ("volume_ratio", "volume_ratio_5") for f in planted["folds"])
    assert planted["kept_vs_dropped"]["t_stat"] >= 2.0
    assert planted["decision"]["ml_on"], planted["decision"]["reasons"]


def test_without_a_planted_feature_the_gate_keeps_ml_off(null):
    assert not null["decision"]["ml_on"]
    assert null["kept_vs_dropped"]["t_stat"] < 2.0
    assert any("kept vs dropped" in r for r in null["decision"]["reasons"])


def test_both_variants_trade_the_same_folds_beside_the_same_anchors(planted):
    n = len(planted["curves"]["dates"])
    assert len(planted["curves"]["with_ml"]) == len(planted["curves"]["without_ml"]) == n
    names = [a["name"] for a in planted["anchors"]]
    assert names[0] == "buy_and_hold" and "sma10" in names
    assert len(planted["with_ml"]["fold_sharpe"]) == len(planted["folds"]) == 4
    for f in planted["folds"]:
        assert f["train_events"] > 100 and f["train_seconds"] > 0
        assert 0 < f["test_kept"] < f["test_events"]
    assert planted["deflated"]["n_trials"] >= 5


def test_pbo_with_and_without_the_model_on_the_same_rows(planted, null):
    for got in (planted, null):
        p = got["pbo"]
        assert p["blocks"] >= 2 and p["periods"] == len(got["curves"]["dates"]) - 1
        wo, w = p["without_ml"], p["with_ml"]
        assert 0.0 <= w["pbo"] <= 1.0 and (wo is None or 0.0 <= wo["pbo"] <= 1.0)
        # the same columns, plus the model's walk-forward at every candidate threshold
        base = wo["columns"] if wo else ["walk_forward"]
        assert w["columns"][: len(base)] == base
        assert {"ml_walk_forward", "ml_keep_80", "ml_keep_35"} <= set(w["columns"])
        assert sum(w["winners"].values()) == math.comb(p["blocks"], p["blocks"] // 2)
    # a model that carries information wins the in-sample choice and holds up out of sample
    assert planted["pbo"]["with_ml"]["pbo"] < 0.5
    won = planted["pbo"]["with_ml"]["winners"]
    assert sum(v for k, v in won.items() if k.startswith("ml_")) > sum(won.values()) / 2
