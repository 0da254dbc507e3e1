"""CachedHub: one load per question, panels narrowed by ``keep``, the benchmark always kept."""

import numpy as np
import pandas as pd

from tsys.data import Bars
from tsys.data.memo import CachedHub, first_n


class _Hub:
    def __init__(self):
        self.calls = []
        self.synthetic = True

    def bars(self, symbols, start, end, *, asset_class=None):
        self.calls.append(("bars", symbols))
        syms = ["D", "C", "B", "A", "SPY"]
        idx = pd.date_range("2024-01-01", periods=3, tz="UTC")
        a = np.ones((3, len(syms)))
        return Bars(idx, syms, a, a, a, a, a, ["equity"] * len(syms))

    def universe(self, name, as_of):
        self.calls.append(("universe", name))
        return ["A", "B"]


def test_answers_are_remembered_and_narrowed():
    hub = _Hub()
    cached = CachedHub(hub, first_n(2), always=["SPY", "MISSING"])
    one = cached.bars(["A", "B"], None, None, asset_class="equity")
    assert cached.bars(["A", "B"], None, None, asset_class="equity") is one
    assert list(one.symbols) == ["B", "A", "SPY"]  # first two alphabetically, plus the benchmark
    assert cached.universe("sp500", None) == cached.universe("sp500", None)
    assert hub.calls == [("bars", ["A", "B"]), ("universe", "sp500")]
    assert cached.synthetic is True  # attributes pass through


def test_without_keep_the_panel_is_the_hubs():
    hub = _Hub()
    assert list(CachedHub(hub).bars(None, None, None).symbols) == ["D", "C", "B", "A", "SPY"]
