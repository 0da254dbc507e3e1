# cython: language_level=3
"""The compiled simulator: the rules of ``tsys.sim.reference`` as a typed loop.

Every arithmetic step mirrors ``reference.run_kernel`` in the same order, so both produce
bit-identical fills and equity; the property tests hold them to that. ``run_kernel`` takes K
decision sets (K x T x N decision panels read through their strides, K x N parameters) and
runs them one after the other over the same bars (``run_sets``), nothing of the bars copied.
Without shared cash the sub-accounts are independent, so the four passes of a bar run symbol
by symbol (one loop instead of four); their fills are staged per pass and appended in the
reference's order. With column-major (symbol-major) bars the loop goes further
(``kernel_by_symbol``): block of bars after block, each symbol runs through the block's bars,
skipping from decision to decision (``tsys_decisions``, ``quiet_bars``) while the next
symbol's bars are fetched (``ahead``), and the block's fills are put into the reference's bar
order (``merge_block``). ATR and daily volatility are computed on demand from the bars
(``atr_at``, ``vol_at``), only for the held positions and the orders that need them. No Python
object is touched inside the bar loop; fills go to C buffers that grow geometrically and
become the NumPy arrays of the result at the end (handed over, not copied).
"""

import numpy as np

cimport numpy as cnp
from libc.math cimport INFINITY, NAN, fabs, floor, log, sqrt
from libc.stdint cimport uint64_t
from libc.stdlib cimport calloc, free, malloc, realloc
from libc.string cimport memcpy
from cpython.pycapsule cimport PyCapsule_Destructor, PyCapsule_GetPointer, PyCapsule_New

cnp.import_array()

cdef extern from *:
    """
    #if defined(__GNUC__) || defined(__clang__)
    #define TSYS_PREFETCH(p) __builtin_prefetch((const void *)(p))
    #else
    #define TSYS_PREFETCH(p) ((void)0)
    #endif
    """
    void TSYS_PREFETCH(const double *p) noexcept nogil
    void TSYS_PREFETCH_BYTES "TSYS_PREFETCH"(const unsigned char *p) noexcept nogil

cdef extern from *:
    """
    #include <math.h>
    #include <stdint.h>
    #include <string.h>

    /* The bars d + 1 (ascending) whose previous close d, d0 <= d < d1, carries an entry or an
       exit of one symbol, not both (masks contiguous over its bars). Eight closes at a time:
       a word without any flag is skipped, and in one with flags only the flagged bytes are
       looked at (lowest first, on little-endian machines by their trailing zero bits). */
    static Py_ssize_t tsys_decisions(const unsigned char *E, const unsigned char *X,
                                     Py_ssize_t d0, Py_ssize_t d1, Py_ssize_t *dl)
    {
        Py_ssize_t d = d0, n = 0, i;
        uint64_t e, x, w;
        for (; d + 8 <= d1; d += 8) {
            memcpy(&e, E + d, 8);
            memcpy(&x, X + d, 8);
            w = e | x;
            if (w == 0) continue;
    #if (defined(__GNUC__) || defined(__clang__)) && defined(__BYTE_ORDER__) \
        && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
            while (w) {
                i = d + (__builtin_ctzll(w) >> 3);
                if ((E[i] != 0) != (X[i] != 0)) dl[n++] = i + 1;
                w &= w - 1;                       /* the lowest flag bit ... */
                w &= ~(((uint64_t)0xFF) << (((i - d) & 7) * 8));  /* ... and its byte */
            }
    #else
            for (i = d; i < d + 8; i++)
                if ((E[i] != 0) != (X[i] != 0)) dl[n++] = i + 1;
    #endif
        }
        for (; d < d1; d++)
            if ((E[d] != 0) != (X[d] != 0)) dl[n++] = d + 1;
        return n;
    }

    /* Quiet bars t0 .. t1 - 1 of one sub-account (cash, and pos shares marked at the last
       valid close, *mark before t0): eq[k] += cash + pos * mark, co[k] += cash. The run's
       closes usually are all valid: then the mark is the close itself and the loop has no
       dependency from bar to bar (the compiler vectorises it); the arithmetic is the same. */
    static void tsys_quiet_held(const double *restrict Cj, double *restrict eq,
                                double *restrict co, Py_ssize_t t0, Py_ssize_t t1,
                                double cash, double pos)
    {
        Py_ssize_t k;
        for (k = t0; k < t1; k++) {
            eq[k] += cash + pos * Cj[k];
            co[k] += cash;
        }
    }

    static void tsys_quiet_flat(double *restrict eq, double *restrict co, Py_ssize_t t0,
                                Py_ssize_t t1, double cash)
    {
        Py_ssize_t k;
        for (k = t0; k < t1; k++) {
            eq[k] += cash;
            co[k] += cash;
        }
    }

    static void tsys_quiet(const double *Cj, double *eq, double *co, Py_ssize_t t0,
                           Py_ssize_t t1, double cash, double pos, double *mark)
    {
        Py_ssize_t k;
        int ok = 1;
        double m, cj;
        if (!(pos > 0.0)) {
            tsys_quiet_flat(eq, co, t0, t1, cash);
            return;
        }
        for (k = t0; k < t1; k++)
            ok &= (Cj[k] > 0.0) & (Cj[k] < INFINITY);
        if (ok) {
            tsys_quiet_held(Cj, eq, co, t0, t1, cash, pos);
            if (t1 > t0) *mark = Cj[t1 - 1];
            return;
        }
        m = *mark;
        for (k = t0; k < t1; k++) {
            cj = Cj[k];
            if (cj > 0.0 && cj < INFINITY) m = cj;
            eq[k] += cash + pos * m;
            co[k] += cash;
        }
        *mark = m;
    }
    """
    Py_ssize_t tsys_decisions(const unsigned char *E, const unsigned char *X, Py_ssize_t d0,
                              Py_ssize_t d1, Py_ssize_t *dl) noexcept nogil
    void tsys_quiet(const double *Cj, double *eq, double *co, Py_ssize_t t0, Py_ssize_t t1,
                    double cash, double pos, double *mark) noexcept nogil

# Reason codes (tsys.sim.REASONS) and order kinds, as in reference.py.
cdef enum:
    ENTRY = 0
    REBALANCE = 1
    EXIT = 2
    STOP = 3
    TARGET = 4
    TRAILING_STOP = 5
    TIME_STOP = 6
    K_NONE = 0
    K_WEIGHT = 1
    K_QTY = 2
    K_SIG_ENTRY = 3
    K_SIG_EXIT = 4


cdef double floor_lot(double x, double lot) noexcept nogil:
    if lot == 1.0:
        return floor(x)
    return floor(x / lot) * lot


cdef double fee_of(double q, double px, double rate, double per_share, double minimum) noexcept nogil:
    cdef double f = q * px * rate + q * per_share
    if f < minimum:
        f = minimum
    return f


cdef double affordable(double q, double px, double avail, double rate, double per_share,
                       double minimum, double lot) noexcept nogil:
    cdef double q2
    cdef int k = 0
    if avail <= 0.0:
        return 0.0
    if q * px + fee_of(q, px, rate, per_share, minimum) <= avail:
        return q
    q2 = floor_lot(avail / (px * (1.0 + rate) + per_share), lot)
    if q2 > q:
        q2 = q
    if q2 > 0.0 and q2 * px + fee_of(q2, px, rate, per_share, minimum) > avail:
        if avail > minimum:
            q2 = floor_lot((avail - minimum) / px, lot)
        else:
            q2 = 0.0
        if q2 > q:
            q2 = q
    while q2 > 0.0 and q2 * px + fee_of(q2, px, rate, per_share, minimum) > avail and k < 4:
        q2 = floor_lot(q2 - lot, lot)
        k += 1
    if q2 > 0.0 and q2 * px + fee_of(q2, px, rate, per_share, minimum) > avail:
        q2 = 0.0
    if q2 < 0.0:
        q2 = 0.0
    return q2


cdef bint valid_bar(double o, double h, double lo, double c, double v) noexcept nogil:
    return (0.0 < v < INFINITY and 0.0 < o < INFINITY and 0.0 < h < INFINITY
            and 0.0 < lo < INFINITY and 0.0 < c < INFINITY)


