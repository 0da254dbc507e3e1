import numpy as np
import pandas as pd
import pytest

from tsys.backtest.splits import Splits, holdout_uses, walk_forward
from tsys.errors import ConfigError

IDX = pd.date_range("2020-01-01", periods=100, freq="D", tz="UTC")


def test_fractions_60_20_20_and_masks():
    s = Splits.from_fractions(IDX)
    tr, va = s.mask(IDX, "train"), s.mask(IDX, "validation")
    assert tr.sum() == 60 and va.sum() == 20
    assert not (tr & va).any()


def test_holdout_is_sealed_and_every_use_is_logged(tmp_path):
    s = Splits("2020-02-29", "2020-03-20")
    with pytest.raises(ConfigError, match="sealed"):
        s.mask(IDX, "holdout")
    assert holdout_uses(tmp_path) == []
    m = s.mask(IDX, "holdout", allow_holdout=True, data_dir=tmp_path, what="final", config={"k": 1})
    assert m.sum() == (pd.Timestamp("2020-03-20", tz="UTC") < IDX).sum()
    s.mask(IDX, "holdout", allow_holdout=True, data_dir=tmp_path, what="again", config={"k": 2})
    uses = holdout_uses(tmp_path)
    assert [u["what"] for u in uses] == ["final", "again"]
    assert uses[0]["config_digest"] != uses[1]["config_digest"]
    assert (tmp_path / "holdout_log.jsonl").exists()


def test_walk_forward_anchored_with_embargo():
    folds = list(walk_forward(100, 4, train_bars=20, test_bars=15, embargo_bars=3))
    assert len(folds) == 4
    for k, (tr, te) in enumerate(folds):
        assert te[0] == 40 + 15 * k and len(te) == 15
        assert tr[0] == 0 and tr[-1] == te[0] - 4  # 3-bar embargo gap
    all_test = np.concatenate([te for _, te in folds])
    assert np.array_equal(all_test, np.arange(40, 100))


def test_walk_forward_rolling_window():
    folds = list(walk_forward(IDX, 3, train_bars=30, anchored=False, embargo_bars=2))
    for tr, te in folds:
        assert len(tr) == 30 and tr[-1] + 3 == te[0]
    assert folds[-1][1][-1] == 99


def test_walk_forward_refuses_impossible_layouts():
    with pytest.raises(ConfigError):
        list(walk_forward(10, 5, test_bars=3))
    with pytest.raises(ConfigError):
        list(walk_forward(100, 3, anchored=False))
