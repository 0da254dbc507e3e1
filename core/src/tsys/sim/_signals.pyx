# cython: language_level=3
"""Compiled SMA crossover signals: the loops behind :func:`tsys.sim.signals.sma_cross`.

Running window sums, added and subtracted in the order of ``signals.sma_cross_numpy`` (its
plain twin), so both give identical masks. Two loops, one per layout of the T x N panel:
row-major (bar-major; every symbol's sums advance one bar per row, the inner loop is over
symbols) and column-major (symbol-major; symbols in groups of four, so four independent
running sums advance together instead of one long dependency chain).
"""

from libc.math cimport INFINITY

cdef extern from *:
    """
    /* The crossings of K SMA pairs of one symbol from the running means of its W distinct
       windows, m[t * W + w] (known from bar win[w] - 1 on). Pair k compares windows fi[k]
       (fast) and si[k] (slow); its masks are up + k * ks and down + k * ks (T bytes each,
       zeroed); only the crossings are written. The result is that of comparing each pair's
       two means at every bar: up[t] = fast < slow at t - 1 and fast > slow at t.

       From bar wmax (every mean known at the bar before) the windows are kept in an order
       sorted by their mean (perm; insertion sort from the previous bar's order). Insertion
       sort swaps exactly the pairs that are strictly inverted now relative to the previous
       order; a pair that was not swapped keeps an order with fast <= slow or slow <= fast on
       both bars and cannot cross. A swapped pair (z before x, now m_z > m_x) crossed when it
       was strictly ordered the bar before (m_z < m_x): z rose above x. Equal means (ties)
       need nothing more. The bars before wmax are settled pair by pair. */
    static void tsys_cross_pairs(const double *m, Py_ssize_t T, Py_ssize_t W,
                                 const Py_ssize_t *win, Py_ssize_t K, const Py_ssize_t *fi,
                                 const Py_ssize_t *si, const Py_ssize_t *pstart,
                                 const Py_ssize_t *plist, unsigned char *up,
                                 unsigned char *down, Py_ssize_t ks, Py_ssize_t *perm)
    {
        Py_ssize_t wmax = 0, t, k, i, q, x, z, e;
        for (i = 0; i < W; i++)
            if (win[i] > wmax) wmax = win[i];
        for (k = 0; k < K; k++) {
            Py_ssize_t f = win[fi[k]], s = win[si[k]], w = f > s ? f : s;
            Py_ssize_t end = wmax < T ? wmax : T;
            const double *a = m + fi[k], *b = m + si[k];
            for (t = w; t < end; t++) {
                double a0 = a[(t - 1) * W], b0 = b[(t - 1) * W], a1 = a[t * W], b1 = b[t * W];
                if (a0 < b0 && a1 > b1) up[k * ks + t] = 1;
                if (a0 > b0 && a1 < b1) down[k * ks + t] = 1;
            }
        }
        if (wmax >= T) return;
        for (i = 0; i < W; i++) {  /* an order sorted at wmax - 1 */
            const double *r = m + (wmax - 1) * W;
            x = i;
            q = i;
            while (q > 0 && r[perm[q - 1]] > r[x]) { perm[q] = perm[q - 1]; q--; }
            perm[q] = x;
        }
        for (t = wmax; t < T; t++) {
            const double *r = m + t * W, *r0 = m + (t - 1) * W;
            for (i = 1; i < W; i++)  /* usually the order still holds: nothing crossed */
                if (r[perm[i - 1]] > r[perm[i]]) break;
            if (i == W) continue;
            for (; i < W; i++) {
                x = perm[i];
                q = i;
                while (q > 0 && r[perm[q - 1]] > r[x]) {
                    z = perm[q - 1];
                    if (r0[z] < r0[x]) {  /* z rose strictly above x */
                        for (e = pstart[z * W + x]; e < pstart[z * W + x + 1]; e++)
                            up[plist[e] * ks + t] = 1;
                        for (e = pstart[x * W + z]; e < pstart[x * W + z + 1]; e++)
                            down[plist[e] * ks + t] = 1;
                    }
                    perm[q] = z;
                    q--;
                }
                perm[q] = x;
            }
        }
    }
    """
    void tsys_cross_pairs(const double *m, Py_ssize_t T, Py_ssize_t W, const Py_ssize_t *win,
                          Py_ssize_t K, const Py_ssize_t *fi, const Py_ssize_t *si,
                          const Py_ssize_t *pstart, const Py_ssize_t *plist,
                          unsigned char *up, unsigned char *down, Py_ssize_t ks,
                          Py_ssize_t *perm) noexcept nogil


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