cdef int buf_init(FillBuf *b, Py_ssize_t cap) noexcept nogil:
    b.n = 0
    b.cap = cap
    b.cur = 0
    b.sid = <long long *> malloc(cap * sizeof(long long))
    b.bar = <long long *> malloc(cap * sizeof(long long))
    b.sym = <long long *> malloc(cap * sizeof(long long))
    b.side = <signed char *> malloc(cap * sizeof(signed char))
    b.reason = <signed char *> malloc(cap * sizeof(signed char))
    b.qty = <double *> malloc(cap * sizeof(double))
    b.price = <double *> malloc(cap * sizeof(double))
    b.ref = <double *> malloc(cap * sizeof(double))
    b.fee = <double *> malloc(cap * sizeof(double))
    b.slip = <double *> malloc(cap * sizeof(double))
    b.unfilled = <double *> malloc(cap * sizeof(double))
    b.stop0 = <double *> malloc(cap * sizeof(double))
    b.pos_after = <double *> malloc(cap * sizeof(double))
    if (b.sid == NULL or b.bar == NULL or b.sym == NULL or b.side == NULL or b.reason == NULL
            or b.qty == NULL or b.price == NULL or b.ref == NULL or b.fee == NULL or b.slip == NULL
            or b.unfilled == NULL or b.stop0 == NULL or b.pos_after == NULL):
        return -1
    return 0


cdef void buf_free(FillBuf *b) noexcept nogil:
    free(b.sid); free(b.bar); free(b.sym); free(b.side); free(b.reason); free(b.qty); free(b.price)
    free(b.ref); free(b.fee); free(b.slip); free(b.unfilled); free(b.stop0); free(b.pos_after)


cdef int buf_grow(FillBuf *b) noexcept nogil:
    cdef Py_ssize_t cap = b.cap * 2
    cdef void *p
    p = realloc(b.sid, cap * sizeof(long long))
    if p == NULL: return -1
    b.sid = <long long *> p
    p = realloc(b.bar, cap * sizeof(long long))
    if p == NULL: return -1
    b.bar = <long long *> p
    p = realloc(b.sym, cap * sizeof(long long))
    if p == NULL: return -1
    b.sym = <long long *> p
    p = realloc(b.side, cap * sizeof(signed char))
    if p == NULL: return -1
    b.side = <signed char *> p
    p = realloc(b.reason, cap * sizeof(signed char))
    if p == NULL: return -1
    b.reason = <signed char *> p
    p = realloc(b.qty, cap * sizeof(double))
    if p == NULL: return -1
    b.qty = <double *> p
    p = realloc(b.price, cap * sizeof(double))
    if p == NULL: return -1
    b.price = <double *> p
    p = realloc(b.ref, cap * sizeof(double))
    if p == NULL: return -1
    b.ref = <double *> p
    p = realloc(b.fee, cap * sizeof(double))
    if p == NULL: return -1
    b.fee = <double *> p
    p = realloc(b.slip, cap * sizeof(double))
    if p == NULL: return -1
    b.slip = <double *> p
    p = realloc(b.unfilled, cap * sizeof(double))
    if p == NULL: return -1
    b.unfilled = <double *> p
    p = realloc(b.stop0, cap * sizeof(double))
    if p == NULL: return -1
    b.stop0 = <double *> p
    p = realloc(b.pos_after, cap * sizeof(double))
    if p == NULL: return -1
    b.pos_after = <double *> p
    b.cap = cap
    return 0


cdef int record(FillBuf *b, Py_ssize_t t, Py_ssize_t j, int side, int reason, double q,
                double px, double ref, double fee, double unf, double stop0,
                double pos_after) noexcept nogil:
    cdef Py_ssize_t i
    if b.n == b.cap:
        if buf_grow(b) != 0:
            return -1
    i = b.n
    b.sid[i] = b.cur
    b.bar[i] = t
    b.sym[i] = j
    b.side[i] = side
    b.reason[i] = reason
    b.qty[i] = q
    b.price[i] = px
    b.ref[i] = ref
    b.fee[i] = fee
    b.slip[i] = fabs(px - ref) * q if q > 0.0 else 0.0
    b.unfilled[i] = unf
    b.stop0[i] = stop0
    b.pos_after[i] = pos_after
    b.n = i + 1
    return 0


cdef struct State:
    # per-symbol state, each an array of N
    double *pos
    double *cash_j
    double *mark
    double *avg
    long long *ebar
    double *hh
    double *fstop
    double *ftgt
    double *used
    int *pend
    double *pend_val
    double *pend_lim
    double *pend_stop
    double *pend_tgt
    double *b_q
    double *b_des
    double *b_px
    double *b_ref
    int *b_reason
    Py_ssize_t *b_list
    unsigned char *rule


cdef struct Bars:
    # the T x N panels as flat arrays: element (t, j) at t * st + j * sj (row-major T x N:
    # st = N, sj = 1; symbol-major, i.e. N x T row-major: st = 1, sj = T)
    const double *o
    const double *h
    const double *lo
    const double *c
    const double *v
    Py_ssize_t T
    Py_ssize_t N
    Py_ssize_t st
    Py_ssize_t sj


cdef struct Pan:
    # an optional decision panel of K sets (a = NULL: not given): element (k, t, j) at
    # a[k * sk + t * st + j * sj], in any layout; a zero stride broadcasts (a panel shared by
    # every set, a size per symbol...)
    const double *a
    Py_ssize_t sk
    Py_ssize_t st
    Py_ssize_t sj


cdef struct Msk:
    # an entry or exit mask of K sets, strided like Pan (a = NULL: no signals)
    const unsigned char *a
    Py_ssize_t sk
    Py_ssize_t st
    Py_ssize_t sj


cdef struct Dec:
    # the decisions of one run: the panels (set k's are offset by k * sk) and the run's flags
    Pan tg
    Pan lim
    Pan spx
    Pan tpx
    Msk ent
    Msk ext
    bint use_signals


cdef double atr_at(const Bars *p, Py_ssize_t k, Py_ssize_t j, Py_ssize_t w) noexcept nogil:
    """ATR known at the close of bar ``k``: the mean of the true ranges of bars k-w+1..k.

    NaN unless all ``w`` true ranges exist (finite high, low and previous close).
    """
    cdef Py_ssize_t i, ST = p.st, J = j * p.sj
    cdef double s = 0.0, hi, l, pc, tr, x
    if k + 1 < w or w < 1:
        return NAN
    for i in range(k - w + 1, k + 1):
        hi = p.h[i * ST + J]
        l = p.lo[i * ST + J]
        if not (fabs(hi) < INFINITY and fabs(l) < INFINITY):
            return NAN
        tr = hi - l
        if i > 0:
            pc = p.c[(i - 1) * ST + J]
            if not (fabs(pc) < INFINITY):
                return NAN
            x = fabs(hi - pc)
            if x > tr:
                tr = x
            x = fabs(l - pc)
            if x > tr:
                tr = x
        s += tr
    return s / w


cdef double log_return(const Bars *p, Py_ssize_t k, Py_ssize_t j) noexcept nogil:
    """log(close[k] / close[k-1]); NaN when either close is missing or not positive."""
    cdef double a = p.c[k * p.st + j * p.sj], b = p.c[(k - 1) * p.st + j * p.sj], x
    if not (0.0 < a < INFINITY and 0.0 < b < INFINITY):
        return NAN
    x = a / b
    if not (0.0 < x < INFINITY):
        return NAN
    return log(x)


cdef double vol_at(const Bars *p, Py_ssize_t t, Py_ssize_t j, Py_ssize_t w) noexcept nogil:
    """Daily volatility usable at the open of ``t``: the sample standard deviation (two-pass)
    of the valid log returns of bars max(1, t-w)..t-1; NaN until two exist."""
    cdef Py_ssize_t k, k0 = t - w, n = 0
    cdef double s = 0.0, s2 = 0.0, r, m, d
    if k0 < 1:
        k0 = 1
    for k in range(k0, t):
        r = log_return(p, k, j)
        if r == r:
            s += r
            n += 1
    if n < 2:
        return NAN
    m = s / n
    for k in range(k0, t):
        r = log_return(p, k, j)
        if r == r:
            d = r - m
            s2 += d * d
    return sqrt(s2 / (n - 1))


cdef double stop_level(State *st, const Bars *p, Py_ssize_t t, Py_ssize_t j, const double *sl,
                       const double *atrm, const long long *atrw, bint *trail) noexcept nogil:
    cdef double s = -INFINITY, s2, s3, a
    trail[0] = False
    if st.fstop[j] == st.fstop[j]:
        s = st.fstop[j]
    if sl[j] == sl[j]:
        s2 = st.avg[j] * (1.0 - sl[j])
        if s2 > s:
            s = s2
    if atrm[j] == atrm[j] and t > 0:
        a = atr_at(p, t - 1, j, atrw[j])
        if a == a:
            s3 = st.hh[j] - atrm[j] * a
            if s3 > s:
                s = s3
                trail[0] = True
    return s


