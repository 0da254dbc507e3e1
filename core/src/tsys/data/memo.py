"""A data hub that remembers its answers, optionally narrowed to fewer symbols.

Optimisation and validation backtest the same bucket many times over the same history; a
:class:`CachedHub` loads each panel (and each universe, market-cap table, news table...) once
per process. ``keep`` narrows every bars panel, e.g. to the first ``n`` symbols
(:func:`first_n`) or to a random half of the universe (a validation stress test).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from tsys.data.source import OPTIONAL_DATA

_MEMOISED = (*OPTIONAL_DATA, "symbols")


class CachedHub:
    """A :class:`~tsys.data.DataHub` that remembers answers, optionally keeping fewer symbols.

    ``keep(symbols) -> symbols`` narrows every bars panel (e.g. 100 symbols for a benchmark or a
    random half of the universe for a stress test); the benchmark stays when ``always`` has it.
    """

    def __init__(
        self,
        hub: Any,
        keep: Callable[[Sequence[str]], Sequence[str]] | None = None,
        always: Sequence[str] = (),
    ) -> None:
        self._hub = hub
        self._keep = keep
        self._always = tuple(always)
        self._memo: dict[Any, Any] = {}

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._hub, name)
        if not callable(attr) or name not in _MEMOISED:
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            key = (name, _key(args), _key(kwargs))
            if key not in self._memo:
                self._memo[key] = attr(*args, **kwargs)
            return self._memo[key]

        return call

    def bars(self, symbols: Any, start: Any, end: Any, *, asset_class: Any = None) -> Any:
        key = ("bars", _key(symbols), start, end, asset_class)
        if key not in self._memo:
            bars = self._hub.bars(symbols, start, end, asset_class=asset_class)
            if self._keep is not None and bars.shape[1]:
                kept = list(self._keep(bars.symbols))
                kept += [s for s in self._always if s in bars.symbols and s not in kept]
                bars = bars.select([s for s in bars.symbols if s in set(kept)])
            self._memo[key] = bars
        return self._memo[key]


def _key(x: Any) -> Any:
    if isinstance(x, dict):
        return tuple(sorted((k, _key(v)) for k, v in x.items()))
    if isinstance(x, list | tuple | set | frozenset):
        return tuple(_key(v) for v in x)
    return x


def first_n(n: int) -> Callable[[Sequence[str]], list[str]]:
    """Keep the first ``n`` symbols in alphabetical order (a reproducible small universe)."""
    return lambda syms: sorted(syms)[:n]
