# cython: language_level=3
"""Compiled SMA crossover signals: the loops behind :func:`tsys.sim.signals.sma_cross`.

Running window sums, added and subtracted in the order of ``signals.sma_cross_numpy`` (its
plain twin), so both give identical masks. Two loops, one per layout of the T x N panel:
row-major (bar-major; every symbol's sums advance one bar per row, the inner loop is over
symbols) and column-major (symbol-major; symbols in groups of four, so four independent
running sums advance together instead of one long dependency chain).
"""

from libc.math cimport INFINITY

cdef enum:
    GROUP = 4


cdef inline bint finite(double x) noexcept nogil:
    return -INFINITY < x < INFINITY


def cross_rows(const double[:, ::1] c, Py_ssize_t fast, Py_ssize_t slow,
               unsigned char[:, ::1] up, unsigned char[:, ::1] down, double[::1] sf,
               double[::1] ss, double[::1] prev):
    """Row-major T x N ``c``; ``up``/``down`` zeroed T x N; ``sf``, ``ss``, ``prev`` N scratch.

    Returns -1 when every close is finite, else the flat index of the first one that is not.
    """
    cdef Py_ssize_t T = c.shape[0], N = c.shape[1], t, j
    cdef Py_ssize_t w = fast if fast > slow else slow
    cdef double inv_f = 1.0 / <double> fast, inv_s = 1.0 / <double> slow, x, d
    cdef Py_ssize_t bad = -1
    with nogil:
        for j in range(N):
            sf[j] = 0.0
            ss[j] = 0.0
        for t in range(T):
            if bad >= 0:
                break
            for j in range(N):
                x = c[t, j]
                if not finite(x):
                    bad = t * N + j
                    break
                sf[j] += x
                ss[j] += x
                if t >= fast:
                    sf[j] -= c[t - fast, j]
                if t >= slow:
                    ss[j] -= c[t - slow, j]
                if t >= w - 1:
                    d = sf[j] * inv_f - ss[j] * inv_s
                    if t >= w:
                        up[t, j] = prev[j] < 0.0 and d > 0.0
                        down[t, j] = prev[j] > 0.0 and d < 0.0
                    prev[j] = d
    return bad


cdef inline void group4(const double **rows, unsigned char **ups, unsigned char **downs,
                        Py_ssize_t T, Py_ssize_t fast, Py_ssize_t slow, double *out) noexcept nogil:
    """Four symbols at once, in phases so the steady state (``t >= max(fast, slow)``) has no
    branch; ``out`` receives the final sums (not finite when a close was not)."""
    cdef Py_ssize_t t, k, w = fast if fast > slow else slow
    cdef double inv_f = 1.0 / <double> fast, inv_s = 1.0 / <double> slow, x, d
    cdef double sf[4]
    cdef double ss[4]
    cdef double prev[4]
    # local copies: the byte stores below may alias anything reached through a pointer
    cdef const double *row[4]
    cdef unsigned char *u[4]
    cdef unsigned char *v[4]
    for k in range(4):
        row[k] = rows[k]
        u[k] = ups[k]
        v[k] = downs[k]
        sf[k] = 0.0
        ss[k] = 0.0
        prev[k] = 0.0
    for t in range(w if w < T else T):
        for k in range(4):
            x = row[k][t]
            sf[k] += x
            ss[k] += x
            if t >= fast:
                sf[k] -= row[k][t - fast]
            if t >= slow:
                ss[k] -= row[k][t - slow]
            if t == w - 1:
                prev[k] = sf[k] * inv_f - ss[k] * inv_s
    for t in range(w, T):
        for k in range(4):
            x = row[k][t]
            sf[k] += x
            sf[k] -= row[k][t - fast]
            ss[k] += x
            ss[k] -= row[k][t - slow]
            d = sf[k] * inv_f - ss[k] * inv_s
            u[k][t] = (prev[k] < 0.0) & (d > 0.0)
            v[k][t] = (prev[k] > 0.0) & (d < 0.0)
            prev[k] = d
    for k in range(4):
        out[k] = sf[k] + ss[k]


def cross_symbols(const double[:, ::1] c, Py_ssize_t fast, Py_ssize_t slow,
                  unsigned char[:, ::1] up, unsigned char[:, ::1] down):
    """Symbol-major ``c`` (N x T row-major, i.e. the transpose of the panel); ``up``/``down``
    zeroed N x T. Returns -1; else the flat (symbol-major) index of the first non-finite close
    of the first symbol that has one, or -2 when finite closes overflow the sums.
    """
    cdef Py_ssize_t N = c.shape[0], T = c.shape[1], t, g, k, n, j0
    cdef double fin[GROUP]
    cdef const double *row[GROUP]
    cdef unsigned char *u[GROUP]
    cdef unsigned char *v[GROUP]
    cdef Py_ssize_t bad = -1
    if N == 0 or T == 0:
        return -1
    with nogil:
        j0 = 0
        while j0 < N and bad < 0:
            n = N - j0 if N - j0 < GROUP else GROUP
            for k in range(n):
                row[k] = &c[j0 + k, 0]
                u[k] = &up[j0 + k, 0]
                v[k] = &down[j0 + k, 0]
            for k in range(n, GROUP):  # a short last group repeats its first symbol
                row[k] = row[0]
                u[k] = u[0]
                v[k] = v[0]
            group4(row, u, v, T, fast, slow, fin)
            for k in range(n):
                if not finite(fin[k]):
                    # a running sum is not finite: find the close that made it so
                    for t in range(T):
                        if not finite(row[k][t]):
                            bad = (j0 + k) * T + t
                            break
                    if bad < 0:
                        bad = -2  # finite closes whose sums overflow
                    break
            j0 += GROUP
    return bad