cdef int do_sell(State *st, FillBuf *b, double *cash, bint sharing, Py_ssize_t t, Py_ssize_t j,
                 double q_des, double px, double ref, int reason, double vol_tj,
                 const double *maxp, const double *lot, const double *fee_rate,
                 const double *fee_ps, const double *fee_min) noexcept nogil:
    cdef double cap = INFINITY, q, gross, fee, avail
    if maxp[j] < INFINITY:
        cap = floor_lot(maxp[j] * vol_tj, lot[j]) - st.used[j]
        if cap < 0.0:
            cap = 0.0
    q = q_des if q_des <= cap else cap
    if q <= 0.0:
        return record(b, t, j, -1, reason, 0.0, NAN, NAN, 0.0, q_des, NAN, st.pos[j])
    gross = q * px
    fee = fee_of(q, px, fee_rate[j], fee_ps[j], fee_min[j])
    if sharing:
        avail = cash[0] + gross
    else:
        avail = st.cash_j[j] + gross
    if fee > avail:
        fee = avail
    if sharing:
        cash[0] += gross - fee
    else:
        st.cash_j[j] += gross - fee
    st.used[j] += q
    if q >= st.pos[j]:
        st.pos[j] = 0.0
        st.avg[j] = 0.0
        st.ebar[j] = -1
        st.hh[j] = NAN
        st.fstop[j] = NAN
        st.ftgt[j] = NAN
    else:
        st.pos[j] -= q
    return record(b, t, j, -1, reason, q, px, ref, fee, q_des - q, NAN, st.pos[j])


cdef struct Params:
    # per-symbol parameter arrays (N each) and run flags
    const double *fee_rate
    const double *fee_ps
    const double *fee_min
    const double *slip
    const double *impact
    const double *maxp
    const double *lot
    const double *sl
    const double *tp
    const double *atrm
    const long long *atrw
    const long long *volw
    const long long *tstop
    bint sharing
    bint tgt_is_qty


cdef inline int sell(State *st, FillBuf *b, double *cash, const Params *q, Py_ssize_t t,
                     Py_ssize_t j, double q_des, double px, double ref, int reason,
                     double vol_tj) noexcept nogil:
    return do_sell(st, b, cash, q.sharing, t, j, q_des, px, ref, reason, vol_tj, q.maxp, q.lot,
                   q.fee_rate, q.fee_ps, q.fee_min)


cdef int open_order(State *st, const Bars *p, const Params *q, FillBuf *b, double *cash,
                    Py_ssize_t t, Py_ssize_t j, double e_total, bint ts, int kind,
                    Py_ssize_t *nb) noexcept nogil:
    """Pass B for one symbol: its time stop or pending order at the open of ``t``.

    Sells execute at once; a buy is stashed in ``st.b_*`` and appended to ``st.b_list``.
    Returns -1 when out of memory, else 0.
    """
    cdef Py_ssize_t i = t * p.st + j * p.sj
    cdef double oj, vj, val, delta, ref, s, dv, part, capq, px, q_tgt, cap, e_j = 0.0
    cdef int reason
    cdef bint is_limit
    if not valid_bar(p.o[i], p.h[i], p.lo[i], p.c[i], p.v[i]):
        return 0  # nothing trades on this bar; the order waits for a tradable one
    oj = p.o[i]
    vj = p.v[i]
    st.pend[j] = K_NONE
    if ts:
        return sell(st, b, cash, q, t, j, st.pos[j], oj * (1.0 - q.slip[j]), oj, TIME_STOP, vj)
    val = st.pend_val[j]
    if kind == K_SIG_EXIT:
        if st.pos[j] <= 0.0:
            return 0
        delta = -st.pos[j]
        reason = EXIT
    elif kind == K_SIG_ENTRY and st.pos[j] > 0.0:
        return 0
    else:
        if kind == K_QTY:
            delta = floor_lot(val, q.lot[j]) - st.pos[j]
        elif val == 0.0:
            delta = -st.pos[j]
        else:
            e_j = e_total
            if not q.sharing:
                e_j = st.cash_j[j]
                if st.pos[j] > 0.0:
                    e_j += st.pos[j] * oj
            if kind == K_SIG_ENTRY and q.tgt_is_qty:
                delta = floor_lot(val, q.lot[j])
            else:
                delta = val * e_j / oj - st.pos[j]
        if st.pos[j] == 0.0:
            reason = ENTRY
        elif kind != K_QTY and val == 0.0:
            reason = EXIT
        elif kind == K_QTY and delta == -st.pos[j]:
            reason = EXIT
        else:
            reason = REBALANCE
    if delta == 0.0:
        return 0
    ref = oj
    is_limit = False
    if delta > 0.0 and st.pend_lim[j] == st.pend_lim[j]:
        is_limit = True
        if p.lo[i] > st.pend_lim[j]:
            return record(b, t, j, 1, reason, 0.0, NAN, NAN, 0.0, delta, NAN, st.pos[j])
        if st.pend_lim[j] < ref:
            ref = st.pend_lim[j]
    s = 0.0
    if not is_limit:
        s = q.slip[j]
        if q.impact[j] > 0.0 and q.volw[j] > 0:
            dv = vol_at(p, t, j, q.volw[j])
            if dv == dv:
                part = fabs(delta)
                if q.maxp[j] < INFINITY:
                    capq = q.maxp[j] * vj
                    if part > capq:
                        part = capq
                s = s + q.impact[j] * dv * sqrt(part / vj)
    if delta < 0.0:
        px = ref * (1.0 - s)
        if kind == K_WEIGHT and val != 0.0:
            q_tgt = floor_lot(val * e_j / (px * (1.0 + q.fee_rate[j]) + q.fee_ps[j]), q.lot[j])
            delta = q_tgt - st.pos[j]
            if delta >= 0.0:
                return 0
        return sell(st, b, cash, q, t, j, -delta, px, ref, reason, vj)
    px = ref * (1.0 + s)
    if (kind == K_WEIGHT or kind == K_SIG_ENTRY) and not q.tgt_is_qty:
        q_tgt = floor_lot(val * e_j / (px * (1.0 + q.fee_rate[j]) + q.fee_ps[j]), q.lot[j])
        delta = q_tgt - st.pos[j]
        if delta <= 0.0:
            return 0
    cap = INFINITY
    if q.maxp[j] < INFINITY:
        cap = floor_lot(q.maxp[j] * vj, q.lot[j])
    st.b_des[j] = delta
    st.b_q[j] = delta if delta <= cap else cap
    st.b_px[j] = px
    st.b_ref[j] = ref
    st.b_reason[j] = reason
    st.b_list[nb[0]] = j
    nb[0] += 1
    return 0


cdef int execute_buy(State *st, const Bars *p, const Params *q, FillBuf *b, double *cash,
                     Py_ssize_t t, Py_ssize_t j) noexcept nogil:
    """Pass C for one stashed buy: as much of it as the cash available pays for."""
    cdef double avail, qq, px, fee, stop0
    cdef bint trail
    avail = cash[0] if q.sharing else st.cash_j[j]
    qq = affordable(st.b_q[j], st.b_px[j], avail, q.fee_rate[j], q.fee_ps[j], q.fee_min[j],
                    q.lot[j])
    px = st.b_px[j]
    if qq <= 0.0:
        return record(b, t, j, 1, st.b_reason[j], 0.0, NAN, NAN, 0.0, st.b_des[j], NAN,
                      st.pos[j])
    fee = fee_of(qq, px, q.fee_rate[j], q.fee_ps[j], q.fee_min[j])
    if q.sharing:
        cash[0] -= qq * px + fee
    else:
        st.cash_j[j] -= qq * px + fee
    st.used[j] += qq
    if st.pos[j] == 0.0:
        st.ebar[j] = t
        st.hh[j] = st.b_ref[j]
        st.fstop[j] = st.pend_stop[j]
        st.ftgt[j] = st.pend_tgt[j]
        st.avg[j] = px
        st.pos[j] = qq
        stop0 = stop_level(st, p, t, j, q.sl, q.atrm, q.atrw, &trail)
        if not (stop0 > -INFINITY):
            stop0 = NAN
    else:
        st.avg[j] = (st.avg[j] * st.pos[j] + qq * px) / (st.pos[j] + qq)
        st.pos[j] += qq
        stop0 = NAN
    return record(b, t, j, 1, st.b_reason[j], qq, px, st.b_ref[j], fee, st.b_des[j] - qq, stop0,
                  st.pos[j])


