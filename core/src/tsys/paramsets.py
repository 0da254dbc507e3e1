"""One parameter story: which parameters a bucket runs with, from where, and their hash.

``tsys backtest``, ``validate``, ``optimize`` (as its starting point), ``research`` and
``run-daily`` all call :func:`resolve_params`, so a user validates exactly what they trade.
The base set is the first that exists of:

1. ``--params FILE`` on the command line;
2. ``[buckets.NAME] params_file`` in the configuration (a relative path resolves against the
   data dir, not the current folder);
3. ``<data dir>/params/NAME.json`` (what ``tsys optimize`` writes);
4. the researched defaults shipped inside the bucket's package (``params.json``, written by
   ``tsys research --write-defaults``);
5. the bucket's ``Params`` defaults.

``[buckets.NAME] params`` from the configuration and then ``--param KEY=VALUE`` are laid over
it. The result names its origin, the file and the file's SHA-256, and a digest of the
effective values (the digest ``tsys validate`` files its report under), so every output can
say which parameter set it used.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from tsys.errors import ConfigError
from tsys.params_files import read_params_file, shipped_params_path, values_of

if TYPE_CHECKING:
    from tsys.buckets import Bucket
    from tsys.config import Config

ORIGINS = ("--params", "params_file", "data dir", "shipped", "defaults")


def params_dict(params: Any) -> dict[str, Any]:
    """A plain mapping of a ``Params`` instance or mapping."""
    if attrs.has(type(params)):
        return attrs.asdict(params)
    return dict(params)


def params_digest(params: Any) -> str:
    """Stable short digest of a parameter mapping (sorted keys, JSON): 16 hex digits."""
    blob = json.dumps(params_dict(params), sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def file_hash(path: Path) -> str:
    """SHA-256 of a file's bytes, first 12 hex digits (what outputs print)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:12]


@attrs.frozen
class ParamSet:
    """The parameters a command runs a bucket with, and where they came from."""

    bucket: str
    params: Any
    #: One of :data:`ORIGINS`.
    origin: str
    path: str | None
    file_sha256: str | None
    digest: str
    #: Values laid over the base set: ``[buckets.NAME] params``, then ``--param``.
    overrides: dict[str, Any]
    #: The file's whole document (study, trial count, research summary), empty without one.
    document: dict[str, Any] = attrs.field(factory=dict, eq=False, repr=False)

    @property
    def values(self) -> dict[str, Any]:
        return params_dict(self.params)

    def label(self) -> str:
        """One line for terminal headers and reports."""
        where = {
            "--params": "file from --params",
            "params_file": "params_file from the configuration",
            "data dir": "data-dir file",
            "shipped": "researched defaults shipped with the bucket",
            "defaults": "bucket defaults",
        }[self.origin]
        text = f"parameters: {where}"
        if self.path is not None:
            text += f" {self.path} (sha256 {self.file_sha256})"
        text += f", set {self.digest}"
        if self.overrides:
            text += " with " + ", ".join(f"{k}={v}" for k, v in self.overrides.items())
        return text

    def to_json(self) -> dict[str, Any]:
        return {
            "origin": self.origin,
            "path": self.path,
            "file_sha256": self.file_sha256,
            "digest": self.digest,
            "overrides": dict(self.overrides),
            "label": self.label(),
        }


def resolve_params(
    bucket: Bucket,
    config: Config,
    *,
    params_file: str | Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    data_home: Path | None = None,
) -> ParamSet:
    """The parameter set ``bucket`` runs with (see the module docstring for the order).

    Parameters
    ----------
    bucket
        The bucket.
    config
        The effective configuration (``[buckets.NAME] params_file`` and ``params``).
    params_file
        ``--params FILE`` (relative to the current folder, as any command-line path).
    overrides
        ``--param KEY=VALUE`` values, laid over everything else.
    data_home
        The root of the workspace in use (:func:`tsys.workspace.workspace`; ``<data dir>/demo``
        for the demo market): where ``params/NAME.json`` and relative ``params_file`` paths are
        looked up. Default: the configuration's workspace.
    """
    from tsys.buckets import params_from_dict
    from tsys.workspace import workspace

    home = Path(data_home) if data_home is not None else workspace(config).root
    settings = config.bucket(bucket)
    origin, path = "defaults", None
    if params_file is not None:
        origin, path = "--params", Path(params_file).expanduser()
        if not path.is_file():
            raise ConfigError(f"params file {path} does not exist")
    elif settings.params_file:
        origin, path = "params_file", Path(settings.params_file).expanduser()
        if not path.is_absolute():
            path = home / path
        if not path.is_file():
            raise ConfigError(
                f"[buckets.{bucket.name}] params_file {settings.params_file!r} resolves to "
                f"{path}, which does not exist",
                hint="relative paths resolve against the data dir; `tsys optimize` writes "
                f"{home / 'params' / (bucket.name + '.json')}",
            )
    elif (home / "params" / f"{bucket.name}.json").is_file():
        origin, path = "data dir", home / "params" / f"{bucket.name}.json"
    elif shipped_params_path(bucket) is not None:
        origin, path = "shipped", shipped_params_path(bucket)
    doc: dict[str, Any] = {}
    values: dict[str, Any] = {}
    if path is not None:
        doc = read_params_file(path, bucket.name)
        values = values_of(doc)
    laid = {**settings.params, **dict(overrides or {})}
    base = params_dict(bucket.Params())
    where = f" (from {path})" if path is not None else ""
    try:
        params = params_from_dict(bucket.Params, {**base, **values, **laid})
    except ConfigError as exc:
        raise ConfigError(f"{bucket.name} parameters{where}: {exc.message}", hint=exc.hint) from exc
    return ParamSet(
        bucket=bucket.name,
        params=params,
        origin=origin,
        path=None if path is None else str(path),
        file_sha256=None if path is None else file_hash(path),
        digest=params_digest(params),
        overrides=laid,
        document=doc,
    )


