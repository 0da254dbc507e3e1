"""Researched parameters shipped inside a bucket package, as its defaults.

``tsys research BUCKET --write-defaults`` writes ``params.json`` next to the bucket's module
(the package resource :func:`tsys.params_files.shipped_params_path` reads). A bucket then runs
with these parameters whenever the user has no parameter file of their own
(:meth:`tsys.buckets.Bucket.default_params`). The document is versioned and says what it was
researched on: the bucket version, the data fingerprint and period, the number of
configurations tried, and the out-of-sample summary with the gates.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from tsys.errors import ConfigError

SCHEMA_VERSION = 1


def defaults_document(report: dict[str, Any]) -> dict[str, Any]:
    """The ``params.json`` document for a research report's final parameters."""
    oos = report["out_of_sample"]
    m = oos["metrics"]
    fig = report["figures"]
    return {
        "schema_version": SCHEMA_VERSION,
        "bucket": report["bucket"],
        "bucket_version": report["version"],
        "params": report["final"]["chosen_params"],
        "digest": report["final"]["chosen_digest"],
        "data_fingerprint": report["data_fingerprint"],
        "source": report["source"],
        "period": report["period"],
        "n_trials": report["trials"]["distinct_configurations"],
        # The report the CLI saved, relative to the data dir (tsys.cli.research.report_path).
        "report": f"research/{report['bucket']}-{report['final']['chosen_digest']}.json",
        "optuna_trials": report["trials"]["optuna_trials"],
        "research": {
            "passed": report["passed"],
            "out_of_sample": {
                "start": oos["start"],
                "end": oos["end"],
                **{k: m.get(k) for k in ("cagr", "sharpe", "max_drawdown", "exposure")},
            },
            "best_anchor": fig.get("best_anchor"),
            "best_anchor_sharpe": fig.get("best_anchor_sharpe"),
            "pbo": fig.get("pbo"),
            "deflated_sharpe": fig.get("deflated_sharpe"),
            "random_entry_p": fig.get("random_entry_p"),
            "gates": [
                {"name": g["name"], "value": g["value"], "passed": g["passed"]}
                for g in report["gates"]
            ],
            "spec": report["spec"],
            "created": report["created"],
        },
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }


def package_params_path(bucket: Any) -> Path:
    """Where the bucket's package keeps ``params.json`` (its module's folder)."""
    import importlib

    from tsys.params_files import SHIPPED_NAME

    package = type(bucket).__module__.split(".")[0]
    module = importlib.import_module(package)
    where = getattr(module, "__file__", None)
    if where is None:
        raise ConfigError(f"cannot locate the package of bucket {bucket.name!r} ({package})")
    return Path(where).parent / SHIPPED_NAME


def write_defaults(path: Path, document: dict[str, Any]) -> None:
    """Write the document atomically and forget any cached resource lookup."""
    from tsys.files import write_json
    from tsys.params_files import forget_shipped_paths

    write_json(Path(path), document)
    forget_shipped_paths()
