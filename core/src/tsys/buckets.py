"""The bucket interface: a strategy plugin's contract with the core.

A bucket has a ``name``, an ``asset_class``, a ``version``, an attrs ``Params`` class (defaults
plus an Optuna search space declared with :func:`param`), ``universe(ctx)``, a vectorised
``compute(ctx, bars, params)`` returning a :class:`BucketOutput` aligned to the panel, and
``explain(ctx, bars, output, symbol, t)`` rationale tags. No value at row t of the output may
depend on data after t: :func:`tsys.testing.lookahead_audit` checks it for every bucket.
"""

from __future__ import annotations

import abc
import datetime as dt
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

import attrs
import numpy as np

from tsys.config import BucketConfig
from tsys.contracts import AssetClass, NewsItem
from tsys.params_files import shipped_values

if TYPE_CHECKING:
    from tsys.data import Bars, DataHub

_SEARCH = "tsys_search"


def param(
    default: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    log: bool = False,
    step: float | None = None,
    choices: tuple[Any, ...] | None = None,
    help: str = "",
) -> Any:
    """Declare a bucket parameter with its default and (optionally) its search range.

    ``low``/``high`` make it searchable by ``tsys optimize`` (int when the default is an int,
    float otherwise); ``choices`` makes it categorical. The range is validated on construction.
    """
    search = None
    if choices is not None:
        search = {"kind": "categorical", "choices": tuple(choices)}
    elif low is not None and high is not None:
        kind = "int" if isinstance(default, int) and not isinstance(default, bool) else "float"
        search = {"kind": kind, "low": low, "high": high, "log": log, "step": step}
    validators = []
    if low is not None and choices is None:
        validators.append(attrs.validators.ge(low))
    if high is not None and choices is None:
        validators.append(attrs.validators.le(high))
    if choices is not None:
        validators.append(attrs.validators.in_(choices))
    return attrs.field(
        default=default, validator=validators, metadata={_SEARCH: search, "help": help}
    )


def search_space(params_cls: type) -> dict[str, dict[str, Any]]:
    """The searchable parameters of a ``Params`` class: name -> spec from :func:`param`."""
    return {
        f.name: f.metadata[_SEARCH]
        for f in attrs.fields(params_cls)
        if f.metadata.get(_SEARCH) is not None
    }


def space_for(bucket: Any, params: Any = None) -> dict[str, dict[str, Any]]:
    """``bucket.search_space(params)`` for a parameter set (a ``Params`` or a mapping of
    values; None: the bucket's defaults); a bucket whose ``search_space`` takes no argument
    (written before it could differ by parameter set) is asked without one."""
    import inspect

    fn = bucket.search_space
    try:
        takes = bool(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        takes = True
    if not takes:
        return fn()
    of = getattr(bucket, "params_of", None)
    return fn(of(params) if of is not None else params)


def params_from_dict(params_cls: type, values: dict[str, Any]) -> Any:
    """Build ``Params`` from a mapping, naming unknown keys and invalid values clearly."""
    from tsys.errors import ConfigError

    known = {f.name: f for f in attrs.fields(params_cls)}
    unknown = sorted(set(values) - set(known))
    if unknown:
        import difflib

        hints = [
            f"{u} (did you mean {m[0]}?)" if (m := difflib.get_close_matches(u, known, 1)) else u
            for u in unknown
        ]
        raise ConfigError(
            f"unknown parameter(s) for {params_cls.__qualname__}: {', '.join(hints)}",
            hint="known: " + ", ".join(known),
        )
    coerced = {}
    for k, val in values.items():
        default = known[k].default
        try:
            if isinstance(default, bool):
                coerced[k] = val if isinstance(val, bool) else str(val).lower() in ("1", "true")
            elif isinstance(default, int):
                coerced[k] = int(val)
            elif isinstance(default, float):
                coerced[k] = float(val)
            else:
                coerced[k] = val
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"parameter {k}: cannot use {val!r} ({exc})") from exc
    try:
        return params_cls(**coerced)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"invalid parameters for {params_cls.__qualname__}: {exc}") from exc


P = TypeVar("P")


def _settings(value: BucketConfig | None) -> BucketConfig:
    return BucketConfig() if value is None else value


