"""Configuration: ``tsys.toml`` plus environment, validated into attrs classes.

Lookup order for the file: ``--config PATH``, ``$TSYS_CONFIG``, ``./tsys.toml``, then the user
config dir (platformdirs). Environment overrides use ``TSYS__SECTION__KEY=value`` (value parsed
as TOML, falling back to a string), e.g. ``TSYS__ACCOUNT__SIZE=50000``. Secrets never live in
the file: API keys and passwords come only from the environment (see :data:`tsys.redact.SECRET_ENV`).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tomllib
from pathlib import Path
from typing import Any

import attrs
import cattrs
from attrs import validators as v

from tsys.contracts import FieldError
from tsys.errors import ConfigError
from tsys.redact import SECRET_ENV, is_secret_key, scrub_data

APP = "tsys"


def _finite_positive(inst: Any, a: attrs.Attribute, value: float) -> None:
    if not (math.isfinite(value) and value > 0):
        raise FieldError(a.name, f"must be a finite number above 0, got {value!r}")


def _frac(inst: Any, a: attrs.Attribute, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise FieldError(a.name, f"must be between 0 and 1, got {value!r}")


def _frac_map(inst: Any, a: attrs.Attribute, value: dict[str, float]) -> None:
    for key, share in value.items():
        if isinstance(share, bool) or not isinstance(share, int | float) or not 0 <= share <= 1:
            raise FieldError(f"{a.name}.{key}", f"must be between 0 and 1, got {share!r}")


def _cash_rate(inst: Any, a: attrs.Attribute, value: float) -> None:
    if not (math.isfinite(value) and -0.1 <= value <= 0.5):
        raise FieldError(
            a.name, f"must be an annual rate between -0.1 and 0.5 (0.04 = 4%), got {value!r}"
        )


#: Default ``[account] cash_rate``: idle cash earns nothing unless you say what it earns.
#: A fixed rate over decades of history would misstate the past (US T-bills paid ~0% in
#: 2009-2015 and ~5% in 2000 and 2007), so the default never flatters a cash-heavy strategy.
DEFAULT_CASH_RATE = 0.0


@attrs.define
class AccountConfig:
    size: float = attrs.field(default=100_000.0, converter=float, validator=_finite_positive)
    currency: str = "USD"
    #: Annual interest idle cash earns (a T-bill proxy, 0.04 = 4%), accrued by calendar days
    #: (actual/365) in backtests, research, validate, optimize and the local paper account;
    #: reported apart from trading PnL. Default 0.0 (:data:`DEFAULT_CASH_RATE`).
    cash_rate: float = attrs.field(default=DEFAULT_CASH_RATE, converter=float, validator=_cash_rate)


@attrs.define
class DataConfig:
    #: Bars source for every bucket unless a bucket names its own.
    source: str = "demo"
    #: Folder for the csv source.
    path: str | None = None
    #: A folder in the research layout of ``../shared/data`` (equities, crypto, meta, news),
    #: read by the csv source instead of ``path`` (what ``--shared-data`` sets).
    shared_data: str | None = None
    #: Extra sources asked for news, fundamentals, earnings, market caps (in order).
    extra_sources: list[str] = attrs.field(factory=list)
    #: Seed of the demo market.
    demo_seed: int = attrs.field(default=7, validator=v.ge(0))
    #: Years of history a daily run loads.
    history_years: float = attrs.field(
        default=3.0, converter=float, validator=[_finite_positive, v.le(100)]
    )
    strict: bool = False
    #: Per-source options, e.g. ``[data.options.alphavantage] calls_per_minute = 5``.
    options: dict[str, dict[str, Any]] = attrs.field(factory=dict)
    #: Not in tsys.toml: True when the file, the environment or a command-line option named
    #: the source; False when ``source`` is the built-in default (the demo market), which a
    #: daily run refuses unless asked for (``--demo``).
    source_given: bool = attrs.field(default=False, init=False, eq=False)


@attrs.define
class BucketConfig:
    enabled: bool = True
    capital_share: float = attrs.field(default=0.5, converter=float, validator=_frac)
    max_positions: int = attrs.field(default=10, validator=[v.instance_of(int), v.ge(0)])
    sizing: str = attrs.field(
        default="inverse_vol", validator=v.in_(("equal", "inverse_vol", "risk"))
    )
    risk_per_trade: float = attrs.field(default=0.01, converter=float, validator=_frac)
    params: dict[str, Any] = attrs.field(factory=dict)
    params_file: str | None = None
    source: str | None = None
    require_validation: bool = False
    #: Override the bucket's mandate (optimisation and research constraints); see
    #: :class:`tsys.buckets.Mandate`.
    min_exposure: float | None = None
    max_cagr_lag: float | None = None
    #: Meta-model use in the daily run (tsys[ml]): "off", "filter" (drop entries the model
    #: scores below its threshold) or "size" (scale each entry's allocation by the model's
    #: probability, in [0.25, 1] of what the caps allow). The model must exist (`tsys ml
    #: train`), be no older than ``ml_max_age_days``, match the parameters and the data, and
    #: have been judged ON walk-forward.
    ml: str = attrs.field(default="off", validator=v.in_(("off", "filter", "size")))
    ml_max_age_days: int = attrs.field(default=120, validator=[v.instance_of(int), v.ge(1)])


@attrs.define
class RiskConfig:
    sector_cap: float = attrs.field(default=0.30, converter=float, validator=_frac)
    max_pairwise_correlation: float = attrs.field(default=0.85, converter=float, validator=_frac)
    max_adv_share: float = attrs.field(default=0.01, converter=float, validator=_frac)
    max_position_weight: float = attrs.field(default=0.15, converter=float, validator=_frac)


@attrs.define
class OverridesConfig:
    blocked_symbols: list[str] = attrs.field(factory=list)
    #: Cap on crypto exposure as a share of the account (1.0 = no cap).
    crypto_exposure_cap: float = attrs.field(default=1.0, converter=float, validator=_frac)
    #: Cap on equity exposure as a share of the account (1.0 = no cap).
    equity_exposure_cap: float = attrs.field(default=1.0, converter=float, validator=_frac)
    #: Caps on one bucket's holdings, as shares of the account (bucket name -> share).
    bucket_caps: dict[str, float] = attrs.field(factory=dict, validator=_frac_map)
    #: Caps on one sector's equity holdings, as shares of the account (sector -> share).
    sector_caps: dict[str, float] = attrs.field(factory=dict, validator=_frac_map)
    #: Buckets that open no new positions (their exits and stops still run).
    paused_buckets: list[str] = attrs.field(factory=list)
    #: Filled by the daily run, not in tsys.toml: which ``tsys override`` rule set an entry
    #: (``"AAPL"``, ``"crypto_exposure_cap"``, a bucket name -> ``"O-0003"``).
    sources: dict[str, str] = attrs.field(factory=dict)


@attrs.define
class BrokerConfig:
    name: str = "local"
    enabled: bool = False
    options: dict[str, Any] = attrs.field(factory=dict)


@attrs.define
class ScheduleConfig:
    time: str = "16:30"
    timezone: str = "America/New_York"
    crypto_time_utc: str = "00:30"


@attrs.define
class ValidationGates:
    min_deflated_sharpe: float = 0.5
    #: Deepest drawdown allowed, a positive magnitude (0.35: no worse than -35%).
    max_drawdown: float = 0.35
    min_trades: int = 30
    #: Largest p-value of the real Sharpe against random entries (None: no gate).
    max_random_entry_p: float | None = 0.10
    #: Smallest Sharpe with fees and slippage doubled (None: no gate).
    min_sharpe_double_costs: float | None = 0.0
    #: Smallest Sharpe lead over the best of the benchmark and the anchors (None: no gate;
    #: losing to buy and hold on both return and Sharpe always fails).
    min_sharpe_margin: float | None = 0.0
    #: Largest probability of backtest overfitting (research reports; None: no gate).
    max_pbo: float | None = 0.3


@attrs.define
class Config:
    account: AccountConfig = attrs.field(factory=AccountConfig)
    data: DataConfig = attrs.field(factory=DataConfig)
    buckets: dict[str, BucketConfig] = attrs.field(factory=dict)
    risk: RiskConfig = attrs.field(factory=RiskConfig)
    overrides: OverridesConfig = attrs.field(factory=OverridesConfig)
    notifiers: dict[str, dict[str, Any]] = attrs.field(factory=dict)
    broker: BrokerConfig = attrs.field(factory=BrokerConfig)
    schedule: ScheduleConfig = attrs.field(factory=ScheduleConfig)
    validation: ValidationGates = attrs.field(factory=ValidationGates)
    data_dir: str | None = None
    #: Where the file came from (None: defaults only). Not part of the digest.
    source_path: str | None = attrs.field(default=None, eq=False)
    #: The keys each ``[buckets.NAME]`` section of the file set (filled by
    #: :func:`config_from_dict`); a bucket's own ``default_settings`` fill the rest.
    section_keys: dict[str, frozenset[str]] = attrs.field(
        factory=dict, init=False, eq=False, repr=False
    )

    def bucket(self, bucket: Any) -> BucketConfig:
        """A bucket's settings: its ``[buckets.NAME]`` section, else the defaults.

        ``bucket`` is a name or a bucket object. A bucket object's ``default_settings`` (e.g.
        the low-float bucket's ``capital_share = 0.05``) stand in for every key the file's
        section does not set (for the whole section when the file has none); a section built
        in code (no recorded keys) is taken as it is.
        """
        if isinstance(bucket, str):
            name, defaults = bucket, {}
        else:
            name, defaults = bucket.name, dict(getattr(bucket, "default_settings", None) or {})
        section = self.buckets.get(name)
        if section is None:
            return BucketConfig(**defaults)
        keys = self.section_keys.get(name)
        if keys is None or not defaults:
            return section
        return attrs.evolve(section, **{k: v for k, v in defaults.items() if k not in keys})

    def digest(self) -> str:
        """A short stable hash of the effective configuration (recorded in every run)."""
        data = unstructure(self)
        data.pop("source_path", None)
        blob = json.dumps(data, sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    @property
    def data_path(self) -> Path:
        """The data dir: runs, the store, the cache."""
        if self.data_dir:
            return Path(self.data_dir).expanduser()
        env = os.environ.get("TSYS_DATA_DIR")
        if env:
            return Path(env).expanduser()
        import platformdirs

        return Path(platformdirs.user_data_dir(APP))


_conv = cattrs.Converter(forbid_extra_keys=True)


def _strict_int(value: Any, _type: Any) -> int:
    # cattrs would make 3.5 into 3 and true into 1: a whole number is asked for, say so.
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"expected a whole number, got {value!r}")
    return value


def _strict_float(value: Any, _type: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        if isinstance(value, str):
            return float(value)  # a string from the environment; the validators check it
        raise TypeError(f"expected a number, got {value!r}")
    return float(value)


def _strict_bool(value: Any, _type: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"expected true or false, got {value!r}")
    return value


_conv.register_structure_hook(int, _strict_int)
_conv.register_structure_hook(float, _strict_float)
_conv.register_structure_hook(bool, _strict_bool)


def unstructure(cfg: Config) -> dict[str, Any]:
    data = _conv.unstructure(cfg)
    data.pop("section_keys", None)
    return data


def default_config_path() -> Path:
    import platformdirs

    return Path(platformdirs.user_config_dir(APP)) / "tsys.toml"


@attrs.frozen
class ConfigPlace:
    """One place the configuration file is looked for, in lookup order."""

    label: str
    path: Path | None  # None: not given / not set
    exists: bool


def config_places(explicit: str | os.PathLike[str] | None = None) -> list[ConfigPlace]:
    """Every place the configuration file is looked for, in order (``tsys config path``).

    The first place that is given must exist (``--config``, ``$TSYS_CONFIG``); after them,
    the first existing file wins.
    """
    out = []
    for label, raw in (("--config", explicit), ("$TSYS_CONFIG", os.environ.get("TSYS_CONFIG"))):
        p = Path(raw).expanduser().absolute() if raw else None
        out.append(ConfigPlace(label, p, p is not None and p.is_file()))
    local = Path.cwd() / "tsys.toml"
    out.append(ConfigPlace("./tsys.toml", local, local.is_file()))
    user = default_config_path()
    out.append(ConfigPlace("user config dir", user, user.is_file()))
    return out


def find_config_file(explicit: str | os.PathLike[str] | None = None) -> Path | None:
    """Return the config file to read, or None to run on defaults."""
    if explicit is not None:
        p = Path(explicit)
        if not p.is_file():
            raise ConfigError(f"config file {p} {_not_a_file(p)}")
        return p
    env = os.environ.get("TSYS_CONFIG")
    if env:
        p = Path(env)
        if not p.is_file():
            raise ConfigError(f"TSYS_CONFIG points at {p}, which {_not_a_file(p)}")
        return p
    for place in config_places()[2:]:
        if place.exists:
            return place.path
    return None


def data_dir_origin(cfg: Config) -> str:
    """Where :attr:`Config.data_path` comes from, in words."""
    if cfg.data_dir:
        return "data_dir in the configuration"
    if os.environ.get("TSYS_DATA_DIR"):
        return "$TSYS_DATA_DIR"
    return "the platform default"


def default_env_file() -> Path:
    """Where a schedule reads secrets from by default: ``tsys.env`` beside the user config."""
    return default_config_path().with_name("tsys.env")


def _not_a_file(p: Path) -> str:
    return "is a folder, not a file" if p.is_dir() else "does not exist"


def load_config(path: str | os.PathLike[str] | None = None, *, env: bool = True) -> Config:
    """Read, merge with the environment, and validate the configuration."""
    file = find_config_file(path)
    data: dict[str, Any] = {}
    if file is not None:
        try:
            data = tomllib.loads(file.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{file} is not valid TOML: {exc}") from exc
        except UnicodeDecodeError as exc:
            raise ConfigError(
                f"{file} is not UTF-8 text (byte {exc.start + 1} is {exc.object[exc.start]:#04x})",
                hint="save the file as UTF-8",
            ) from exc
        except OSError as exc:
            raise ConfigError(f"cannot read {file}: {exc.strerror}") from exc
        _reject_secrets(data, str(file))
    if env:
        _apply_env_overrides(data)
    return config_from_dict(data, source=str(file) if file else None)


def config_from_dict(data: dict[str, Any], *, source: str | None = None) -> Config:
    """Validate a plain mapping into :class:`Config`, naming the failing paths."""
    try:
        cfg = _conv.structure(data, Config)
    except Exception as exc:
        from tsys.serialization import describe_error

        raise ConfigError(
            describe_error(exc, source or "configuration"),
            hint="`tsys config init` writes a commented starter file",
        ) from exc
    sections = data.get("buckets") if isinstance(data, dict) else None
    if isinstance(sections, dict):
        cfg.section_keys = {n: frozenset(v) for n, v in sections.items() if isinstance(v, dict)}
    _check_shares(cfg, source or "configuration")
    cfg.source_path = source
    cfg.data.source_given = isinstance(data.get("data"), dict) and "source" in data["data"]
    return cfg


def _check_shares(cfg: Config, where: str) -> None:
    """The enabled buckets' capital shares may not add up to more than the account."""
    shares = {n: b.capital_share for n, b in cfg.buckets.items() if b.enabled}
    total = sum(shares.values())
    if total > 1.0 + 1e-9:
        listed = ", ".join(f"{n} {s:g}" for n, s in shares.items())
        raise ConfigError(
            f"{where}: the enabled buckets' capital_share add up to {total:g} ({listed}); "
            "together they may use at most the whole account (1.0)",
            hint="lower a [buckets.<name>] capital_share, or disable a bucket",
        )


