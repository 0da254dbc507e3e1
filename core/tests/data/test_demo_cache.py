"""tsys.data.demo_cache: the demo market's answer for a book, kept exactly, keyed fully."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from tsys.data import demo_cache
from tsys.data.demo import DemoSource


def test_round_trip_is_exact(tmp_path):
    index = pd.date_range("2024-01-02", periods=4, freq="D", tz="UTC")
    returns = pd.DataFrame(
        {"AAA": [np.nan, 0.1, -1 / 3, 2e-17], "BTC-USD": [np.nan, np.nan, 1e300, -0.0]},
        index=index,
    )
    inputs = ({"AAA": 1 / 3, "BTC-USD": 65000.123456789}, {"AAA": "Energy"}, returns)
    path = tmp_path / "x.npz"
    demo_cache.write(path, inputs)
    prices, sectors, back = demo_cache.read(path)
    assert prices == inputs[0] and sectors == inputs[1]
    pd.testing.assert_frame_equal(back, returns, check_exact=True, check_freq=False)
    demo_cache.write(path, ({}, {}, None))
    assert demo_cache.read(path) == ({}, {}, None)


def test_unreadable_file_is_a_miss(tmp_path):
    path = tmp_path / "bad.npz"
    path.write_bytes(b"not a zip")
    assert demo_cache.read(path) is None
    assert demo_cache.read(tmp_path / "absent.npz") is None


def test_key_holds_seed_as_of_day_and_symbols(tmp_path):
    src = DemoSource(7, as_of=dt.date(2024, 3, 14))
    day = dt.date(2024, 3, 14)
    base = demo_cache.cache_file(tmp_path, src, ["AAA", "BBB"], day)
    assert base is not None and base.parent == tmp_path / "demo"
    others = {
        demo_cache.cache_file(tmp_path, src, ["AAA"], day),
        demo_cache.cache_file(tmp_path, src, ["AAA", "BBB"], day - dt.timedelta(days=1)),
        demo_cache.cache_file(tmp_path, DemoSource(8, as_of=day), ["AAA", "BBB"], day),
        demo_cache.cache_file(
            tmp_path, DemoSource(7, as_of=day.replace(day=1)), ["AAA", "BBB"], day
        ),
    }
    assert base not in others and len(others) == 4
    assert demo_cache.cache_file(tmp_path, object(), ["AAA"], day) is None
