"""Entry/exit signal masks for :func:`tsys.sim.simulate`: the SMA crossover.

``sma_cross(close, fast, slow)`` marks, for every symbol (column) of a T x N panel of closes,
the bars whose close crosses the fast simple moving average above the slow one (``up``) or
below it (``down``):

- ``SMA_w[t]`` is the mean of the closes ``t - w + 1 .. t``, undefined before ``t = w - 1``;
- with ``d = SMA_fast - SMA_slow``, ``up[t]`` is ``d[t - 1] < 0 < d[t]`` and ``down[t]`` is
  ``d[t - 1] > 0 > d[t]``, for ``t >= max(fast, slow)`` (both averages exist at ``t - 1``);
  equal averages are no cross.

The sums are running sums (each close added when it enters the window and subtracted when it
leaves, in that order) and ``SMA_w = sum x (1 / w)``, the arithmetic of the shared parity
workload's C reference, so its signals are reproduced bit for bit. Closes must be finite:
a window over a missing close has no mean, and running sums would carry the gap forever.

The compiled loops (``tsys.sim._signals``) and :func:`sma_cross_numpy` perform the same
operations in the same order and give identical masks; ``impl`` (or ``TSYS_SIM``) chooses.
The masks have the layout of ``close``: a column-major (symbol-major) panel gives
column-major masks, which :func:`tsys.sim.simulate` takes without a copy.

``sma_cross_grid(close, fasts, slows)`` gives the masks of K pairs at once, K x T x N, equal
to K calls of ``sma_cross`` (for :func:`tsys.sim.simulate_grid`). On column-major closes each
distinct window's running mean of a symbol is computed once and shared by every pair using it
(``fast - slow > 0`` is ``fast > slow`` for finite doubles, so comparing the two means gives
the same masks); a row-major panel runs ``sma_cross``'s row loop pair by pair.
"""

from __future__ import annotations

import importlib
import operator
from typing import Any

import numpy as np

from tsys.errors import ContractError, TsysError

__all__ = ["sma_cross", "sma_cross_grid", "sma_cross_numpy"]


def _window(name: str, w: Any) -> int:
    try:
        w = operator.index(w)
    except TypeError:
        raise ContractError(f"{name} must be a whole number of bars, got {w!r}") from None
    if w < 1:
        raise ContractError(f"{name} must be >= 1 bar, got {w}")
    return w


def _closes(close: Any) -> np.ndarray:
    if hasattr(close, "to_numpy"):
        close = close.to_numpy(dtype=np.float64)
    c = np.asarray(close, dtype=np.float64)
    if c.ndim != 2:
        raise ContractError(f"close must be 2-D (bars x symbols), got shape {c.shape}")
    if not (c.flags.c_contiguous or c.flags.f_contiguous):
        c = np.ascontiguousarray(c)
    return c


def _check_symbol_major(c: np.ndarray, bad: int) -> None:
    """Raise what a symbol-major kernel's return code says (-1: all well)."""
    if bad == -2:
        raise ContractError(
            "closes so large that their window sums overflow; SMA signals need closes "
            "below about 1e300"
        )
    if bad >= 0:
        raise _not_finite(c, bad, symbol_major=True)