def _reject_secrets(data: Any, where: str, path: str = "$") -> None:
    if isinstance(data, dict):
        for k, val in data.items():
            if is_secret_key(k) and val not in ("", None):
                raise ConfigError(
                    f"{where}: {path}.{k} looks like a secret; secrets are read from the "
                    "environment only",
                    hint="remove it from the file and set one of: " + ", ".join(SECRET_ENV),
                )
            _reject_secrets(val, where, f"{path}.{k}")


def _apply_env_overrides(data: dict[str, Any]) -> None:
    for key, raw in os.environ.items():
        if not key.startswith("TSYS__"):
            continue
        parts = [p.lower() for p in key[len("TSYS__") :].split("__") if p]
        if not parts:
            continue
        try:
            value = tomllib.loads(f"x = {raw}")["x"]
        except tomllib.TOMLDecodeError:
            value = raw
        node = data
        for p in parts[:-1]:
            nxt = node.setdefault(p, {})
            if not isinstance(nxt, dict):
                raise ConfigError(f"environment {key}: {p} is not a table in the configuration")
            node = nxt
        node[parts[-1]] = value


def redacted(cfg: Config) -> dict[str, Any]:
    """The effective configuration for display, with secret presence but never values."""
    data = scrub_data(unstructure(cfg))
    data["secrets"] = {
        name: ("set (redacted)" if os.environ.get(name) else "not set") for name in SECRET_ENV
    }
    data["data_dir_effective"] = str(cfg.data_path)
    return data


