"""ParquetCache: incremental head/tail refresh, failure halfway, atomic files."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tsys.data.cache import ParquetCache
from tsys.errors import DataError


class CountingFetcher:
    """Daily rows whose value is the day's ordinal, so any range's content is known."""

    def __init__(self, fail_after: int | None = None):
        self.calls: list[tuple[dt.date, dt.date]] = []
        self.fail_after = fail_after

    def __call__(self, start: dt.date, end: dt.date) -> pd.DataFrame:
        self.calls.append((start, end))
        if self.fail_after is not None and len(self.calls) > self.fail_after:
            raise ConnectionError("server hung up")
        idx = pd.bdate_range(start, end)  # weekdays only: weekends are covered but rowless
        return pd.DataFrame({"close": [float(d.toordinal()) for d in idx]}, index=idx)


def expected(start, end):
    idx = pd.bdate_range(start, end)
    return [float(d.toordinal()) for d in idx]


D = dt.date


def test_first_fetch_then_cached(tmp_path):
    cache, fetch = ParquetCache(tmp_path), CountingFetcher()
    a = cache.get_or_fetch("av/AAPL", D(2024, 1, 1), D(2024, 1, 31), fetch)
    assert fetch.calls == [(D(2024, 1, 1), D(2024, 1, 31))]
    assert a["close"].tolist() == expected("2024-01-01", "2024-01-31")
    b = cache.get_or_fetch("av/AAPL", D(2024, 1, 6), D(2024, 1, 20), fetch)
    assert len(fetch.calls) == 1  # fully covered: no fetch
    assert b["close"].tolist() == expected("2024-01-06", "2024-01-20")


def test_fetches_only_missing_tail_and_head(tmp_path):
    cache, fetch = ParquetCache(tmp_path), CountingFetcher()
    cache.get_or_fetch("k", D(2024, 2, 1), D(2024, 2, 29), fetch)
    cache.get_or_fetch("k", D(2024, 2, 10), D(2024, 3, 15), fetch)
    assert fetch.calls[1] == (D(2024, 3, 1), D(2024, 3, 15))
    got = cache.get_or_fetch("k", D(2024, 1, 1), D(2024, 3, 31), fetch)
    assert fetch.calls[2:] == [(D(2024, 1, 1), D(2024, 1, 31)), (D(2024, 3, 16), D(2024, 3, 31))]
    assert got["close"].tolist() == expected("2024-01-01", "2024-03-31")
    assert got.index.is_monotonic_increasing and got.index.is_unique
    # Weekends were asked for once and are known to be empty: no refetch.
    cache.get_or_fetch("k", D(2024, 1, 6), D(2024, 1, 7), fetch)
    assert len(fetch.calls) == 4


def test_failure_halfway_keeps_what_was_fetched(tmp_path):
    cache = ParquetCache(tmp_path)
    cache.get_or_fetch("k", D(2024, 2, 1), D(2024, 2, 29), CountingFetcher())
    flaky = CountingFetcher(fail_after=1)  # the head succeeds, the tail fails
    with pytest.raises(DataError, match="server hung up"):
        cache.get_or_fetch("k", D(2024, 1, 1), D(2024, 3, 31), flaky)
    assert flaky.calls == [(D(2024, 1, 1), D(2024, 1, 31)), (D(2024, 3, 1), D(2024, 3, 31))]
    df, covered = cache.read("k")
    assert covered == (D(2024, 1, 1), D(2024, 2, 29))
    assert df["close"].tolist() == expected("2024-01-01", "2024-02-29")
    retry = CountingFetcher()
    got = cache.get_or_fetch("k", D(2024, 1, 1), D(2024, 3, 31), retry)
    assert retry.calls == [(D(2024, 3, 1), D(2024, 3, 31))]
    assert got["close"].tolist() == expected("2024-01-01", "2024-03-31")
    assert [p.name for p in tmp_path.iterdir()] == [cache.path("k").name]  # no temp files


def test_refetched_dates_take_the_newer_value(tmp_path):
    cache = ParquetCache(tmp_path)
    cache.write(
        "k",
        pd.DataFrame({"close": [1.0, 2.0]}, index=pd.DatetimeIndex(["2024-01-02", "2024-01-03"])),
        (D(2024, 1, 2), D(2024, 1, 2)),
    )

    def fetch(start, end):
        return pd.DataFrame(
            {"close": [9.0, 4.0]}, index=pd.DatetimeIndex(["2024-01-03", "2024-01-04"])
        )

    got = cache.get_or_fetch("k", D(2024, 1, 2), D(2024, 1, 4), fetch)
    assert got["close"].tolist() == [1.0, 9.0, 4.0]


def test_keys_are_separate_files_and_corruption_is_reported(tmp_path):
    cache = ParquetCache(tmp_path)
    cache.get_or_fetch("a/x y", D(2024, 1, 1), D(2024, 1, 5), CountingFetcher())
    cache.get_or_fetch("b", D(2024, 1, 1), D(2024, 1, 5), CountingFetcher())
    assert cache.path("a/x y") != cache.path("b") and cache.path("a/x y").is_file()
    cache.path("b").write_bytes(b"not parquet")
    with pytest.raises(DataError, match="unreadable"):
        cache.get_or_fetch("b", D(2024, 1, 1), D(2024, 1, 5), CountingFetcher())


def test_bad_fetcher_result(tmp_path):
    cache = ParquetCache(tmp_path)
    with pytest.raises(DataError, match="not a DataFrame"):
        cache.get_or_fetch("k", D(2024, 1, 1), D(2024, 1, 5), lambda s, e: np.zeros(3))
    assert not cache.path("k").exists()


@given(
    requests=st.lists(st.tuples(st.integers(0, 120), st.integers(0, 40)), min_size=1, max_size=6)
)
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_request_sequence_returns_exact_rows_and_never_refetches(tmp_path_factory, requests):
    cache = ParquetCache(tmp_path_factory.mktemp("cache"))
    fetch = CountingFetcher()
    covered: set[dt.date] = set()
    base = D(2024, 1, 1)
    for offset, length in requests:
        start = base + dt.timedelta(days=offset)
        end = start + dt.timedelta(days=length)
        n_before = len(fetch.calls)
        got = cache.get_or_fetch("k", start, end, fetch)
        assert got["close"].tolist() == expected(start, end)
        for lo, hi in fetch.calls[n_before:]:
            days = {lo + dt.timedelta(days=i) for i in range((hi - lo).days + 1)}
            assert not days & covered  # only what was missing is fetched
            covered |= days
        assert {start + dt.timedelta(days=i) for i in range(length + 1)} <= covered


def test_json_cache_round_trip_and_corrupt_entries(tmp_path):
    import datetime as dt

    from tsys.data.cache import JsonCache

    cache = JsonCache(tmp_path)
    at = dt.datetime(2024, 6, 28, 21, 0, tzinfo=dt.UTC)
    assert cache.read("news", "AAPL", "2024-06-28") is None
    cache.write({"feed": [1, 2]}, "news", "AAPL", "2024-06-28", fetched_at=at)
    entry = cache.read("news", "AAPL", "2024-06-28")
    assert entry == {"fetched_at": at, "payload": {"feed": [1, 2]}}
    path = cache.path("news", "AAPL", "2024-06-28")
    path.write_text("{not json")
    assert cache.read("news", "AAPL", "2024-06-28") is None
    assert path.exists()  # an unreadable entry is re-fetched, never deleted here


def test_unsettled_days_are_asked_again(tmp_path):
    import datetime as dt

    import pandas as pd

    from tsys.data.cache import ParquetCache

    calls = []

    def fetch(lo, hi):
        calls.append((lo, hi))
        days = pd.date_range(lo, hi, freq="D")
        return pd.DataFrame({"close": range(len(days))}, index=days, dtype=float)

    cache = ParquetCache(tmp_path)
    d = dt.date
    cache.get_or_fetch("k", d(2024, 1, 1), d(2024, 1, 10), fetch, settled=d(2024, 1, 8))
    assert cache.read("k")[1] == (d(2024, 1, 1), d(2024, 1, 8))
    assert cache.missing("k", d(2024, 1, 1), d(2024, 1, 10)) == [(d(2024, 1, 9), d(2024, 1, 10))]
    out = cache.get_or_fetch("k", d(2024, 1, 1), d(2024, 1, 10), fetch)
    assert calls == [(d(2024, 1, 1), d(2024, 1, 10)), (d(2024, 1, 9), d(2024, 1, 10))]
    assert len(out) == 10 and out.index.is_unique  # the re-asked days replaced, not doubled


def test_json_cache_slugs_and_hashes_every_part_and_moves_old_plain_entries(tmp_path, caplog):
    """Issue 21.2: every key part is slugged and hashed, a plain symbol included; an entry an
    older tsys wrote under the plain name is read once and moved to its new name."""
    import datetime as dt
    import logging

    from tsys.data.cache import JsonCache
    from tsys.symbols import safe_name

    cache = JsonCache(tmp_path)
    at = dt.datetime(2024, 6, 28, 21, 0, tzinfo=dt.UTC)
    parts = ("news", "AAPL", "2024-06-28")
    assert cache.path(*parts) == tmp_path.joinpath(
        safe_name("news"), safe_name("AAPL"), safe_name("2024-06-28") + ".json"
    )
    old = tmp_path / "news" / "AAPL" / "2024-06-28.json"
    old.parent.mkdir(parents=True)
    old.write_text('{"fetched_at": "2024-06-28T21:00:00+00:00", "payload": {"feed": [7]}}')
    with caplog.at_level(logging.INFO, logger="tsys.data.cache"):
        assert cache.read(*parts) == {"fetched_at": at, "payload": {"feed": [7]}}
    assert not old.exists() and cache.path(*parts).is_file()
    assert any("moved to" in r.getMessage() for r in caplog.records)
    assert cache.read(*parts)["payload"] == {"feed": [7]}  # from the new name now
    # a part that is not plain never had a plain entry: nothing is looked for outside
    assert cache.legacy_path("news", "../x", "d") is None
