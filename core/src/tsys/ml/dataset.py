"""A bucket step's entries as a training set: labels, label windows and features.

Training on the bars up to a cut ``last`` (a walk-forward fold's in-sample end, or today)
uses only events decided at or before it whose trades also closed by it: a label that needs
a later bar is not known at the cut (the purge at the in-sample boundary).
"""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np

from tsys.ml.features import feature_matrix, feature_panels, news_frame
from tsys.ml.labels import Events, triple_barrier


@attrs.frozen(eq=False)
class Dataset:
    events: Events
    X: np.ndarray
    names: list[str]

    def trainable(self, last: int) -> np.ndarray:
        """Events whose decision and exit both lie at or before row ``last``."""
        e = self.events
        return e.known & (e.t <= last) & (e.exit_bar <= last)

    def fit(self, mask: np.ndarray, spec: Any = None) -> Any:
        """A :class:`~tsys.ml.model.MetaModel` trained on the events of ``mask``."""
        from tsys.ml import require
        from tsys.ml.model import TrainSpec, train

        require()
        e = self.events
        return train(
            self.X[mask],
            e.label[mask],
            e.ret[mask],
            e.t[mask],
            e.exit_bar[mask],
            self.names,
            spec or TrainSpec(),
        )


def dataset(step: Any, costs: Any) -> Dataset:
    """Labels and features of every primary event of a history step."""
    bucket = step.bucket
    rules = bucket.position_rules(step.ctx.params)
    events = triple_barrier(step.bars, step.output, rules, costs)
    news = news_frame(getattr(step.ctx, "data", None), step.bars)
    panels = feature_panels(step.bars, step.output, bucket.benchmark, news)
    X, names = feature_matrix(panels, events.t, events.j)
    return Dataset(events, X, names)
