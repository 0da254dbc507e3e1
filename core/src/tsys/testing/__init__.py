"""Test helpers and contract suites that plugins run against themselves.

For buckets:

- :func:`lookahead_audit` perturbs (random noise) and truncates every bar after t and asserts
  that every :class:`~tsys.buckets.BucketOutput` array at rows <= t is unchanged;
- :func:`bucket_contract_suite` runs every check a bucket plugin must pass (metadata, search
  space, shapes and dtypes, NaN safety, determinism, explain, the audit). Call it from a
  plugin's own tests::

      from tsys.testing import bucket_contract_suite, demo_context

      def test_contract():
          bucket_contract_suite(MyBucket(), *demo_context(MyBucket()))

- :class:`InMemorySource` and :func:`synthetic_bars` build small markets without files;
- :func:`registered_plugin` registers a test plugin for the length of a ``with`` block.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import pandas as pd
import pluggy

from tsys.buckets import Bucket, BucketContext, BucketOutput, search_space
from tsys.contracts import AssetClass
from tsys.data import Bars, BarsRequest, DataHub, DataSource, Fundamentals, SourceContext
from tsys.testing.checks import CheckResult, run_checks


class LookaheadError(AssertionError):
    """A bucket's output at row t changed when only data after t changed."""


# ----------------------------------------------------------------------------- synthetic data
def synthetic_bars(
    symbols: Sequence[str],
    *,
    asset_class: AssetClass | str = AssetClass.EQUITY,
    n_bars: int = 400,
    seed: int = 0,
    start: str = "2020-01-01",
    drift: float = 0.0004,
    vol: float = 0.015,
    gaps: bool = False,
) -> Bars:
    """A random-walk OHLCV panel (business days for equities, every day for crypto).

    With ``gaps`` a few symbols start late and have missing bars, for NaN-safety checks.
    """
    ac = AssetClass(asset_class)
    rng = np.random.default_rng(seed)
    freq = "D" if ac is AssetClass.CRYPTO else "B"
    idx = pd.date_range(start, periods=n_bars, freq=freq, tz="UTC")
    n = len(symbols)
    mus = drift + rng.normal(0, 0.0006, n)
    sig = vol * rng.uniform(0.6, 1.8, n)
    rets = rng.normal(mus, sig, (n_bars, n))
    close = 50.0 * rng.uniform(0.5, 4.0, n) * np.exp(np.cumsum(rets, axis=0))
    spread = np.abs(rng.normal(0, sig, (n_bars, n)))
    open_ = close * np.exp(rng.normal(0, sig / 3, (n_bars, n)))
    high = np.maximum(open_, close) * (1 + spread)
    low = np.minimum(open_, close) * (1 - spread)
    volume = rng.uniform(2e5, 5e6, (n_bars, n)) * rng.uniform(0.2, 3.0, n)
    if gaps and n > 1:
        late = max(1, n // 5)
        for j in range(late):
            k = int(rng.integers(n_bars // 10, n_bars // 3))
            for a in (open_, high, low, close, volume):
                a[:k, j] = np.nan
        holes = rng.random((n_bars, n)) < 0.01
        for a in (open_, high, low, close, volume):
            a[holes] = np.nan
    return Bars(
        idx,
        tuple(symbols),
        open_,
        high,
        low,
        close,
        volume,
        [ac] * n,
        source=f"synthetic seed {seed}",
        synthetic=True,
    )


class InMemorySource(DataSource):
    """A data source over an in-memory panel and optional extras (for tests)."""

    name = "memory"
    synthetic = True
    provides = frozenset({"bars", "universe", "market_caps", "fundamentals", "news", "earnings"})

    def __init__(
        self,
        bars: Bars,
        *,
        members: Mapping[dt.date, Iterable[str]] | None = None,
        market_caps: pd.DataFrame | None = None,
        sectors: Mapping[str, str] | None = None,
        news: pd.DataFrame | None = None,
        earnings: pd.DataFrame | None = None,
        excluded: set[str] | None = None,
        news_coverage: Mapping[str, tuple[dt.date, dt.date]] | None = None,
    ) -> None:
        self._bars = bars
        self._news_coverage = None if news_coverage is None else dict(news_coverage)
        # The panel's own units are this source's declaration (one unit per asset class).
        self.volume_units = {
            **DataSource.volume_units,
            **dict(zip(bars.asset_classes, bars.volume_units, strict=True)),
        }
        self._members = sorted((d, sorted(m)) for d, m in (members or {}).items())
        self._caps = market_caps
        self._sectors = dict(sectors or {})
        self._news = news
        self._earnings = earnings
        self._excluded = excluded

    def symbols(self, asset_class: AssetClass | None = None) -> list[str]:
        return [
            s
            for s, a in zip(self._bars.symbols, self._bars.asset_classes, strict=True)
            if asset_class is None or a is AssetClass(asset_class)
        ]

    def read_bars(self, request: BarsRequest) -> Bars:
        ac = request.asset_class
        # An empty list of symbols asks for all of them here, as it always has.
        syms = [s for s in (request.symbols or self.symbols(ac)) if s in self._bars.symbols]
        if ac is not None:
            syms = [s for s in syms if self._bars.asset_class_of(s) is ac]
        return self._bars.select(syms).between(request.start, request.end)

    def universe(self, name: str, as_of: dt.date) -> list[str] | None:
        if not self._members:
            return None
        known = [m for d, m in self._members if d <= as_of]
        return list(known[-1]) if known else list(self._members[0][1])

    def market_caps(self, start, end) -> pd.DataFrame | None:
        if self._caps is None:
            return None
        hi = pd.Timestamp(end, tz="UTC")
        return self._caps[self._caps.index <= hi]

    def excluded_coins(self) -> set[str] | None:
        return self._excluded

    def fundamentals(self, symbols) -> dict[str, Fundamentals] | None:
        if not self._sectors:
            return None
        return {s: Fundamentals(symbol=s, sector=self._sectors.get(s)) for s in symbols}

    def news(self, symbols, start, end) -> pd.DataFrame | None:
        if self._news is None:
            return None
        d = pd.to_datetime(self._news["date"], utc=True)
        lo, hi = pd.Timestamp(start, tz="UTC"), pd.Timestamp(end, tz="UTC")
        keep = self._news["symbol"].isin(list(symbols)) & (d >= lo) & (d <= hi)
        return self._news[keep.to_numpy()]

    def news_coverage(self, symbols) -> dict[str, tuple[dt.date, dt.date]] | None:
        if self._news_coverage is None:
            return None
        return {s: self._news_coverage[s] for s in symbols if s in self._news_coverage}

    def earnings(self, symbols, start, end) -> pd.DataFrame | None:
        if self._earnings is None:
            return None
        d = pd.to_datetime(self._earnings["date"])
        keep = (
            self._earnings["symbol"].isin(list(symbols))
            & (d >= pd.Timestamp(start))
            & (d <= pd.Timestamp(end))
        )
        return self._earnings[keep.to_numpy()]


def memory_context(
    source: DataSource, as_of: dt.date, settings: Any = None, *, params: Any = None
) -> BucketContext:
    """A :class:`BucketContext` over one source (warnings collected on the context).

    ``settings`` defaults to a bucket section with default values; pass ``params`` (the
    bucket's ``Params``) when the code under test reads ``ctx.params`` (``universe`` does).
    """
    sctx = SourceContext(cache_dir=Path(".tsys-cache"))
    hub = DataHub(source, [], sctx)
    return BucketContext(as_of=as_of, data=hub, settings=settings, params=params)


# ----------------------------------------------------------------------------- audit
def _compare(name: str, full: np.ndarray, part: np.ndarray, t: int, how: str, atol: float) -> None:
    a, b = np.asarray(full)[: t + 1], np.asarray(part)[: t + 1]
    if a.shape != b.shape:
        raise LookaheadError(f"{name}: shape {b.shape} after {how} at row {t}, expected {a.shape}")
    if a.dtype == bool or b.dtype == bool:
        same = a == b
    else:
        a64, b64 = a.astype(np.float64), b.astype(np.float64)
        both_nan = np.isnan(a64) & np.isnan(b64)
        with np.errstate(invalid="ignore"):
            same = both_nan | (np.abs(a64 - b64) <= atol) | (a64 == b64)
    if not np.all(same):
        bad = np.argwhere(~np.asarray(same))
        first = tuple(int(x) for x in bad[0])
        raise LookaheadError(
            f"look-ahead in {name}: after {how} every bar after row {t}, row {first[0]} "
            f"changed ({a[first]!r} -> {b[first]!r}); {len(bad)} value(s) differ"
        )


def _perturbed(bars: Bars, t: int, rng: np.random.Generator) -> Bars:
    T, N = bars.shape
    k = T - (t + 1)
    if k <= 0:
        return bars
    f = np.exp(rng.normal(0.0, 0.05, (k, N)))
    g = np.exp(rng.normal(0.0, 0.3, (k, N)))
    fields = {}
    for name in ("open", "high", "low", "close"):
        a = getattr(bars, name).copy()
        a[t + 1 :] *= f
        fields[name] = a
    fields["high"][t + 1 :] *= 1.01
    fields["low"][t + 1 :] *= 0.99
    v = bars.volume.copy()
    v[t + 1 :] *= g
    fields["volume"] = v
    return bars.with_fields(**fields)


def lookahead_audit(
    bucket: Bucket,
    ctx: BucketContext,
    bars: Bars,
    params: Any = None,
    cut_points: Sequence[int] | None = None,
    *,
    seed: int = 0,
    atol: float = 0.0,
) -> list[int]:
    """Assert that nothing at row t of the bucket's output depends on bars after t.

    For each cut point t the bucket recomputes on (a) the panel truncated after t and (b) the
    panel with random noise multiplied into every bar after t; every output array (score,
    masks, stops, targets, regime, blocked, extras) must be identical at rows <= t (NaN equals
    NaN), and so must the block reasons. Raises :class:`LookaheadError` naming the array and
    the first row that changed. Returns the cut points checked.
    """
    params = params if params is not None else bucket.default_params()
    T = bars.shape[0]
    if cut_points is None:
        cut_points = sorted({T // 2, (3 * T) // 4, T - 2})
    rng = np.random.default_rng(seed)
    full = bucket.compute(ctx, bars, params)
    ref = full.arrays()
    for t in cut_points:
        if not 0 <= t < T - 1:
            raise ValueError(f"cut point {t} must lie in [0, {T - 2}]")
        for how, variant in (
            ("truncating", bars.head(t + 1)),
            ("perturbing", _perturbed(bars, t, rng)),
        ):
            out = bucket.compute(ctx, variant, params)
            got = out.arrays()
            if set(got) != set(ref):
                raise LookaheadError(
                    f"output arrays changed after {how} at row {t}: {sorted(set(got) ^ set(ref))}"
                )
            for name, arr in ref.items():
                _compare(name, arr, got[name], t, how, atol)
            early = {k: v for k, v in full.block_reasons.items() if k[0] <= t}
            mine = {k: v for k, v in out.block_reasons.items() if k[0] <= t}
            if early != mine:
                raise LookaheadError(f"block reasons at rows <= {t} changed after {how}")
    return list(cut_points)


# ----------------------------------------------------------------------------- contract suite
def _check_metadata(bucket: Bucket, ctx: BucketContext, bars: Bars) -> str:
    assert isinstance(bucket.name, str) and bucket.name.strip(), "name must be a non-empty str"
    assert isinstance(bucket.asset_class, AssetClass), "asset_class must be an AssetClass"
    assert isinstance(bucket.version, str) and bucket.version, "version must be a non-empty str"
    assert attrs.has(bucket.Params), "Params must be an attrs class"
    p = bucket.default_params()
    assert isinstance(p, bucket.Params), "default_params() must return Params"
    assert bucket.default_sizing in ("equal", "inverse_vol", "risk"), "unknown default_sizing"
    bucket.position_rules(p)
    return f"{bucket.name} {bucket.version}"


def _check_search_space(bucket: Bucket, ctx: BucketContext, bars: Bars) -> str:
    space = search_space(bucket.Params)
    defaults = attrs.asdict(bucket.default_params())
    for k, spec in space.items():
        kind = spec["kind"]
        assert kind in ("int", "float", "categorical"), f"{k}: unknown kind {kind!r}"
        if kind == "categorical":
            assert defaults[k] in spec["choices"], f"{k}: default not among choices"
            values = list(spec["choices"])
        else:
            assert spec["low"] <= defaults[k] <= spec["high"], f"{k}: default outside range"
            values = [spec["low"], spec["high"]]
            if kind == "int":
                assert isinstance(defaults[k], int), f"{k}: int range on a non-int default"
        for val in values:
            bucket.Params(**{**defaults, k: val})  # the validators accept the range ends
    return f"{len(space)} searchable parameters"


def range_ends(params_cls: type) -> list[tuple[str, Any]]:
    """(name, value) for both ends of every searchable range and every categorical choice.

    The values an optimiser may try first: a bucket must compute at each of them.
    """
    out: list[tuple[str, Any]] = []
    for k, spec in search_space(params_cls).items():
        if spec["kind"] == "categorical":
            out.extend((k, v) for v in spec["choices"])
        else:
            out.extend([(k, spec["low"]), (k, spec["high"])])
    return out


def _check_shapes(bucket: Bucket, ctx: BucketContext, bars: Bars) -> str:
    out = bucket.compute(ctx, bars, bucket.default_params())
    _check_output(out, bars)
    return f"{int(out.entries.sum())} entries over {bars.shape[0]} bars x {bars.shape[1]} symbols"


def _check_range_ends(bucket: Bucket, ctx: BucketContext, bars: Bars) -> str:
    defaults = attrs.asdict(bucket.default_params())
    ends = range_ends(bucket.Params)
    for k, val in ends:
        try:
            out = bucket.compute(ctx, bars, bucket.Params(**{**defaults, k: val}))
            _check_output(out, bars)
        except Exception as exc:
            raise AssertionError(f"{k}={val!r}: {type(exc).__name__}: {exc}") from exc
    return f"computed at {len(ends)} range ends"


def _check_output(out: BucketOutput, bars: Bars) -> None:
    assert isinstance(out, BucketOutput), "compute must return BucketOutput"
    T, N = bars.shape
    for name in ("score", "stop", "target"):
        a = getattr(out, name)
        assert a.shape == (T, N), f"{name} shape {a.shape} != {(T, N)}"
        assert a.dtype == np.float64, f"{name} dtype {a.dtype} != float64"
    for name in ("entries", "exits"):
        a = getattr(out, name)
        assert a.shape == (T, N) and a.dtype == bool, f"{name} must be a bool {(T, N)} mask"
    if out.regime is not None:
        assert out.regime.shape == (T,), "regime must have one value per bar"
        r = out.regime[np.isfinite(out.regime)]
        assert np.all((r >= 0) & (r <= 1)), "regime must lie in 0..1"
    if out.blocked is not None:
        assert out.blocked.shape == (T, N) and out.blocked.dtype == bool, "blocked must be bool"
    for k, a in out.extras.items():
        assert a.shape[0] == T, f"extras[{k!r}] must have one row per bar"
    assert not np.any(out.entries & ~np.isfinite(out.score)), "an entry needs a finite score"
    assert not np.any(out.entries & ~np.isfinite(bars.close)), "an entry needs a bar"
    if out.blocked is not None:
        assert not np.any(out.entries & out.blocked), "a blocked symbol must not be an entry"
    with np.errstate(invalid="ignore"):
        above = out.stop > bars.close
    assert not np.any(above & np.isfinite(out.stop)), "a long stop must not lie above the close"


def _check_nan_safe(bucket: Bucket, ctx: BucketContext, bars: Bars) -> str:
    T, N = bars.shape
    fields = {f: getattr(bars, f).copy() for f in ("open", "high", "low", "close", "volume")}
    rng = np.random.default_rng(1)
    holes = rng.random((T, N)) < 0.02
    if N:
        holes[: T // 3, 0] = True  # one symbol listed late
    for a in fields.values():
        a[holes] = np.nan
    gappy = bars.with_fields(**fields)
    out = bucket.compute(ctx, gappy, bucket.default_params())
    assert not np.any(out.entries & holes), "entries on bars that do not exist"
    assert np.all(np.isfinite(out.score) | np.isnan(out.score)), "score must not be inf"
    return f"{int(holes.sum())} missing bars"


def _check_deterministic(bucket: Bucket, ctx: BucketContext, bars: Bars) -> str:
    p = bucket.default_params()
    a, b = bucket.compute(ctx, bars, p).arrays(), bucket.compute(ctx, bars, p).arrays()
    for k in a:
        assert np.array_equal(a[k], b[k], equal_nan=a[k].dtype != bool), f"{k} differs between runs"
    return "two runs identical"


def _check_explain(bucket: Bucket, ctx: BucketContext, bars: Bars) -> str:
    out = bucket.compute(ctx, bars, bucket.default_params())
    picks = np.argwhere(out.entries)
    if len(picks) == 0:
        picks = np.argwhere(np.isfinite(bars.close))[-3:]
    n = 0
    for t, j in picks[-5:]:
        tags = bucket.explain(ctx, bars, out, bars.symbols[j], int(t))
        assert isinstance(tags, list) and all(isinstance(x, str) and x for x in tags), (
            "explain must return a list of non-empty strings"
        )
        n += len(tags)
    return f"{n} tags"


def _check_universe(bucket: Bucket, ctx: BucketContext, bars: Bars) -> str:
    u = bucket.universe(ctx)
    assert isinstance(u, list) and all(isinstance(s, str) and s for s in u), "universe: list[str]"
    return f"{len(u)} symbols"


def _check_audit(bucket: Bucket, ctx: BucketContext, bars: Bars) -> str:
    cuts = lookahead_audit(bucket, ctx, bars)
    return f"cut points {cuts}"


CHECKS: dict[str, Callable[[Bucket, BucketContext, Bars], str]] = {
    "metadata": _check_metadata,
    "search_space": _check_search_space,
    "universe": _check_universe,
    "shapes_and_dtypes": _check_shapes,
    "range_ends": _check_range_ends,
    "nan_safe": _check_nan_safe,
    "deterministic": _check_deterministic,
    "explain": _check_explain,
    "lookahead_audit": _check_audit,
}


def bucket_contract_suite(
    bucket: Bucket, ctx: BucketContext, bars: Bars, *, skip: Iterable[str] = ()
) -> list[CheckResult]:
    """Run every bucket contract check; raise AssertionError listing each failure.

    Returns the results (all ok) so a test can print or count them. A context without
    ``params`` gets the bucket's defaults (``universe`` reads them from the context).
    """
    if ctx.params is None:
        ctx = attrs.evolve(ctx, params=bucket.default_params())
    subject = f"bucket {getattr(bucket, 'name', bucket)!r}"
    return run_checks(CHECKS, (bucket, ctx, bars), subject=subject, skip=skip)


def shared_data_dir() -> Path | None:
    """``<repo>/../shared/data`` when it exists (tests skip with a reason otherwise)."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        cand = parent.parent / "shared" / "data"
        if (parent / "pyproject.toml").is_file() and (parent / "core").is_dir() and cand.is_dir():
            return cand
    return None


def registered_plugin(
    plugin: object, name: str
) -> contextlib.AbstractContextManager[pluggy.PluginManager]:
    """Make ``plugin`` (a module or object with hook implementations) the only extra plugin.

    For the block, the process-wide plugin manager holds the built-ins and ``plugin`` under
    ``name`` (no entry points); afterwards it is rebuilt from scratch. Use it in a fixture::

        @pytest.fixture
        def with_plugin():
            with registered_plugin(my_plugin_module, "mine") as pm:
                yield pm
    """
    from tsys.testing.isolation import plugins_registered

    return plugins_registered((name, plugin), load_entrypoints=False)


def discovered_bucket(name: str, cls: type, *, distribution: str) -> Any:
    """The bucket ``name`` as tsys discovers it afresh from the installed entry points.

    Checks what a plugin's packaging promises: ``distribution`` (``tsys-bucket-mine``) declares
    the ``tsys`` entry point ``bucket-mine`` = ``tsys_bucket_mine``, which registers ``name``
    as an instance of ``cls`` whose ``version`` is the distribution's.
    """
    from importlib.metadata import entry_points, version

    from tsys import plugins

    entry_point = distribution.removeprefix("tsys-")
    eps = {ep.name: ep.value for ep in entry_points(group="tsys")}
    assert eps.get(entry_point) == distribution.replace("-", "_"), eps.get(entry_point)
    plugins.reset_plugin_manager()
    bucket = plugins.buckets().get(name)
    assert isinstance(bucket, cls), type(bucket)
    assert plugins.buckets().owner(name) == entry_point
    assert bucket.version == version(distribution)
    return bucket


def shipped_defaults(bucket: Bucket) -> dict[str, Any]:
    """Check the researched defaults a bucket's package ships, and return their document.

    Asserts what ``params.json`` beside the bucket's module promises: it exists, names this
    bucket at its ``version``, holds exactly the bucket's :meth:`~tsys.buckets.Bucket.default_params`,
    and is what a run resolves to where the user has no parameter file of their own (origin
    "shipped"). The document is returned for the plugin's own checks (its research, its report).
    """
    import json
    import tempfile

    from tsys.config import Config
    from tsys.params_files import shipped_params_path
    from tsys.paramsets import resolve_params

    path = shipped_params_path(bucket)
    assert path is not None and path.name == "params.json", f"{bucket.name}: no params.json ships"
    doc = json.loads(path.read_text())
    assert (doc["bucket"], doc["bucket_version"]) == (bucket.name, bucket.version), path
    assert doc["params"] == attrs.asdict(bucket.default_params()), path
    with tempfile.TemporaryDirectory() as home:
        got = resolve_params(bucket, Config(), data_home=Path(home))
    assert (got.origin, got.values) == ("shipped", doc["params"]), got.origin
    return doc


# The broker and data-source contract suites live beside the bucket one (imported here so that
# a plugin's tests need only ``from tsys.testing import ...``).
from tsys.data.calendars import sessions as _sessions  # noqa: E402
from tsys.testing.broker import (  # noqa: E402
    BrokerCheck,
    broker_contract_suite,
    sample_plan,
    sample_signal,
)
from tsys.testing.source import SourceCheck, data_source_contract_suite  # noqa: E402


def exchange_sessions(start: Any, end: Any, calendar: str = "XNYS") -> list[dt.date]:
    """The exchange's sessions from ``start`` to ``end`` inclusive, as dates."""
    return [d.date() for d in _sessions(start, end, calendar)]


__all__ = [
    "BrokerCheck",
    "CheckResult",
    "InMemorySource",
    "LookaheadError",
    "SourceCheck",
    "broker_contract_suite",
    "bucket_contract_suite",
    "data_source_contract_suite",
    "discovered_bucket",
    "exchange_sessions",
    "lookahead_audit",
    "memory_context",
    "range_ends",
    "registered_plugin",
    "sample_plan",
    "sample_signal",
    "shared_data_dir",
    "shipped_defaults",
    "synthetic_bars",
]