cdef int intrabar(State *st, const Bars *p, const Params *q, FillBuf *b, double *cash,
                  Py_ssize_t t, Py_ssize_t j) noexcept nogil:
    """Pass D for one held position with a level: stop, target, gaps; then the highest high."""
    cdef Py_ssize_t i = t * p.st + j * p.sj
    cdef double s_lvl, p_lvl, p2, oj, vj
    cdef bint trail
    cdef int sreason, rc = 0
    if not valid_bar(p.o[i], p.h[i], p.lo[i], p.c[i], p.v[i]):
        return 0
    s_lvl = stop_level(st, p, t, j, q.sl, q.atrm, q.atrw, &trail)
    p_lvl = INFINITY
    if st.ftgt[j] == st.ftgt[j]:
        p_lvl = st.ftgt[j]
    if q.tp[j] == q.tp[j]:
        p2 = st.avg[j] * (1.0 + q.tp[j])
        if p2 < p_lvl:
            p_lvl = p2
    sreason = TRAILING_STOP if trail else STOP
    oj = p.o[i]
    vj = p.v[i]
    if oj <= s_lvl:
        rc = sell(st, b, cash, q, t, j, st.pos[j], oj * (1.0 - q.slip[j]), oj, sreason, vj)
    elif oj >= p_lvl:
        rc = sell(st, b, cash, q, t, j, st.pos[j], oj, oj, TARGET, vj)
    elif p.lo[i] <= s_lvl:
        rc = sell(st, b, cash, q, t, j, st.pos[j], s_lvl * (1.0 - q.slip[j]), s_lvl, sreason,
                  vj)
    elif p.h[i] >= p_lvl:
        rc = sell(st, b, cash, q, t, j, st.pos[j], p_lvl, p_lvl, TARGET, vj)
    if st.pos[j] > 0.0 and p.h[i] > st.hh[j]:
        st.hh[j] = p.h[i]
    return rc


cdef int buf_append(FillBuf *dst, FillBuf *src) noexcept nogil:
    """Move the records of ``src`` to the end of ``dst`` (in order) and empty ``src``."""
    cdef Py_ssize_t i, k
    for i in range(src.n):
        if dst.n == dst.cap:
            if buf_grow(dst) != 0:
                return -1
        k = dst.n
        dst.sid[k] = src.sid[i]
        dst.bar[k] = src.bar[i]
        dst.sym[k] = src.sym[i]
        dst.side[k] = src.side[i]
        dst.reason[k] = src.reason[i]
        dst.qty[k] = src.qty[i]
        dst.price[k] = src.price[i]
        dst.ref[k] = src.ref[i]
        dst.fee[k] = src.fee[i]
        dst.slip[k] = src.slip[i]
        dst.unfilled[k] = src.unfilled[i]
        dst.stop0[k] = src.stop0[i]
        dst.pos_after[k] = src.pos_after[i]
        dst.n = k + 1
    src.n = 0
    return 0


cdef inline bint take_decision(State *st, Py_ssize_t j, Py_ssize_t d, const Dec *dc,
                               bint tgt_is_qty) noexcept nogil:
    """Pass A for one symbol: the decision of the close of ``d`` replaces its pending order.

    ``dc`` holds one set's panels (each read through its own strides).
    """
    cdef bint e, x
    cdef double val
    if dc.use_signals:
        e = dc.ent.a[d * dc.ent.st + j * dc.ent.sj] != 0
        x = dc.ext.a[d * dc.ext.st + j * dc.ext.sj] != 0
        if e == x:
            return False  # neither, or both (they cancel out)
        if e:
            st.pend[j] = K_SIG_ENTRY
            st.pend_val[j] = dc.tg.a[d * dc.tg.st + j * dc.tg.sj]
        else:
            st.pend[j] = K_SIG_EXIT
    elif dc.tg.a != NULL:
        val = dc.tg.a[d * dc.tg.st + j * dc.tg.sj]
        if val != val:
            return False
        st.pend[j] = K_QTY if tgt_is_qty else K_WEIGHT
        st.pend_val[j] = val
    else:
        return False
    st.pend_lim[j] = dc.lim.a[d * dc.lim.st + j * dc.lim.sj] if dc.lim.a != NULL else NAN
    st.pend_stop[j] = dc.spx.a[d * dc.spx.st + j * dc.spx.sj] if dc.spx.a != NULL else NAN
    st.pend_tgt[j] = dc.tpx.a[d * dc.tpx.st + j * dc.tpx.sj] if dc.tpx.a != NULL else NAN
    return True


cdef inline bint decided(const Dec *dc, Py_ssize_t d, Py_ssize_t j) noexcept nogil:
    """Whether the close of ``d`` carries a decision for symbol ``j`` (a prefetch hint)."""
    cdef double val
    if dc.use_signals:
        return (dc.ent.a[d * dc.ent.st + j * dc.ent.sj]
                != dc.ext.a[d * dc.ext.st + j * dc.ext.sj])
    if dc.tg.a == NULL:
        return False
    val = dc.tg.a[d * dc.tg.st + j * dc.tg.sj]
    return val == val


cdef bint init_state(State *st, const Params *q, Py_ssize_t N, double cash0) noexcept nogil:
    """Flat, unpended symbols; returns whether any symbol has a time stop."""
    cdef Py_ssize_t j
    cdef bint any_ts = False
    for j in range(N):
        st.pos[j] = 0.0
        st.cash_j[j] = cash0
        st.mark[j] = NAN
        st.avg[j] = 0.0
        st.ebar[j] = -1
        st.hh[j] = NAN
        st.fstop[j] = NAN
        st.ftgt[j] = NAN
        st.used[j] = 0.0
        st.pend[j] = K_NONE
        st.pend_val[j] = 0.0
        st.pend_lim[j] = NAN
        st.pend_stop[j] = NAN
        st.pend_tgt[j] = NAN
        # whether a held position can meet a stop or target whatever its entry levels
        st.rule[j] = q.sl[j] == q.sl[j] or q.tp[j] == q.tp[j] or q.atrm[j] == q.atrm[j]
        if q.tstop[j] > 0:
            any_ts = True
    return any_ts