def parse_assignments(items: tuple[str, ...] | list[str]) -> dict[str, str]:
    """``("a=1", "b=x")`` -> ``{"a": "1", "b": "x"}`` (values are coerced by the Params)."""
    out: dict[str, str] = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"expected KEY=VALUE, got {item!r}", hint="e.g. --param atr_stop=4")
        k, v = item.split("=", 1)
        out[k.strip()] = v.strip()
    return out


@attrs.frozen
class ParamChoices:
    """``--params`` files and ``--param`` values of a command that runs several buckets.

    Build it with :meth:`from_cli`; :meth:`resolve` gives each bucket its :class:`ParamSet`.
    """

    #: bucket name -> ``--params FILE``
    files: Mapping[str, str] = attrs.field(factory=dict)
    #: bucket name -> ``{KEY: VALUE}`` from ``--param``
    overrides: Mapping[str, Mapping[str, Any]] = attrs.field(factory=dict)

    @classmethod
    def from_cli(
        cls,
        files: Sequence[str],
        items: Sequence[str],
        buckets: Sequence[str] | None,
    ) -> ParamChoices:
        """Parse ``--params FILE`` and ``--param [BUCKET.]KEY=VALUE`` for ``buckets``.

        A file names its bucket (the ``bucket`` key ``tsys optimize`` writes); a bare mapping,
        and a ``KEY=VALUE`` without ``BUCKET.``, need exactly one bucket in ``--buckets``.
        """
        only = buckets[0] if buckets is not None and len(buckets) == 1 else None
        by_file: dict[str, str] = {}
        for f in files:
            path = Path(f).expanduser()
            if not path.is_file():
                raise ConfigError(f"params file {path} does not exist")
            name = only or _named_bucket(path)
            if not name:
                read_params_file(path, "")  # an unreadable file: say why
                raise ConfigError(
                    f"params file {path} does not say which bucket it is for",
                    hint='add a "bucket" key, or run one bucket: --buckets NAME',
                )
            read_params_file(path, name)  # a file for another bucket is refused here
            if name in by_file:
                raise ConfigError(f"two --params files for bucket {name!r}")
            by_file[str(name)] = str(path)
        laid: dict[str, dict[str, str]] = {}
        for key, value in parse_assignments(list(items)).items():
            name, dot, pkey = key.rpartition(".")
            if not dot:
                if only is None:
                    raise ConfigError(
                        f"--param {key}={value}: which bucket?",
                        hint=f"write --param BUCKET.{key}={value}, or run one bucket with --buckets",
                    )
                name = only
            laid.setdefault(name, {})[pkey] = value
        out = cls(files=by_file, overrides=laid)
        if buckets is not None:
            out.check(buckets)
        return out

    def check(self, buckets: Sequence[str]) -> None:
        """Refuse choices for buckets that do not run (a typo would otherwise be ignored)."""
        stray = sorted((set(self.files) | set(self.overrides)) - set(buckets))
        if stray:
            raise ConfigError(
                f"--params/--param given for {', '.join(stray)}, which this run does not include",
                hint=f"this run's buckets: {', '.join(buckets)}",
            )

    def resolve(self, bucket: Bucket, config: Config, data_home: Path) -> ParamSet:
        """``bucket``'s parameter set (see :func:`resolve_params`)."""
        return resolve_params(
            bucket,
            config,
            params_file=self.files.get(bucket.name),
            overrides=self.overrides.get(bucket.name),
            data_home=data_home,
        )


def _named_bucket(path: Path) -> str | None:
    """The ``bucket`` key of a params file (None: none, or not readable JSON)."""
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    name = doc.get("bucket") if isinstance(doc, dict) else None
    return name if isinstance(name, str) else None


def mandate_of(bucket: Any, config: Config) -> Any:
    """The bucket's :class:`~tsys.buckets.Mandate` with ``[buckets.NAME]`` overrides."""
    from tsys.buckets import Mandate

    base = getattr(bucket, "mandate", None) or Mandate()
    s = config.bucket(bucket)
    return Mandate(
        min_exposure=s.min_exposure if s.min_exposure is not None else base.min_exposure,
        max_cagr_lag=s.max_cagr_lag if s.max_cagr_lag is not None else base.max_cagr_lag,
    )
