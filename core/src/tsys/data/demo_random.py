"""The demo market's random streams and recursions (see :mod:`tsys.data.demo_market`).

Every stream is its own seeded generator and every recursion runs down the rows in blocks of
:data:`_BLOCK` that start at fixed rows, so the data up to any row never depends on how many
rows follow, nor on how many rows are generated at a time.
"""

from __future__ import annotations

import numpy as np


def _rng(seed: int, *stream: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, *stream])))


def _tdraws(rng: np.random.Generator, shape: tuple[int, int], df: float, clip: float):
    """Unit-variance student-t shocks, clipped; row-major so a longer draw extends a shorter."""
    z = rng.standard_t(df, size=shape) / np.sqrt(df / (df - 2.0))
    return np.clip(z, -clip, clip, out=z)


_BLOCK = 256


class _Garch:
    """Conditional variances of a GARCH(1,1) driven by standardised shocks, row block by block.

    ``h[k+1] = w + (a z[k]^2 + b) h[k]`` is linear in ``h``, so each block of :data:`_BLOCK`
    rows is solved with a cumulative product and sum instead of a Python loop over days. Blocks
    start at fixed rows, so the first rows never depend on how many rows follow, and the state
    carries over between calls: consecutive calls on consecutive rows (each a whole number of
    blocks but the last) give exactly the variances of one call on all the rows.
    """

    def __init__(self, var: np.ndarray, a: float, b: float) -> None:
        self.a, self.b = a, b
        self.w = var * (1 - a - b)
        self.h = np.array(var, dtype=np.float64)

    def rows(self, z: np.ndarray) -> np.ndarray:
        a, b, w, h = self.a, self.b, self.w, self.h
        out = np.empty_like(z)
        for s in range(0, len(z), _BLOCK):
            c = a * z[s : s + _BLOCK] ** 2 + b
            p = np.cumprod(c, axis=0)  # p[i] = c[0]..c[i]
            prev_p = np.vstack([np.ones_like(h)[None, :], p[:-1]])
            # h[s+i] = prev_p[i] * (h_s + w * sum_{j<i} 1 / p[j])
            inv = np.vstack([np.zeros_like(h)[None, :], np.cumsum(1.0 / p[:-1], axis=0)])
            out[s : s + _BLOCK] = prev_p * (h + w * inv)
            h = p[-1] * (h + w * (inv[-1] + 1.0 / p[-1]))
        self.h = h
        return out


def _garch_var(z: np.ndarray, var: np.ndarray, a: float, b: float) -> np.ndarray:
    """Conditional variances of a GARCH(1,1) over all the rows of ``z`` (T x N); see _Garch."""
    return _Garch(var, a, b).rows(z)


def _rowdot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b`` with each row summed in a fixed order.

    BLAS picks its blocking from the matrix shape (and the CPU), so ``a @ b`` can differ in the
    last bit between a panel and its prefix; einsum's own loop does not, which keeps a longer
    market a pure extension of a shorter one.
    """
    return np.einsum("tn,ng->tg", a, b, optimize=False)


class _AR1:
    """``d[k] = phi d[k-1] + u[k]`` (d[-1] = 0) down the rows, blockwise like :class:`_Garch`
    (and like it, carried over between calls on consecutive rows)."""

    def __init__(self, phi: float, shape: tuple[int, ...]) -> None:
        self.d = np.zeros(shape)
        self.pw_full = phi ** np.arange(1, _BLOCK + 1, dtype=np.float64)

    def rows(self, u: np.ndarray) -> np.ndarray:
        out = np.empty_like(u)
        d = self.d
        for s in range(0, len(u), _BLOCK):
            blk = u[s : s + _BLOCK]
            pw = self.pw_full[: len(blk)].reshape((-1,) + (1,) * (u.ndim - 1))
            out[s : s + _BLOCK] = pw * (d + np.cumsum(blk / pw, axis=0))
            d = out[s + len(blk) - 1]
        self.d = d
        return out


def _ar1(u: np.ndarray, phi: float) -> np.ndarray:
    """:class:`_AR1` over all the rows of ``u``."""
    return _AR1(phi, u.shape[1:]).rows(u)