def secret(name: str) -> str | None:
    """Read a secret from the environment (the only place secrets live)."""
    if name not in SECRET_ENV:
        raise ValueError(f"{name} is not a declared secret")
    value = os.environ.get(name)
    return value or None


STARTER = """\
# tsys configuration. Secrets (API keys, SMTP password) are NOT read from this file:
# set ALPACA_API_KEY, ALPACA_API_SECRET, ALPHAVANTAGE_API_KEY, COINGECKO_API_KEY,
# UNUSUAL_WHALES_API_TOKEN and TSYS_SMTP_PASSWORD in the environment instead.
# Any value can be overridden from the environment: TSYS__ACCOUNT__SIZE=50000.

[account]
size = 100000          # account equity in USD that allocations are sized against
cash_rate = 0.0        # annual interest on idle cash (T-bill proxy, 0.04 = 4%) in backtests,
                       # research and the local paper account; reported apart from trading PnL

[data]
source = "demo"        # bars source: "demo" (synthetic, offline) or "csv" (set path)
# path = "/path/to/csv/folder"
# extra_sources = ["alphavantage", "coingecko"]   # news, earnings, fundamentals, market caps
history_years = 3

# [data.options.csv]
# volume_unit = { equity = "base", crypto = "quote" }   # shares/coins or dollars (the default)

[buckets.sp500]
enabled = true
capital_share = 0.6    # share of account equity this bucket may use
max_positions = 10
sizing = "inverse_vol" # equal | inverse_vol | risk
# params_file = "params/sp500.json"   # relative to the data dir; `tsys optimize` writes it
# require_validation = true            # trade only parameters that passed `tsys validate`

[buckets.crypto]
enabled = true
capital_share = 0.2
max_positions = 5
sizing = "inverse_vol"

[risk]
sector_cap = 0.30               # max share of the account in one sector
max_pairwise_correlation = 0.85 # skip a pick this correlated with a holding
max_adv_share = 0.01            # position <= 1% of 20-day average dollar volume
max_position_weight = 0.15

[overrides]
blocked_symbols = []            # never recommend these
crypto_exposure_cap = 1.0       # e.g. 0.1 caps crypto at 10% of the account today
equity_exposure_cap = 1.0       # the same for equities (every bucket's holdings count)
bucket_caps = {}                # e.g. { sp500 = 0.4 }: one bucket's holdings <= 40% of the account
sector_caps = {}                # e.g. { "Energy" = 0.05 }: one sector's equities <= 5%
paused_buckets = []             # no new entries for these (their exits and stops still run)
# Rules with an expiry and a history: `tsys override --help`; the stricter one wins.

[broker]
name = "local"                  # "local" (offline paper) or "alpaca" (paper by default)
enabled = false                 # place paper orders after each run (or pass --paper)

# [notifiers.email]
# host = "smtp.example.com"
# port = 587
# security = "starttls"         # plain | starttls | tls
# username = "me@example.com"
# sender = "tsys <me@example.com>"
# recipients = ["me@example.com"]

[schedule]
time = "16:30"
timezone = "America/New_York"
crypto_time_utc = "00:30"
"""
