"""Strategy research: walk-forward with per-fold optimisation, anchors, overfitting statistics.

* :mod:`tsys.research.lab` - a bucket on one data set, parameter runs kept by digest;
* :mod:`tsys.research.loop` - the anchored walk-forward (``tsys research``);
* :mod:`tsys.research.anchors` - buy and hold, SMA timing, momentum, trend, equal weight;
* :mod:`tsys.research.pbo` - the probability of backtest overfitting (CSCV);
* :mod:`tsys.research.plateau` - choosing the centre of a robust plateau;
* :mod:`tsys.research.figures` - the report and its gates.
"""