@attrs.define(kw_only=True)
class BucketContext(Generic[P]):
    """What a bucket sees: the as-of date, the data hub, its settings and params, the warnings.

    ``settings`` is the bucket's section of the configuration (:class:`~tsys.config.BucketConfig`:
    max positions, capital share, sizing...; defaults when the file has none) and ``params`` the
    bucket's own ``Params`` instance for this run, so a bucket reads ``ctx.settings.max_positions``
    and ``ctx.params.mode`` and never repeats a default or rebuilds params from a mapping. The
    core always fills ``params`` (:func:`tsys.portfolio.step.bucket_step`); a context built by
    hand in a test may leave it None when the code under test does not read it.
    """

    as_of: dt.date
    data: DataHub
    settings: BucketConfig = attrs.field(factory=BucketConfig, converter=_settings)
    params: P = attrs.field(default=None)
    warnings: list[str] = attrs.field(factory=list)
    #: True in the daily run, which reads only the last row of the output: a bucket may then
    #: fetch costly per-symbol inputs (news, earnings) for the last row's candidates only,
    #: as long as that row comes out exactly as in a full-history computation.
    latest_only: bool = False
    #: Blockers that could not run, and why: (check, reason) pairs (see :meth:`not_checked`).
    unchecked: list[tuple[str, str]] = attrs.field(factory=list)

    def warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)

    def not_checked(self, check: str, reason: str) -> None:
        """Record that a blocker could not run: ``ctx.not_checked("sp500: earnings",
        "no data source provides earnings dates")``. The run's warnings list it as
        "sp500: earnings not checked (no data source ...)"; a silent pass is never a pass.
        """
        if (check, reason) not in self.unchecked:
            self.unchecked.append((check, reason))
        self.warn(f"{check} not checked ({reason})")


@attrs.define(eq=False)
class BucketOutput:
    """Arrays aligned to the Bars panel (T x N unless said otherwise).

    ``score`` is NaN where a symbol is ineligible; ``entries``/``exits`` are boolean masks of
    decisions taken at the close; ``stop``/``target`` are price levels for a position entered
    at that bar (NaN: none); ``regime`` (length T) is the bucket's risk-on share 0..1;
    ``blocked`` marks symbols to avoid, with ``block_reasons[(t, j)]`` saying why; ``extras``
    holds named panels ``explain`` and the newsletter may use (e.g. ``atr``, ``momentum``);
    ``extras["size_factor"]`` (0..1, set by a meta-model's "size" mode) scales an entry's
    allocation after every cap (:func:`tsys.portfolio.construct.select_and_size`).
    The five decision panels are stored C-contiguous (as the simulator reads them); ``target``
    defaults to NaN everywhere (no profit target).
    """

    score: np.ndarray = attrs.field(converter=np.ascontiguousarray)
    entries: np.ndarray = attrs.field(converter=np.ascontiguousarray)
    exits: np.ndarray = attrs.field(converter=np.ascontiguousarray)
    stop: np.ndarray = attrs.field(converter=np.ascontiguousarray)
    target: np.ndarray = attrs.field(
        default=attrs.Factory(lambda self: np.full(self.score.shape, np.nan), takes_self=True),
        converter=np.ascontiguousarray,
    )
    regime: np.ndarray | None = None
    blocked: np.ndarray | None = None
    block_reasons: dict[tuple[int, int], str] = attrs.field(factory=dict)
    extras: dict[str, np.ndarray] = attrs.field(factory=dict)

    def arrays(self) -> dict[str, np.ndarray]:
        """Every array, by name, for audits and comparisons."""
        out = {
            "score": self.score,
            "entries": self.entries,
            "exits": self.exits,
            "stop": self.stop,
            "target": self.target,
        }
        if self.regime is not None:
            out["regime"] = self.regime
        if self.blocked is not None:
            out["blocked"] = self.blocked
        out.update({f"extras.{k}": a for k, a in self.extras.items()})
        return out


@attrs.frozen
class PositionRules:
    """How the portfolio layer manages a bucket's positions once entered.

    ``stop_kind`` "fixed" keeps the stop set at entry (``BucketOutput.stop`` at the entry bar);
    "atr_trailing" ratchets it up with ``BucketOutput.stop`` every bar (a chandelier stop).
    ``atr_multiple`` is reported on trade plans; ``time_stop_bars`` closes a position after
    that many bars; ``target_volatility`` (annualised) turns "inverse_vol" sizing into
    volatility targeting (a position gets ``slot * min(1, target / vol)``); ``limit_entry``
    asks for a LIMIT entry at ``BucketOutput.extras["limit"]`` instead of a market entry.

    ``max_positions`` is the bucket's own slot count (a bucket of three ETFs): the portfolio
    uses the smaller of it and the configured ``max_positions``, so a slot is ``budget /
    slots``. ``resize`` ("daily", "weekly", "monthly") sizes held positions again at the first
    bar of each such period with the entry rule (volatility target, caps, regime-scaled
    budget) and trades the difference when it is at least ``resize_band`` of the position
    (see :mod:`tsys.portfolio.resize`).
    """

    stop_kind: str = attrs.field(
        default="fixed", validator=attrs.validators.in_(("fixed", "atr_trailing"))
    )
    atr_multiple: float | None = None
    time_stop_bars: int | None = None
    target_volatility: float | None = None
    limit_entry: bool = False
    max_positions: int | None = attrs.field(
        default=None, validator=attrs.validators.optional(attrs.validators.ge(1))
    )
    resize: str | None = attrs.field(
        default=None,
        validator=attrs.validators.optional(attrs.validators.in_(("daily", "weekly", "monthly"))),
    )
    resize_band: float = attrs.field(
        default=0.2, validator=[attrs.validators.ge(0.0), attrs.validators.le(1.0)]
    )