cdef int kernel(const Bars *p, const Params *q, const Dec *dc, double cash0, double *equity,
                double *cash_out, double *interest, const double *accr, double *positions,
                double *sub_eq, State *st, FillBuf *b, FillBuf *stage) noexcept nogil:
    """The bar-major loop (row-major T x N bars) of one set: every pass of a bar over all
    symbols. ``positions``/``sub_eq`` (T x N row-major) are NULL unless recorded; ``accr``
    (T,) is NULL without interest on cash."""
    cdef Py_ssize_t T = p.T, N = p.N
    cdef Py_ssize_t t, j, k, nb, row
    cdef bint rec = positions != NULL
    cdef bint tgt_is_qty = q.tgt_is_qty
    cdef bint sharing = q.sharing
    cdef bint any_ts
    cdef double cash = cash0
    cdef bint need_e, ts
    cdef int kind
    cdef double e_total, m, total, scale, cj, pv, se, te, tc, x, it
    cdef const double *O = p.o
    cdef const double *H = p.h
    cdef const double *L = p.lo
    cdef const double *C = p.c
    cdef const double *V = p.v
    # without shared cash the phases of one bar run symbol by symbol; their fills are staged
    # per phase and appended in the reference's order (opening orders, buys, intrabar exits)
    cdef FillBuf *fb = &stage[0] if not sharing else b
    cdef FillBuf *fc = &stage[1] if not sharing else b
    cdef FillBuf *fd = &stage[2] if not sharing else b

    any_ts = init_state(st, q, N, cash0)

    for t in range(T):
        row = t * N
        if not sharing:
            # ---- all four passes, one symbol at a time (the accounts are independent)
            te = 0.0
            tc = 0.0
            it = 0.0
            for j in range(N):
                if accr != NULL and t > 0:
                    x = st.cash_j[j] * accr[t]
                    st.cash_j[j] += x
                    it += x
                st.used[j] = 0.0
                if t > 0:
                    take_decision(st, j, t - 1, dc, tgt_is_qty)
                kind = st.pend[j]
                ts = (any_ts and q.tstop[j] > 0 and st.pos[j] > 0.0
                      and t - st.ebar[j] >= q.tstop[j])
                if ts or kind != K_NONE:
                    nb = 0
                    if open_order(st, p, q, fb, &cash, t, j, 0.0, ts, kind, &nb) != 0:
                        return -1
                    if nb > 0 and execute_buy(st, p, q, fc, &cash, t, j) != 0:
                        return -1
                if st.pos[j] > 0.0 and (st.rule[j] or st.fstop[j] == st.fstop[j]
                                        or st.ftgt[j] == st.ftgt[j]):
                    if intrabar(st, p, q, fd, &cash, t, j) != 0:
                        return -1
                cj = C[row + j]
                if 0.0 < cj < INFINITY:
                    st.mark[j] = cj
                se = st.cash_j[j]
                if st.pos[j] > 0.0:
                    se += st.pos[j] * st.mark[j]
                if rec:
                    positions[row + j] = st.pos[j]
                    sub_eq[row + j] = se
                te += se
                tc += st.cash_j[j]
                # an order decided at this close reads the next bar soon: fetch it now
                if t + 1 < T and decided(dc, t, j):
                    TSYS_PREFETCH(&O[row + N + j])
                    TSYS_PREFETCH(&C[row + N + j])
                    TSYS_PREFETCH(&H[row + N + j])
                    TSYS_PREFETCH(&L[row + N + j])
                    TSYS_PREFETCH(&V[row + N + j])
            if fb.n > 0 and buf_append(b, fb) != 0:
                return -1
            if fc.n > 0 and buf_append(b, fc) != 0:
                return -1
            if fd.n > 0 and buf_append(b, fd) != 0:
                return -1
            equity[t] = te
            cash_out[t] = tc
            if accr != NULL:
                interest[t] = it
            continue

        # ---- interest on the cash held over the period since the previous close
        if accr != NULL and t > 0:
            x = cash * accr[t]
            cash += x
            interest[t] = x

        # ---- pass A: decisions of the previous close; equity at the open for sizing
        need_e = False
        for j in range(N):
            st.used[j] = 0.0
        if t > 0:
            for j in range(N):
                if take_decision(st, j, t - 1, dc, tgt_is_qty) or st.pos[j] > 0.0:
                    # passes B and D read this bar soon; fetch it now (the rows are cold)
                    TSYS_PREFETCH(&O[row + j])
                    TSYS_PREFETCH(&H[row + j])
                    TSYS_PREFETCH(&L[row + j])
                    TSYS_PREFETCH(&V[row + j])
        if not tgt_is_qty:
            for j in range(N):
                if st.pend[j] == K_WEIGHT or st.pend[j] == K_SIG_ENTRY:
                    need_e = True
                    break
        e_total = 0.0
        if need_e:
            e_total = cash
            for j in range(N):
                if st.pos[j] > 0.0:
                    m = O[row + j]
                    if not (0.0 < m < INFINITY):
                        m = st.mark[j]
                    e_total += st.pos[j] * m

        # ---- pass B: orders at the open; sells now, buys stashed
        nb = 0
        for j in range(N):
            kind = st.pend[j]
            ts = (any_ts and q.tstop[j] > 0 and st.pos[j] > 0.0
                  and t - st.ebar[j] >= q.tstop[j])
            if not ts and kind == K_NONE:
                continue
            if open_order(st, p, q, b, &cash, t, j, e_total, ts, kind, &nb) != 0:
                return -1

        # ---- pass C: buys, scaled to the cash available
        if nb > 0:
            total = 0.0
            for k in range(nb):
                j = st.b_list[k]
                if st.b_q[j] > 0.0:
                    total += st.b_q[j] * st.b_px[j] + fee_of(
                        st.b_q[j], st.b_px[j], q.fee_rate[j], q.fee_ps[j], q.fee_min[j])
            if total > cash and total > 0.0:
                scale = cash / total
                for k in range(nb):
                    j = st.b_list[k]
                    st.b_q[j] = floor_lot(st.b_q[j] * scale, q.lot[j])
            for k in range(nb):
                if execute_buy(st, p, q, b, &cash, t, st.b_list[k]) != 0:
                    return -1

        # ---- pass D: intrabar stops and targets, then the close
        pv = 0.0
        for j in range(N):
            if st.pos[j] > 0.0 and (st.rule[j] or st.fstop[j] == st.fstop[j]
                                    or st.ftgt[j] == st.ftgt[j]):
                if intrabar(st, p, q, b, &cash, t, j) != 0:
                    return -1
            cj = C[row + j]
            if 0.0 < cj < INFINITY:
                st.mark[j] = cj
            if rec:
                positions[row + j] = st.pos[j]
            if st.pos[j] > 0.0:
                pv += st.pos[j] * st.mark[j]
        equity[t] = cash + pv
        cash_out[t] = cash
    return 0


cdef enum:
    LEAD = 16  # decisions: how far ahead the symbol-major loop fetches the bars an order reads


cdef Py_ssize_t BLOCK_BARS = 0  # the symbol-major loop's block of bars; 0: chosen per run


def block_bars(n=None):
    """The symbol-major loop's block length in bars: ``n`` > 0 fixes it (tests shorten it so
    that short panels cross blocks), 0 restores the default (chosen per run from the number
    of signals, see ``run_kernel``). Returns the setting in force before the call."""
    global BLOCK_BARS
    cdef Py_ssize_t old = BLOCK_BARS
    if n is not None:
        BLOCK_BARS = max(0, int(n))
    return old


cdef inline void fetch_bar(const Bars *p, Py_ssize_t i) noexcept nogil:
    TSYS_PREFETCH(p.o + i)
    TSYS_PREFETCH(p.h + i)
    TSYS_PREFETCH(p.lo + i)
    TSYS_PREFETCH(p.c + i)
    TSYS_PREFETCH(p.v + i)


cdef void quiet_bars(const double *Cj, double *eq, double *co, double *pos_out,
                     double *sub_out, Py_ssize_t N, Py_ssize_t t0, Py_ssize_t t1, double cash,
                     double pos, double *mark) noexcept nogil:
    """Bars ``t0 .. t1 - 1`` of one symbol with nothing to do (no decision, no pending order,
    no stop, target or time stop): add its sub-account to ``eq`` and ``co`` (cash, plus the
    position at the last valid close when held), and record it when ``pos_out`` is not NULL
    (T x N row-major, this symbol's column at offset 0). Without recording, ``tsys_quiet``
    (vectorised when every close of the run is valid) does the same arithmetic.

    Flat, the mark is left alone: it only counts while a position is held, and a position
    opens only on a bar with a valid close, which marks it.
    """
    cdef Py_ssize_t k
    cdef double m = mark[0], cj, se
    if pos_out == NULL:
        tsys_quiet(Cj, eq, co, t0, t1, cash, pos, mark)
        return
    for k in range(t0, t1):
        se = cash
        if pos > 0.0:
            cj = Cj[k]
            if 0.0 < cj < INFINITY:
                m = cj
            se = cash + pos * m
        eq[k] += se
        co[k] += cash
        pos_out[k * N] = pos
        sub_out[k * N] = se
    if pos > 0.0:
        mark[0] = m


cdef void quiet_bars_accruing(const double *Cj, double *eq, double *co, double *it,
                              const double *accr, double *pos_out, double *sub_out,
                              Py_ssize_t N, Py_ssize_t t0, Py_ssize_t t1, double *cash,
                              double pos, double *mark) noexcept nogil:
    """``quiet_bars`` while idle cash earns interest (``t0 >= 1``): the sub-account's cash
    grows by ``accr[k]`` at each bar before it is marked, as at every other bar."""
    cdef Py_ssize_t k
    cdef double m = mark[0], cj, se, x, c = cash[0]
    for k in range(t0, t1):
        x = c * accr[k]
        c += x
        it[k] += x
        se = c
        if pos > 0.0:
            cj = Cj[k]
            if 0.0 < cj < INFINITY:
                m = cj
            se += pos * m
        eq[k] += se
        co[k] += c
        if pos_out != NULL:
            pos_out[k * N] = pos
            sub_out[k * N] = se
    cash[0] = c
    if pos > 0.0:
        mark[0] = m


cdef inline Py_ssize_t ahead(const double *c, const unsigned char *e, const unsigned char *x,
                             Py_ssize_t pf, Py_ssize_t upto) noexcept nogil:
    """Fetch the closes (and, every 64 bars, the masks when ``e`` is not NULL) of bars ``pf``
    .. ``upto`` - 1 of the next symbol while this one runs; returns the next bar to fetch.
    Its bars are far from this symbol's, so the hardware would not see them coming."""
    while pf < upto:
        TSYS_PREFETCH(c + pf)
        if e != NULL and pf % 64 == 0:
            TSYS_PREFETCH_BYTES(e + pf)
            TSYS_PREFETCH_BYTES(x + pf)
        pf += 8
    return pf


cdef struct Out:
    # one set's outputs of the symbol-major loop (see kernel_by_symbol)
    double *equity
    double *cash_out
    double *interest
    const double *accr
    double *positions
    double *sub_eq


cdef inline bint watched(State *st, const Params *q, Py_ssize_t j, double pos,
                         bint any_ts) noexcept nogil:
    """Whether a held position can meet a stop, a target or a time stop."""
    return pos > 0.0 and ((any_ts and q.tstop[j] > 0) or st.rule[j]
                          or st.fstop[j] == st.fstop[j] or st.ftgt[j] == st.ftgt[j])


