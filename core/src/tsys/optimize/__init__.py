"""Parameter optimisation on Optuna: one process, several, or many machines sharing a database.

* :mod:`tsys.optimize.evaluate` - what a trial measures (out-of-sample folds after costs);
* :mod:`tsys.optimize.bucket` - the real evaluator: a bucket through the backtest;
* :mod:`tsys.optimize.trial` - what one trial does: draw, score fold by fold, prune, record;
* :mod:`tsys.optimize.study` - studies, workers, constraints, pruning, the params file;
* :mod:`tsys.optimize.batch` - ``--batch K``: K trials asked, simulated in one pass, each told;
* :mod:`tsys.optimize.storage` - SQLite by default, PostgreSQL for many machines, heartbeats;
* :mod:`tsys.optimize.sensitivity` - the neighbourhood of the chosen point.
"""

from tsys.optimize.evaluate import Constraints, FoldResult, Summary, summarise
from tsys.optimize.study import StudySpec, collect, params_document, run_study

__all__ = [
    "Constraints",
    "FoldResult",
    "StudySpec",
    "Summary",
    "collect",
    "params_document",
    "run_study",
    "summarise",
]