@attrs.frozen
class Mandate:
    """What a bucket promises to stay within; ``tsys optimize`` and ``tsys research`` make
    every trial respect it (Optuna constraints), so no trial wins by sitting in cash.

    ``min_exposure``: mean share of equity invested (0.6 = 60%); ``max_cagr_lag``: CAGR at most
    this far below the benchmark's over the same bars (0.05 = 5 points a year). ``None``: no
    limit. ``[buckets.NAME] min_exposure`` / ``max_cagr_lag`` in tsys.toml override them.
    """

    min_exposure: float | None = None
    max_cagr_lag: float | None = None


#: The ``default_settings`` of an opt-in satellite bucket (a gamble, or one that needs data a
#: user records first): off unless ``[buckets.NAME] enabled = true``, then 5% of the account in
#: at most five equal-sized positions. Each key may still be set in ``[buckets.NAME]``.
OPT_IN_SATELLITE: Mapping[str, Any] = MappingProxyType(
    {"enabled": False, "capital_share": 0.05, "max_positions": 5, "sizing": "equal"}
)


class Bucket(abc.ABC):
    """Base class of strategy buckets."""

    name: ClassVar[str]
    asset_class: ClassVar[AssetClass]
    version: ClassVar[str]
    Params: ClassVar[type]
    #: One-line description for ``tsys plugins`` and the newsletter.
    description: ClassVar[str] = ""
    #: Symbol of the buy-and-hold benchmark in reports (e.g. "SPY", "BTC-USD").
    benchmark: ClassVar[str | None] = None
    #: Sizing rule when config does not choose one ("equal", "inverse_vol", "risk").
    default_sizing: ClassVar[str] = "inverse_vol"
    #: Bars of history compute needs before its first valid score.
    warmup_bars: ClassVar[int] = 252
    #: Limits every optimisation trial must respect (see :class:`Mandate`).
    mandate: ClassVar[Mandate] = Mandate()
    #: ``[buckets.NAME]`` settings (``BucketConfig`` fields) this bucket uses where the file
    #: sets none, e.g. ``{"capital_share": 0.05}`` for a small gamble bucket; see
    #: :meth:`tsys.config.Config.bucket`. Empty: the ``BucketConfig`` defaults.
    default_settings: ClassVar[Mapping[str, Any]] = {}

    def position_rules(self, params: Any) -> PositionRules:
        """Stops, time stop and sizing hints for positions of this bucket (see PositionRules)."""
        return PositionRules()

    def default_params(self) -> Any:
        """The researched defaults shipped in the bucket's package (``params.json``, see
        `tsys.params_files`), else the ``Params`` defaults."""
        shipped = shipped_values(self)
        return self.Params() if shipped is None else params_from_dict(self.Params, shipped)

    def search_space(self, params: Any = None) -> dict[str, dict[str, Any]]:
        """What optimisation searches when it starts from ``params`` (a ``Params`` instance;
        None: :meth:`default_params`): name -> spec from :func:`param`. Default: every
        parameter declared with a range. Override to search only what that parameter set
        reads (one mode's parameters) or to keep parameters fixed at economically chosen
        values; :meth:`params_of` turns a mapping or None into a ``Params``. Core code asks
        through :func:`space_for`."""
        return search_space(self.Params)

    def params_of(self, params: Any = None) -> Any:
        """``params`` as this bucket's ``Params``: None -> the defaults, a mapping -> the
        defaults with those values on top, a ``Params`` -> itself."""
        if params is None:
            return self.default_params()
        if isinstance(params, Mapping):
            return params_from_dict(self.Params, {**attrs.asdict(self.default_params()), **params})
        return params

    @abc.abstractmethod
    def universe(self, ctx: BucketContext) -> list[str]:
        """Symbols this bucket considers on ``ctx.as_of``."""

    @abc.abstractmethod
    def compute(self, ctx: BucketContext, bars: Bars, params: Any) -> BucketOutput:
        """Vectorised signals over the whole panel; row t uses data up to t only."""

    def explain(
        self, ctx: BucketContext, bars: Bars, output: BucketOutput, symbol: str, t: int
    ) -> list[str]:
        """Short rationale tags for ``symbol`` at row ``t`` ("trend up 200d", ...).

        A tag starting with ``"entry:"`` says why the bucket enters at ``t`` and one starting
        with ``"exit:"`` which exit condition holds; the daily plan leads a BUY or a SELL with
        the matching tag (else with a generic "entry signal" / "exit signal").
        """
        return []

    def news(
        self, ctx: BucketContext, bars: Bars, output: BucketOutput, symbol: str, t: int
    ) -> list[NewsItem]:
        """Articles behind ``symbol``'s rationale at row ``t`` (title, link, sentiment), most
        relevant first; the newsletter links them. Default: none."""
        return []

    def regime_label(self, output: BucketOutput, t: int) -> str:
        """A word for the market regime at row t ("risk-on", "risk-off", ...)."""
        if output.regime is None:
            return ""
        r = float(output.regime[t])
        return "risk-on" if r >= 0.75 else ("reduced" if r > 0 else "risk-off")


BucketFactory = Callable[[], Bucket]