cdef int symbol_bars(const Bars *p, const Params *q, const Dec *dc, const Out *out, State *st,
                     FillBuf *stage, Py_ssize_t *dl, Py_ssize_t j, Py_ssize_t t0,
                     Py_ssize_t t1, bint any_ts) noexcept nogil:
    """Bars ``t0 .. t1 - 1`` of symbol ``j`` (its state in ``st``), the four passes of each;
    fills staged per pass (opening orders, buys, intrabar exits). With signals, the bars
    with a decision are listed first (``dl``) and the bars between them skipped."""
    cdef Py_ssize_t T = p.T, N = p.N, J = j * p.T, t, i, nb, nd = 0, di = 0, nxt
    cdef const double *Cj = p.c + J
    cdef double *pos_out = NULL
    cdef double *sub_out = NULL
    cdef bint use_signals = dc.use_signals, ts
    cdef int kind
    cdef double cash = 0.0, cj, se, pos, x
    # the next symbol's closes and masks over these bars, fetched ahead as this one advances
    cdef const double *nc = Cj + T
    cdef const unsigned char *ne = NULL
    cdef const unsigned char *nx = NULL
    cdef Py_ssize_t pf = t0, reach = t1 if j + 1 < N else t0
    if out.positions != NULL:
        pos_out = out.positions + j
        sub_out = out.sub_eq + j
    if use_signals:
        ne = dc.ent.a + (j + 1) * dc.ent.sj
        nx = dc.ext.a + (j + 1) * dc.ext.sj
    if use_signals:
        nd = tsys_decisions(dc.ent.a + j * dc.ent.sj, dc.ext.a + j * dc.ext.sj,
                            t0 - 1 if t0 > 0 else 0, t1 - 1, dl)
        for i in range(nd if nd < LEAD else LEAD):
            fetch_bar(p, J + dl[i])
    t = t0
    while t < t1:
        if pf < reach:
            pf = ahead(nc, ne, nx, pf, t + 64 if t + 64 < reach else reach)
        pos = st.pos[j]
        if (t > 0 and use_signals and st.pend[j] == K_NONE
                and not watched(st, q, j, pos, any_ts)):
            # nothing to do until the next decision: only the sub-account's value
            nxt = dl[di] if di < nd else t1
            if nxt > t:
                if out.accr != NULL:
                    quiet_bars_accruing(Cj, out.equity, out.cash_out, out.interest, out.accr,
                                        pos_out, sub_out, N, t, nxt, &st.cash_j[j], pos,
                                        &st.mark[j])
                else:
                    quiet_bars(Cj, out.equity, out.cash_out, pos_out, sub_out, N, t, nxt,
                               st.cash_j[j], pos, &st.mark[j])
                t = nxt
                if t >= t1:
                    break
        if out.accr != NULL and t > 0:
            x = st.cash_j[j] * out.accr[t]
            st.cash_j[j] += x
            out.interest[t] += x
        if use_signals:
            if di < nd and dl[di] == t:
                take_decision(st, j, t - 1, dc, q.tgt_is_qty)
                if di + LEAD < nd:
                    fetch_bar(p, J + dl[di + LEAD])
                di += 1
        elif t > 0 and dc.tg.a != NULL:
            take_decision(st, j, t - 1, dc, q.tgt_is_qty)
        kind = st.pend[j]
        pos = st.pos[j]
        ts = any_ts and q.tstop[j] > 0 and pos > 0.0 and t - st.ebar[j] >= q.tstop[j]
        if ts or kind != K_NONE or watched(st, q, j, pos, False):
            st.used[j] = 0.0
            if ts or kind != K_NONE:
                nb = 0
                if open_order(st, p, q, &stage[0], &cash, t, j, 0.0, ts, kind, &nb) != 0:
                    return -1
                if nb > 0 and execute_buy(st, p, q, &stage[1], &cash, t, j) != 0:
                    return -1
            if watched(st, q, j, st.pos[j], False):
                if intrabar(st, p, q, &stage[2], &cash, t, j) != 0:
                    return -1
        cj = Cj[t]
        if 0.0 < cj < INFINITY:
            st.mark[j] = cj
        se = st.cash_j[j]
        if st.pos[j] > 0.0:
            se += st.pos[j] * st.mark[j]
        if pos_out != NULL:
            pos_out[t * N] = st.pos[j]
            sub_out[t * N] = se
        out.equity[t] += se
        out.cash_out[t] += st.cash_j[j]
        t += 1
    return 0


cdef int merge_block(FillBuf *stage, FillBuf *b, Py_ssize_t t0, Py_ssize_t nbars,
                     Py_ssize_t *cnt) noexcept nogil:
    """Append the fills staged over one block of bars to ``b`` in the reference's order (bar,
    pass, symbol) and empty the stages: a stable counting sort on (bar, pass), each stage
    holding its pass's fills symbol after symbol. ``cnt`` has room for 3 x ``nbars``."""
    cdef Py_ssize_t n = stage[0].n + stage[1].n + stage[2].n, k, i, x, c, d
    cdef FillBuf *s
    if n == 0:
        return 0
    while b.n + n > b.cap:
        if buf_grow(b) != 0:
            return -1
    for x in range(3 * nbars):
        cnt[x] = 0
    for k in range(3):
        for i in range(stage[k].n):
            cnt[(stage[k].bar[i] - t0) * 3 + k] += 1
    c = b.n
    for x in range(3 * nbars):
        i = cnt[x]
        cnt[x] = c
        c += i
    for k in range(3):
        s = &stage[k]
        for i in range(s.n):
            x = (s.bar[i] - t0) * 3 + k
            d = cnt[x]
            cnt[x] = d + 1
            b.sid[d] = s.sid[i]
            b.bar[d] = s.bar[i]
            b.sym[d] = s.sym[i]
            b.side[d] = s.side[i]
            b.reason[d] = s.reason[i]
            b.qty[d] = s.qty[i]
            b.price[d] = s.price[i]
            b.ref[d] = s.ref[i]
            b.fee[d] = s.fee[i]
            b.slip[d] = s.slip[i]
            b.unfilled[d] = s.unfilled[i]
            b.stop0[d] = s.stop0[i]
            b.pos_after[d] = s.pos_after[i]
        s.n = 0
    b.n += n
    return 0


cdef int kernel_by_symbol(const Bars *p, const Params *q, const Dec *dc, double cash0,
                          const Out *out, State *st, FillBuf *b, FillBuf *stage,
                          Py_ssize_t *dl, Py_ssize_t *cnt, Py_ssize_t B) noexcept nogil:
    """The symbol-major loop of one set (no shared cash, N x T row-major bars).

    The sub-accounts are independent, so the four passes of a symbol's bar need nothing of
    the other symbols: within a block of ``B`` bars, one symbol runs through the block's bars
    (contiguous in this layout) before the next (``symbol_bars``). ``equity[t]`` and
    ``cash_out[t]`` (zero on entry) still add the sub-accounts in symbol order, as the
    reference does. The fills of a block, staged per pass, are appended to ``b`` in the
    reference's order (``merge_block``; the block keeps the staged fills and the outputs it
    adds to in cache). With signals the masks are contiguous over each symbol's bars
    (``st == 1``); ``dl`` has room for ``B`` bars and ``cnt`` for 3 x ``B``. ``positions``/
    ``sub_eq`` (T x N row-major) are NULL unless recorded; ``accr`` is NULL without interest
    on cash (``interest`` then stays zero).
    """
    cdef Py_ssize_t T = p.T, N = p.N, t0, t1, j
    cdef bint any_ts = init_state(st, q, N, cash0)
    t0 = 0
    while t0 < T:
        t1 = t0 + B if t0 + B < T else T
        for j in range(N):
            if symbol_bars(p, q, dc, out, st, stage, dl, j, t0, t1, any_ts) != 0:
                return -1
        if merge_block(stage, b, t0, t1 - t0, cnt) != 0:
            return -1
        t0 = t1
    return 0


