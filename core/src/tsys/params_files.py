"""Parameter files: a params JSON document, and the researched defaults a bucket ships.

A bucket's package may ship ``params.json`` (written by ``tsys research --write-defaults``);
:meth:`tsys.buckets.Bucket.default_params` reads it through :func:`shipped_values`, and
:mod:`tsys.paramsets` reads every other parameter file through :func:`read_params_file`.
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from pathlib import Path
from typing import Any

from tsys.errors import ConfigError

#: Name of the researched-defaults resource inside a bucket's package.
SHIPPED_NAME = "params.json"


def read_params_file(path: Path, bucket: str) -> dict[str, Any]:
    """The JSON document of a params file, checked to belong to ``bucket``."""
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read params file {path}: {exc.strerror or exc}") from exc
    except json.JSONDecodeError as exc:
        raise ConfigError(f"params file {path} is not valid JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise ConfigError(f"params file {path} must hold a JSON object")
    if doc.get("bucket") not in (None, bucket):
        raise ConfigError(f"{path} holds parameters for {doc['bucket']!r}, not {bucket!r}")
    values = doc.get("params", doc)
    if not isinstance(values, dict):
        raise ConfigError(f"params file {path}: 'params' must be a JSON object")
    return doc


def values_of(doc: dict[str, Any]) -> dict[str, Any]:
    """The parameter values of a params document (a full document or a bare mapping)."""
    values = doc.get("params", doc)
    if "params" not in doc:  # a bare mapping: drop the bookkeeping keys of a full document
        values = {k: v for k, v in values.items() if k != "bucket"}
    return dict(values)


def shipped_params_path(bucket: Any) -> Path | None:
    """The ``params.json`` resource of the package that defines ``bucket``'s class, if any."""
    return _shipped_path(type(bucket) if not isinstance(bucket, type) else bucket)


@functools.lru_cache(maxsize=64)
def _shipped_path(cls: type) -> Path | None:
    package = cls.__module__.split(".")[0]
    try:
        res = resources.files(package) / SHIPPED_NAME
    except (ModuleNotFoundError, TypeError):
        return None
    if not res.is_file():
        return None
    return Path(str(res))


def shipped_values(bucket: Any) -> dict[str, Any] | None:
    """The researched defaults shipped with ``bucket`` (None when its package has none)."""
    path = shipped_params_path(bucket)
    if path is None:
        return None
    return values_of(read_params_file(path, bucket.name))


def forget_shipped_paths() -> None:
    """Forget the cached resource look-ups (after a ``params.json`` was written)."""
    _shipped_path.cache_clear()
