"""Meta-labelling of bucket entries (the optional extra ``tsys[ml]``, scikit-learn).

* :mod:`tsys.ml.labels` - triple-barrier meta-labels under the simulator's fill rules;
* :mod:`tsys.ml.features` - point-in-time features of each entry;
* :mod:`tsys.ml.sampling` - uniqueness weights, purged k-fold with an embargo;
* :mod:`tsys.ml.model` - the calibrated classifier and its in-sample threshold;
* :mod:`tsys.ml.apply` - a bucket's output filtered (or its plan sized) by a model;
* :mod:`tsys.ml.store` - model files under the data dir, with the guards of the daily run.

Nothing in tsys imports this package unless ML is asked for (``tsys ml``, ``tsys research
--ml``); only :mod:`tsys.ml.model` needs scikit-learn (:func:`require` says how to install it).
The walk-forward judgement (with and without the model, same folds) is
:mod:`tsys.research.meta`.
"""

from __future__ import annotations


def require() -> None:
    """Raise :class:`~tsys.errors.ConfigError` with the install command when scikit-learn is
    missing."""
    from tsys.errors import ConfigError

    try:
        import sklearn  # noqa: F401
    except ImportError as exc:
        raise ConfigError(
            "ML needs scikit-learn, which is not installed",
            hint='pip install "tsys[ml]"  (in the workspace: uv sync installs it)',
        ) from exc