cdef int run_sets(const Bars *p, const Params *q0, const Dec *d0, Py_ssize_t K, double cash0,
                  bint by_sym, double *equity, double *cash_out, double *interest,
                  const double *accr, double *positions, double *sub_eq, double *last_pos,
                  double *last_sub, State *st, FillBuf *b, FillBuf *stage,
                  Py_ssize_t *dl, Py_ssize_t *cnt, Py_ssize_t B) noexcept nogil:
    """Every decision set in turn over the same bars: set ``k`` reads its own panels (offset by
    ``k * sk``, nothing copied) and parameter rows, and writes row ``k`` of the outputs (equity
    and cash K x T, interest K x T, positions K x T x N when not NULL, last positions and
    sub-account equity K x N). Its fills carry ``k``."""
    cdef Py_ssize_t T = p.T, N = p.N, k, i, j
    cdef Params q
    cdef Dec d
    cdef double *pk
    cdef double *sk
    cdef double se
    cdef int rc
    cdef Out o
    for k in range(K):
        q = q0[0]
        q.fee_rate = q0.fee_rate + k * N; q.fee_ps = q0.fee_ps + k * N
        q.fee_min = q0.fee_min + k * N; q.slip = q0.slip + k * N
        q.impact = q0.impact + k * N; q.maxp = q0.maxp + k * N; q.lot = q0.lot + k * N
        q.sl = q0.sl + k * N; q.tp = q0.tp + k * N; q.atrm = q0.atrm + k * N
        q.atrw = q0.atrw + k * N; q.volw = q0.volw + k * N; q.tstop = q0.tstop + k * N
        d = d0[0]
        if d.tg.a != NULL:
            d.tg.a = d0.tg.a + k * d0.tg.sk
        if d.lim.a != NULL:
            d.lim.a = d0.lim.a + k * d0.lim.sk
        if d.spx.a != NULL:
            d.spx.a = d0.spx.a + k * d0.spx.sk
        if d.tpx.a != NULL:
            d.tpx.a = d0.tpx.a + k * d0.tpx.sk
        if d.use_signals:
            d.ent.a = d0.ent.a + k * d0.ent.sk
            d.ext.a = d0.ext.a + k * d0.ext.sk
        b.cur = k
        for i in range(3):
            stage[i].cur = k
        pk = positions + k * T * N if positions != NULL else NULL
        sk = sub_eq + k * T * N if sub_eq != NULL else NULL
        if by_sym:
            o.equity = equity + k * T
            o.cash_out = cash_out + k * T
            o.interest = interest + k * T
            o.accr = accr
            o.positions = pk
            o.sub_eq = sk
            rc = kernel_by_symbol(p, &q, &d, cash0, &o, st, b, stage, dl, cnt, B)
        else:
            rc = kernel(p, &q, &d, cash0, equity + k * T, cash_out + k * T, interest + k * T,
                        accr, pk, sk, st, b, stage)
        if rc != 0:
            return rc
        for j in range(N):
            last_pos[k * N + j] = st.pos[j]
            se = st.cash_j[j]
            if st.pos[j] > 0.0:
                se += st.pos[j] * st.mark[j]
            last_sub[k * N + j] = se
    return 0


def _symbol_major(x, bint mask):
    """``x`` (K x T x N) with each symbol's bars contiguous (a mask) or at least not
    interleaved with other symbols' (a panel; a zero stride broadcasts): as it is, or a
    symbol-major copy (of one set only when every set shares it)."""
    if x.shape[1] <= 1 or x.strides[1] == x.itemsize or (not mask and x.strides[1] == 0):
        return x
    shared = x.shape[0] > 1 and x.strides[0] == 0
    y = x[:1] if shared else x
    y = np.ascontiguousarray(y.transpose(0, 2, 1)).transpose(0, 2, 1)
    return np.broadcast_to(y, x.shape) if shared else y


def _bar_major(x):
    """``x`` (K x T x N) with each bar's symbols contiguous (or broadcast over them)."""
    if x.shape[2] <= 1 or x.strides[2] == x.itemsize or x.strides[2] == 0:
        return x
    shared = x.shape[0] > 1 and x.strides[0] == 0
    y = np.ascontiguousarray(x[:1] if shared else x)
    return np.broadcast_to(y, x.shape) if shared else y


cdef Pan pan_of(x):
    """A strided view of a K x T x N float64 panel; a = NULL when empty (not given)."""
    cdef Pan pn
    cdef const double[:, :, :] m
    pn.a = NULL
    pn.sk = pn.st = pn.sj = 0
    if x.shape[0] == 0 or x.size == 0:
        return pn
    m = x
    pn.a = &m[0, 0, 0]
    pn.sk = m.strides[0] // <Py_ssize_t> sizeof(double)
    pn.st = m.strides[1] // <Py_ssize_t> sizeof(double)
    pn.sj = m.strides[2] // <Py_ssize_t> sizeof(double)
    return pn


cdef Msk msk_of(x):
    cdef Msk mk
    cdef const unsigned char[:, :, :] m
    mk.a = NULL
    mk.sk = mk.st = mk.sj = 0
    if x.shape[0] == 0 or x.size == 0:
        return mk
    m = x
    mk.a = &m[0, 0, 0]
    mk.sk = m.strides[0]
    mk.st = m.strides[1]
    mk.sj = m.strides[2]
    return mk