def _not_finite(c: np.ndarray, flat: int, symbol_major: bool) -> ContractError:
    T, N = c.shape
    t, j = (flat % T, flat // T) if symbol_major else (flat // N, flat % N)
    return ContractError(
        f"close[{t}, {j}] is {c[t, j]!r}; SMA crossover signals need finite closes",
        hint="drop or fill the symbol's missing bars before computing its signals",
    )


def sma_cross_numpy(close: Any, fast: int, slow: int) -> tuple[np.ndarray, np.ndarray]:
    """The plain NumPy twin of the compiled loops: one vectorised step per bar, over symbols."""
    c = _closes(close)
    fast, slow = _window("fast", fast), _window("slow", slow)
    T, N = c.shape
    bad = np.flatnonzero(~np.isfinite(c.ravel(order="C")))
    if len(bad):
        raise _not_finite(c, int(bad[0]), symbol_major=False)
    order = "F" if (c.flags.f_contiguous and not c.flags.c_contiguous) else "C"
    up = np.zeros((T, N), dtype=bool, order=order)
    down = np.zeros((T, N), dtype=bool, order=order)
    w = max(fast, slow)
    inv_f, inv_s = 1.0 / fast, 1.0 / slow
    sf, ss, prev = np.zeros(N), np.zeros(N), np.zeros(N)
    for t in range(T):
        x = c[t]
        sf = sf + x
        ss = ss + x
        if t >= fast:
            sf = sf - c[t - fast]
        if t >= slow:
            ss = ss - c[t - slow]
        if t >= w - 1:
            d = sf * inv_f - ss * inv_s
            if t >= w:
                up[t] = (prev < 0.0) & (d > 0.0)
                down[t] = (prev > 0.0) & (d < 0.0)
            prev = d
    return up, down


def sma_cross(
    close: Any, fast: int, slow: int, *, impl: str | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Return the ``(up, down)`` SMA crossover masks of a T x N panel of closes.

    Parameters
    ----------
    close : array-like (T, N)
        Finite closes, bars x symbols; row-major or column-major (kept as given).
    fast, slow : int
        Window lengths in bars (>= 1).
    impl : {"cython", "python"}, optional
        Override ``TSYS_SIM`` (see :func:`tsys.sim.current_impl`).

    Returns
    -------
    up, down : bool ndarray (T, N)
        Cross above / below, in the memory layout of ``close``.
    """
    name = _impl(impl)
    if name == "python":
        return sma_cross_numpy(close, fast, slow)
    mod = _compiled()
    c = _closes(close)
    fast, slow = _window("fast", fast), _window("slow", slow)
    T, N = c.shape
    if c.flags.f_contiguous and not c.flags.c_contiguous:
        # symbol-major: work on the N x T transpose (a view) and hand back its transpose
        up, down = np.zeros((N, T), dtype=np.uint8), np.zeros((N, T), dtype=np.uint8)
        _check_symbol_major(c, mod.cross_symbols(c.T, fast, slow, up, down))
        return up.view(bool).T, down.view(bool).T
    up, down = np.zeros((T, N), dtype=np.uint8), np.zeros((T, N), dtype=np.uint8)
    bad = mod.cross_rows(c, fast, slow, up, down, np.empty(N), np.empty(N), np.empty(N))
    if bad >= 0:
        raise _not_finite(c, bad, symbol_major=False)
    return up.view(bool), down.view(bool)


def _impl(impl: str | None) -> str:
    from tsys.sim import current_impl

    name = current_impl() if impl is None else impl
    if name not in ("cython", "python"):
        raise TsysError(f"impl must be 'python' or 'cython', got {name!r}")
    return name


def _compiled() -> Any:
    try:
        return importlib.import_module("tsys.sim._signals")
    except ImportError as exc:
        raise TsysError(
            f"the compiled signals tsys.sim._signals are not available ({exc})",
            hint="build them with `uv sync` (needs a C compiler), or set TSYS_SIM=python",
        ) from None


def _pairs(fasts: Any, slows: Any) -> tuple[list[int], list[int]]:
    fs = [_window("fast", f) for f in fasts]
    ss = [_window("slow", s) for s in slows]
    if len(fs) != len(ss) or not fs:
        raise ContractError(
            f"fasts and slows must be two equally long, non-empty sequences of windows, "
            f"got {len(fs)} and {len(ss)}"
        )
    return fs, ss


def _grid_out(c: np.ndarray, K: int) -> tuple[np.ndarray, np.ndarray, bool]:
    """Zeroed K x T x N uint8 masks whose per-set panels have the layout of ``c``."""
    T, N = c.shape
    symbol_major = bool(c.flags.f_contiguous and not c.flags.c_contiguous)
    if symbol_major:
        up, down = np.zeros((K, N, T), np.uint8), np.zeros((K, N, T), np.uint8)
        return up.transpose(0, 2, 1), down.transpose(0, 2, 1), True
    return np.zeros((K, T, N), np.uint8), np.zeros((K, T, N), np.uint8), False


def sma_cross_grid(
    close: Any, fasts: Any, slows: Any, *, impl: str | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The ``(up, down)`` masks of K SMA pairs ``(fasts[k], slows[k])`` over one T x N panel.

    Returns two bool arrays K x T x N; ``up[k]``/``down[k]`` equal ``sma_cross(close, fasts[k],
    slows[k])`` and have the layout of ``close`` (column-major closes: each set's panel
    column-major, as :func:`tsys.sim.simulate_grid` reads it fastest without shared cash).
    """
    c = _closes(close)
    fs, ss = _pairs(fasts, slows)
    K = len(fs)
    name = _impl(impl)
    up, down, symbol_major = _grid_out(c, K)
    if name == "python":
        for k in range(K):
            up[k], down[k] = sma_cross_numpy(c, fs[k], ss[k])
        return up.view(bool), down.view(bool)
    mod = _compiled()
    if not symbol_major:
        for k in range(K):
            u, d = sma_cross(c, fs[k], ss[k], impl="cython")
            up[k], down[k] = u, d
        return up.view(bool), down.view(bool)
    windows = sorted(set(fs) | set(ss))
    at = {w: i for i, w in enumerate(windows)}
    W = len(windows)
    T = c.shape[0]
    fi = np.asarray([at[f] for f in fs], dtype=np.intp)
    si = np.asarray([at[s] for s in ss], dtype=np.intp)
    # the pairs of each (fast window, slow window), CSR over W x W
    key = fi * W + si
    plist = np.argsort(key, kind="stable").astype(np.intp)
    pstart = np.searchsorted(key[plist], np.arange(W * W + 1)).astype(np.intp)
    bad = mod.cross_grid_symbols(
        c.T, np.asarray(windows, dtype=np.intp), fi, si, pstart, plist,
        up.transpose(0, 2, 1), down.transpose(0, 2, 1), np.empty((T, W)), np.empty(W, np.intp),
    )  # fmt: skip
    _check_symbol_major(c, bad)
    return up.view(bool), down.view(bool)