cdef inline void window_means(const double *row, Py_ssize_t T, const Py_ssize_t *w,
                              double *means, Py_ssize_t W, Py_ssize_t n,
                              double *out) noexcept nogil:
    """Up to four windows ``w[0..n-1]`` of one symbol at once: ``means[t * W + k]`` = running
    sum x (1 / w[k]) for ``t >= w[k] - 1`` (the sums of ``group4``, operation for operation;
    ``means`` points at the first window's column); ``out`` receives the final sums."""
    cdef Py_ssize_t t, k
    cdef double s[4]
    cdef double inv[4]
    cdef Py_ssize_t ww[4]
    cdef Py_ssize_t col[4]
    cdef double x
    for k in range(4):
        ww[k] = w[k] if k < n else w[0]
        col[k] = k if k < n else 0
        inv[k] = 1.0 / <double> ww[k]
        s[k] = 0.0
    for t in range(T):
        x = row[t]
        for k in range(4):
            s[k] += x
            if t >= ww[k]:
                s[k] -= row[t - ww[k]]
            if t >= ww[k] - 1:
                means[t * W + col[k]] = s[k] * inv[k]
    for k in range(4):
        out[k] = s[k]


def cross_grid_symbols(const double[:, ::1] c, const Py_ssize_t[::1] windows,
                       const Py_ssize_t[::1] fi, const Py_ssize_t[::1] si,
                       const Py_ssize_t[::1] pstart, const Py_ssize_t[::1] plist,
                       unsigned char[:, :, ::1] up, unsigned char[:, :, ::1] down,
                       double[:, ::1] means, Py_ssize_t[::1] perm):
    """K SMA pairs over symbol-major ``c`` (N x T row-major). ``windows`` are the distinct
    window lengths (W), pair k is ``(windows[fi[k]], windows[si[k]])``; ``pstart``/``plist``
    list the pairs of each (fast, slow) window pair (CSR over W x W); ``up``/``down`` are
    zeroed K x N x T; ``means`` is T x W scratch and ``perm`` W scratch. Each window's running
    mean of a symbol is computed once and shared by every pair using it; ``tsys_cross_pairs``
    finds the crossings (``fast - slow > 0`` is ``fast > slow`` for finite doubles, so the
    masks are those of ``cross_symbols``, pair by pair). Returns -1, the flat symbol-major
    index of the first non-finite close, or -2 when finite closes overflow the sums.
    """
    cdef Py_ssize_t N = c.shape[0], T = c.shape[1], W = windows.shape[0], K = fi.shape[0]
    cdef Py_ssize_t j, g, n, k, t
    cdef Py_ssize_t bad = -1
    cdef const double *row
    cdef double fin[4]
    if N == 0 or T == 0 or K == 0:
        return -1
    with nogil:
        for j in range(N):
            row = &c[j, 0]
            g = 0
            while g < W:
                n = W - g if W - g < 4 else 4
                window_means(row, T, &windows[g], &means[0, g], W, n, fin)
                for k in range(n):
                    if not finite(fin[k]):
                        bad = -2
                g += 4
            if bad != -1:
                for t in range(T):
                    if not finite(row[t]):
                        bad = j * T + t
                        break
                break
            tsys_cross_pairs(&means[0, 0], T, W, &windows[0], K, &fi[0], &si[0], &pstart[0],
                             &plist[0], &up[0, j, 0], &down[0, j, 0], N * T, &perm[0])
    return bad