def run_kernel(o, h, lo, c, v, tgt, int tgt_is_qty, int use_signals, ent, ext, lim, spx, tpx,
               atrw, volw, fee_rate, fee_ps, fee_min, slip, impact, maxp, lot, sl, tp, atrm,
               tstop, accr, double cash0, int sharing, int record_positions):
    """Run K decision sets; same arguments and result as ``tsys.sim.reference.run_kernel``.

    The T x N bars may be row-major (C order) or column-major (Fortran order, i.e. N x T
    row-major, as per-symbol series are usually stored). Without shared cash and with
    column-major bars the symbol-major loop runs on them as they are; otherwise the bar-major
    loop runs on row-major bars (a copy when they are not). The decision panels (K x T x N,
    any strides) are read in place, except that each loop wants a panel's fast axis to be
    its own (symbol-major: a symbol's bars; bar-major: a bar's symbols) and gets a copy of
    the decisions (never of the bars) otherwise. Every set runs over the same bars.
    """
    cdef Py_ssize_t T = c.shape[0], N = c.shape[1], K = fee_rate.shape[0], i, j, cap, scap, B
    cdef Py_ssize_t nsig
    cdef FillBuf b
    cdef FillBuf stage[3]
    cdef Params prm
    cdef State st
    cdef Bars bars
    cdef Dec dec
    cdef int rc
    cdef bint rec = record_positions != 0
    cdef Py_ssize_t *dl = NULL
    cdef bint by_sym = (sharing == 0 and T > 0 and N > 0
                        and all(x.flags.f_contiguous for x in (o, h, lo, c, v)))
    if by_sym:
        # N x T row-major views of the bars (no copy); the decisions follow them
        o, h, lo, c, v = o.T, h.T, lo.T, c.T, v.T
        tgt, lim, spx, tpx = (
            _symbol_major(x, False) if x.size > 0 else x for x in (tgt, lim, spx, tpx)
        )
        ent, ext = (_symbol_major(x, True) if x.size > 0 else x for x in (ent, ext))
    else:
        o, h, lo, c, v = (np.ascontiguousarray(x) for x in (o, h, lo, c, v))
        tgt, ent, ext, lim, spx, tpx = (
            _bar_major(x) if x.size > 0 else x for x in (tgt, ent, ext, lim, spx, tpx)
        )
    cdef const double[:, ::1] m_o = o, m_h = h, m_lo = lo, m_c = c, m_v = v
    cdef const double[:, ::1] m_fee_rate = fee_rate, m_fee_ps = fee_ps, m_fee_min = fee_min
    cdef const double[:, ::1] m_slip = slip, m_impact = impact, m_maxp = maxp, m_lot = lot
    cdef const double[:, ::1] m_sl = sl, m_tp = tp, m_atrm = atrm
    cdef const long long[:, ::1] m_atrw = atrw, m_volw = volw, m_tstop = tstop
    cdef const double[::1] m_accr = accr
    equity = np.zeros((K, T))
    cash_out = np.zeros((K, T))
    interest = np.zeros((K, T))
    positions = np.zeros((K, T, N)) if rec else np.zeros((0, 0, 0))
    sub_eq = np.zeros((K, T, N)) if (rec and not sharing) else np.zeros((0, 0, 0))
    last_pos = np.zeros((K, N))
    last_sub = np.full((K, N), cash0)
    cdef double[:, ::1] m_equity = equity, m_cash_out = cash_out, m_interest = interest
    cdef double[:, ::1] m_lp = last_pos, m_ls = last_sub
    cdef double[:, :, ::1] m_pos_out = positions, m_sub_out = sub_eq
    keep = []

    def arr(dtype):
        a = np.empty(max(N, 1), dtype=dtype)
        keep.append(a)
        return a

    a_pos, a_cash, a_mark, a_avg = arr(np.float64), arr(np.float64), arr(np.float64), arr(np.float64)
    a_ebar = arr(np.int64)
    a_hh, a_fstop, a_ftgt, a_used = arr(np.float64), arr(np.float64), arr(np.float64), arr(np.float64)
    a_pend = arr(np.intc)
    a_pv, a_pl, a_ps, a_pt = arr(np.float64), arr(np.float64), arr(np.float64), arr(np.float64)
    a_bq, a_bd, a_bp, a_br = arr(np.float64), arr(np.float64), arr(np.float64), arr(np.float64)
    a_breason = arr(np.intc)
    a_blist = arr(np.intp)
    a_rule = arr(np.uint8)
    cdef double[::1] m_pos = a_pos, m_cash = a_cash, m_mark = a_mark, m_avg = a_avg
    cdef long long[::1] m_ebar = a_ebar
    cdef double[::1] m_hh = a_hh, m_fstop = a_fstop, m_ftgt = a_ftgt, m_used = a_used
    cdef int[::1] m_pend = a_pend
    cdef double[::1] m_pv = a_pv, m_pl = a_pl, m_ps = a_ps, m_pt = a_pt
    cdef double[::1] m_bq = a_bq, m_bd = a_bd, m_bp = a_bp, m_br = a_br
    cdef int[::1] m_breason = a_breason
    cdef Py_ssize_t[::1] m_blist = a_blist
    cdef unsigned char[::1] m_rule = a_rule
    st.pos = &m_pos[0]; st.cash_j = &m_cash[0]; st.mark = &m_mark[0]; st.avg = &m_avg[0]
    st.ebar = &m_ebar[0]; st.hh = &m_hh[0]; st.fstop = &m_fstop[0]; st.ftgt = &m_ftgt[0]
    st.used = &m_used[0]; st.pend = &m_pend[0]; st.pend_val = &m_pv[0]; st.pend_lim = &m_pl[0]
    st.pend_stop = &m_ps[0]; st.pend_tgt = &m_pt[0]; st.b_q = &m_bq[0]; st.b_des = &m_bd[0]
    st.b_px = &m_bp[0]; st.b_ref = &m_br[0]; st.b_reason = &m_breason[0]
    st.b_list = &m_blist[0]; st.rule = &m_rule[0]

    out = {"equity": equity, "cash": cash_out, "interest": interest, "positions": positions,
           "sub_equity": sub_eq, "last_positions": last_pos, "last_sub_equity": last_sub}
    if not (T > 0 and N > 0 and K > 0):
        b.n = 0
        _fill_arrays(&b, out)
        return out
    bars.o = &m_o[0, 0]; bars.h = &m_h[0, 0]; bars.lo = &m_lo[0, 0]; bars.c = &m_c[0, 0]
    bars.v = &m_v[0, 0]; bars.T = T; bars.N = N
    bars.st = 1 if by_sym else N
    bars.sj = T if by_sym else 1
    dec.tg = pan_of(tgt)
    dec.lim = pan_of(lim)
    dec.spx = pan_of(spx)
    dec.tpx = pan_of(tpx)
    dec.use_signals = use_signals != 0
    if dec.use_signals:
        dec.ent = msk_of(ent)
        dec.ext = msk_of(ext)
    else:
        dec.ent = msk_of(np.zeros((0, 0, 0), dtype=np.uint8))
        dec.ext = dec.ent
    prm.fee_rate = &m_fee_rate[0, 0]; prm.fee_ps = &m_fee_ps[0, 0]
    prm.fee_min = &m_fee_min[0, 0]; prm.slip = &m_slip[0, 0]; prm.impact = &m_impact[0, 0]
    prm.maxp = &m_maxp[0, 0]; prm.lot = &m_lot[0, 0]; prm.sl = &m_sl[0, 0]; prm.tp = &m_tp[0, 0]
    prm.atrm = &m_atrm[0, 0]; prm.atrw = &m_atrw[0, 0]; prm.volw = &m_volw[0, 0]
    prm.tstop = &m_tstop[0, 0]
    prm.sharing = sharing != 0
    prm.tgt_is_qty = tgt_is_qty != 0
    B = T
    cap = 1024 if N * 4 < 1024 else N * 4
    scap = N if N > 16 else 16
    if by_sym and use_signals:
        # one order per signal at most (plus the stops): buffers sized so that the signals'
        # fills usually need no regrowth; blocks of about 4,096 fills of a set (at least
        # 256 bars), so that a block's staged fills stay in cache, and stages that large
        nsig = _signals_per_set(ent, ext)
        cap = max(cap, nsig * K + nsig * K // 4 + 1024)  # a margin: regrowth copies
        B = max(256, T * 4096 // (nsig + 1))
    if BLOCK_BARS > 0:
        B = BLOCK_BARS
    B = min(B, T)
    if by_sym and use_signals:
        scap = max(scap, 2 * nsig * B // T + 16)
    rc = buf_init(&b, cap)
    for i in range(3):
        rc |= buf_init(&stage[i], scap)
    try:
        if by_sym:
            dl = <Py_ssize_t *> malloc(4 * (B + 1) * sizeof(Py_ssize_t))
            if dl == NULL:
                rc = -1
        if rc != 0:
            raise MemoryError("could not allocate the simulator's fill buffers")
        with nogil:
            rc = run_sets(&bars, &prm, &dec, K, cash0, by_sym, &m_equity[0, 0],
                          &m_cash_out[0, 0], &m_interest[0, 0],
                          &m_accr[0] if m_accr.shape[0] > 0 else NULL,
                          &m_pos_out[0, 0, 0] if rec else NULL,
                          &m_sub_out[0, 0, 0] if (rec and not sharing) else NULL,
                          &m_lp[0, 0], &m_ls[0, 0], &st, &b, stage, dl, dl + B + 1, B)
        if rc != 0:
            raise MemoryError("the simulator ran out of memory while recording fills")
        _fill_arrays(&b, out)
    finally:
        free(dl)
        buf_free(&b)
        for i in range(3):
            buf_free(&stage[i])
    return out


def _signals_per_set(ent, ext):
    """About how many entries plus exits one set has: those of the first 16 symbols of the
    first, middle and last sets, scaled to every symbol (counting all of them would read the
    masks once more; a short estimate only makes the buffers grow)."""
    K, N = ent.shape[0], ent.shape[2]
    m = min(N, 16)
    ks = sorted({0, K // 2, K - 1})
    n = sum(int(np.count_nonzero(x[k, :, :m])) for k in ks for x in (ent, ext))
    return n * N // (m * len(ks))


cdef void _fill_arrays(FillBuf *b, dict out):
    """The recorded fills as NumPy arrays (``f_<field>``): each array takes its buffer over
    (nothing copied; the buffer is left NULL for ``buf_free``). No fills: empty arrays."""
    cdef Py_ssize_t n = b.n
    if n == 0:
        for name, dt in (("set", np.int64), ("bar", np.int64), ("sym", np.int64),
                         ("side", np.int8), ("reason", np.int8)):
            out["f_" + name] = np.empty(0, dtype=dt)
        for name in _F64_FIELDS:
            out["f_" + name] = np.empty(0, dtype=np.float64)
        return
    out["f_set"] = _own(<void **> &b.sid, n, sizeof(long long), cnp.NPY_INT64)
    out["f_bar"] = _own(<void **> &b.bar, n, sizeof(long long), cnp.NPY_INT64)
    out["f_sym"] = _own(<void **> &b.sym, n, sizeof(long long), cnp.NPY_INT64)
    out["f_side"] = _own(<void **> &b.side, n, 1, cnp.NPY_INT8)
    out["f_reason"] = _own(<void **> &b.reason, n, 1, cnp.NPY_INT8)
    out["f_qty"] = _own(<void **> &b.qty, n, sizeof(double), cnp.NPY_FLOAT64)
    out["f_price"] = _own(<void **> &b.price, n, sizeof(double), cnp.NPY_FLOAT64)
    out["f_ref_price"] = _own(<void **> &b.ref, n, sizeof(double), cnp.NPY_FLOAT64)
    out["f_fee"] = _own(<void **> &b.fee, n, sizeof(double), cnp.NPY_FLOAT64)
    out["f_slippage"] = _own(<void **> &b.slip, n, sizeof(double), cnp.NPY_FLOAT64)
    out["f_unfilled_qty"] = _own(<void **> &b.unfilled, n, sizeof(double), cnp.NPY_FLOAT64)
    out["f_stop0"] = _own(<void **> &b.stop0, n, sizeof(double), cnp.NPY_FLOAT64)
    out["f_pos_after"] = _own(<void **> &b.pos_after, n, sizeof(double), cnp.NPY_FLOAT64)


_F64_FIELDS = ("qty", "price", "ref_price", "fee", "slippage", "unfilled_qty", "stop0",
               "pos_after")


cdef void _release(object cap) noexcept:
    free(PyCapsule_GetPointer(cap, NULL))


cdef object _own(void **field, Py_ssize_t n, size_t size, int typenum):
    """A NumPy array of the first ``n`` items of a fill buffer (shrunk to them), which it
    takes over: freed with the array, and ``field`` is left NULL."""
    cdef cnp.npy_intp dims = n
    cdef void *p = realloc(field[0], n * size)
    if p != NULL:
        field[0] = p
    cap = PyCapsule_New(field[0], NULL, <PyCapsule_Destructor> _release)
    p = field[0]
    field[0] = NULL
    arr = cnp.PyArray_SimpleNewFromData(1, &dims, typenum, p)
    cnp.set_array_base(arr, cap)
    return arr
