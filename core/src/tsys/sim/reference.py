"""The simulator's rules in plain Python: slow, readable, and the oracle of the property tests.

:func:`run_kernel` has exactly the signature and the arithmetic (operation by operation, so the
floating-point results are bit-identical) of ``tsys.sim._fill.run_kernel``. Both receive the
panels and per-symbol parameter arrays prepared by :func:`tsys.sim.simulate`, which documents the
rules; this module is where to read them step by step.

:func:`run_kernel` takes K decision sets (the leading axis of the decision panels) and runs
them one after the other, each an independent simulation over the same bars (``_run_set``).
One bar ``t`` of a set runs in four passes, after idle cash has earned its interest for the
period since the previous close (``accr[t]`` x the cash at that close, when a rate is given):

A. pending orders are replaced by the decisions taken at the close of ``t - 1``; an order whose
   bar cannot trade (no volume, or a missing or non-positive price) stays pending;
B. at the open: time stops, then the pending orders; sells execute at once, buys are collected;
C. buys execute, scaled down pro rata (shared cash) and then one by one to the cash available;
D. intrabar stops and targets of the positions now held, then the close marks equity.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

INF = math.inf

# Reason codes; tsys.sim.REASONS maps them to names. _fill.pyx uses the same numbers.
ENTRY, REBALANCE, EXIT, STOP, TARGET, TRAILING_STOP, TIME_STOP = range(7)
# Order kinds.
NONE, WEIGHT, QTY, SIG_ENTRY, SIG_EXIT = range(5)

FILL_FIELDS_F = (
    "qty",
    "price",
    "ref_price",
    "fee",
    "slippage",
    "unfilled_qty",
    "stop0",
    "pos_after",
)


def floor_lot(x: float, lot: float) -> float:
    if lot == 1.0:
        return float(math.floor(x))
    return math.floor(x / lot) * lot


def _fee(q: float, px: float, rate: float, per_share: float, minimum: float) -> float:
    f = q * px * rate + q * per_share
    if f < minimum:
        f = minimum
    return f


def _affordable(
    q: float, px: float, avail: float, rate: float, per_share: float, minimum: float, lot: float
) -> float:
    """Largest lot multiple <= q whose cost (notional + fee) fits in ``avail``."""
    if avail <= 0.0:
        return 0.0
    if q * px + _fee(q, px, rate, per_share, minimum) <= avail:
        return q
    q2 = floor_lot(avail / (px * (1.0 + rate) + per_share), lot)
    if q2 > q:
        q2 = q
    if q2 > 0.0 and q2 * px + _fee(q2, px, rate, per_share, minimum) > avail:
        q2 = floor_lot((avail - minimum) / px, lot) if avail > minimum else 0.0
        if q2 > q:
            q2 = q
    k = 0
    while q2 > 0.0 and q2 * px + _fee(q2, px, rate, per_share, minimum) > avail and k < 4:
        q2 = floor_lot(q2 - lot, lot)
        k += 1
    if q2 > 0.0 and q2 * px + _fee(q2, px, rate, per_share, minimum) > avail:
        q2 = 0.0
    if q2 < 0.0:
        q2 = 0.0
    return q2


def _valid(o: float, h: float, lo: float, c: float, v: float) -> bool:
    return 0.0 < v < INF and 0.0 < o < INF and 0.0 < h < INF and 0.0 < lo < INF and 0.0 < c < INF


def atr_at(h: np.ndarray, lo: np.ndarray, c: np.ndarray, k: int, j: int, w: int) -> float:
    """ATR known at the close of bar ``k``: the mean of the true ranges of bars k-w+1..k.

    The true range of bar i is ``max(high - low, |high - prev close|, |low - prev close|)``
    (``high - low`` on the first bar). NaN unless all ``w`` true ranges exist (finite high, low
    and previous close). Computed on demand, only for held positions, summing oldest first.
    """
    if k + 1 < w or w < 1:
        return math.nan
    s = 0.0
    for i in range(k - w + 1, k + 1):
        hi = float(h[i, j])
        lw = float(lo[i, j])
        if not (abs(hi) < INF and abs(lw) < INF):
            return math.nan
        tr = hi - lw
        if i > 0:
            pc = float(c[i - 1, j])
            if not abs(pc) < INF:
                return math.nan
            x = abs(hi - pc)
            if x > tr:
                tr = x
            x = abs(lw - pc)
            if x > tr:
                tr = x
        s += tr
    return s / w


def _log_return(c: np.ndarray, k: int, j: int) -> float:
    a = float(c[k, j])
    b = float(c[k - 1, j])
    if not (0.0 < a < INF and 0.0 < b < INF):
        return math.nan
    x = a / b
    if not (0.0 < x < INF):
        return math.nan
    return math.log(x)


def vol_at(c: np.ndarray, t: int, j: int, w: int) -> float:
    """Daily volatility usable at the open of ``t``: the sample standard deviation (two-pass)
    of the valid log returns of bars ``max(1, t - w) .. t - 1`` (a return needs two positive
    closes); NaN until two exist."""
    k0 = max(t - w, 1)
    s = 0.0
    n = 0
    for k in range(k0, t):
        r = _log_return(c, k, j)
        if r == r:
            s += r
            n += 1
    if n < 2:
        return math.nan
    m = s / n
    s2 = 0.0
    for k in range(k0, t):
        r = _log_return(c, k, j)
        if r == r:
            d = r - m
            s2 += d * d
    return math.sqrt(s2 / (n - 1))


def run_kernel(
    o: np.ndarray,
    h: np.ndarray,
    lo: np.ndarray,
    c: np.ndarray,
    v: np.ndarray,
    tgt: np.ndarray,
    tgt_is_qty: int,
    use_signals: int,
    ent: np.ndarray,
    ext: np.ndarray,
    lim: np.ndarray,
    spx: np.ndarray,
    tpx: np.ndarray,
    atrw: np.ndarray,
    volw: np.ndarray,
    fee_rate: np.ndarray,
    fee_ps: np.ndarray,
    fee_min: np.ndarray,
    slip: np.ndarray,
    impact: np.ndarray,
    maxp: np.ndarray,
    lot: np.ndarray,
    sl: np.ndarray,
    tp: np.ndarray,
    atrm: np.ndarray,
    tstop: np.ndarray,
    accr: np.ndarray,
    cash0: float,
    sharing: int,
    record_positions: int,
) -> dict[str, Any]:
    """Run K decision sets over one T x N panel of bars; see the module docstring.

    The decision panels (``tgt``, ``ent``, ``ext``, ``lim``, ``spx``, ``tpx``) are K x T x N
    (any strides, zero strides for a panel shared by every set; empty, 0 x 0 x 0, means "not
    given") and the per-symbol parameter arrays K x N. The sets are independent simulations:
    they run one after the other and their results are stacked (equity and cash K x T, the
    positions K x T x N, the last positions K x N) and their fills concatenated in set order,
    each with its set number (``f_set``).

    ``atrw``/``volw`` are per-symbol windows of the ATR and of the daily volatility (computed
    on demand by :func:`atr_at` and :func:`vol_at`); ``accr`` (T,) is the interest on idle cash
    accrued over each bar's period, as a fraction (empty: none); ``record_positions`` keeps the
    T x N position (and sub-account equity) panels.
    """
    K = fee_rate.shape[0]
    T, N = c.shape
    outs = []

    def one(a: np.ndarray, k: int) -> np.ndarray:
        return a[k] if a.shape[0] > 0 else np.zeros((0, 0))

    for k in range(K):
        outs.append(
            _run_set(
                o, h, lo, c, v, one(tgt, k), tgt_is_qty, use_signals, one(ent, k), one(ext, k),
                one(lim, k), one(spx, k), one(tpx, k), atrw[k], volw[k], fee_rate[k], fee_ps[k],
                fee_min[k], slip[k], impact[k], maxp[k], lot[k], sl[k], tp[k], atrm[k], tstop[k],
                accr, cash0, sharing, record_positions,
            )
        )  # fmt: skip
    rec = bool(record_positions)
    out: dict[str, Any] = {
        "equity": np.array([x["equity"] for x in outs]).reshape(K, T),
        "cash": np.array([x["cash"] for x in outs]).reshape(K, T),
        "interest": np.array([x["interest"] for x in outs]).reshape(K, T),
        "positions": np.array([x["positions"] for x in outs]).reshape(K, T, N)
        if rec
        else np.zeros((0, 0, 0)),
        "sub_equity": np.array([x["sub_equity"] for x in outs]).reshape(K, T, N)
        if (rec and not sharing)
        else np.zeros((0, 0, 0)),
        "last_positions": np.array([x["last_positions"] for x in outs]).reshape(K, N),
        "last_sub_equity": np.array([x["last_sub_equity"] for x in outs]).reshape(K, N),
        "f_set": np.concatenate(
            [np.full(len(x["f_bar"]), k, dtype=np.int64) for k, x in enumerate(outs)]
            + [np.zeros(0, dtype=np.int64)]
        ),
    }
    for key in outs[0] if outs else ():
        if key.startswith("f_"):
            out[key] = np.concatenate([x[key] for x in outs])
    if not outs:
        for key, dtype in (("f_bar", np.int64), ("f_sym", np.int64), ("f_side", np.int8)):
            out[key] = np.zeros(0, dtype=dtype)
        out["f_reason"] = np.zeros(0, dtype=np.int8)
        for key in FILL_FIELDS_F:
            out["f_" + key] = np.zeros(0)
    return out


def _run_set(
    o: np.ndarray,
    h: np.ndarray,
    lo: np.ndarray,
    c: np.ndarray,
    v: np.ndarray,
    tgt: np.ndarray,
    tgt_is_qty: int,
    use_signals: int,
    ent: np.ndarray,
    ext: np.ndarray,
    lim: np.ndarray,
    spx: np.ndarray,
    tpx: np.ndarray,
    atrw: np.ndarray,
    volw: np.ndarray,
    fee_rate: np.ndarray,
    fee_ps: np.ndarray,
    fee_min: np.ndarray,
    slip: np.ndarray,
    impact: np.ndarray,
    maxp: np.ndarray,
    lot: np.ndarray,
    sl: np.ndarray,
    tp: np.ndarray,
    atrm: np.ndarray,
    tstop: np.ndarray,
    accr: np.ndarray,
    cash0: float,
    sharing: int,
    record_positions: int,
) -> dict[str, Any]:
    """One decision set: T x N decision panels (0 x 0: not given), N-arrays of parameters."""
    T, N = c.shape
    has_tgt = tgt.shape[0] > 0
    has_lim = lim.shape[0] > 0
    has_spx = spx.shape[0] > 0
    has_tpx = tpx.shape[0] > 0
    rec = bool(record_positions)

    pos = [0.0] * N
    cash_j = [cash0] * N  # sub-account cash when not sharing
    cash = cash0
    mark = [math.nan] * N
    avg = [0.0] * N
    ebar = [-1] * N
    hh = [math.nan] * N
    fstop = [math.nan] * N
    ftgt = [math.nan] * N
    used = [0.0] * N
    pend = [NONE] * N
    pend_val = [0.0] * N
    pend_lim = [math.nan] * N
    pend_stop = [math.nan] * N
    pend_tgt = [math.nan] * N
    b_q = [0.0] * N  # stashed buys of pass B
    b_des = [0.0] * N
    b_px = [0.0] * N
    b_ref = [0.0] * N
    b_reason = [0] * N
    b_list: list[int] = []
    # whether a held position can meet a stop or target whatever its entry levels
    rule = [sl[j] == sl[j] or tp[j] == tp[j] or atrm[j] == atrm[j] for j in range(N)]
    any_ts = any(tstop[j] > 0 for j in range(N))

    has_accr = accr.shape[0] > 0
    equity = np.zeros(T)
    cash_out = np.zeros(T)
    interest = np.zeros(T)
    positions = np.zeros((T, N)) if rec else np.zeros((0, 0))
    sub_eq = np.zeros((T, N)) if (rec and not sharing) else np.zeros((0, 0))

    f_bar: list[int] = []
    f_sym: list[int] = []
    f_side: list[int] = []
    f_reason: list[int] = []
    f_vals: dict[str, list[float]] = {k: [] for k in FILL_FIELDS_F}

    def record(t, j, side, reason, q, px, ref, fee, unf, stop0):
        f_bar.append(t)
        f_sym.append(j)
        f_side.append(side)
        f_reason.append(reason)
        f_vals["qty"].append(q)
        f_vals["price"].append(px)
        f_vals["ref_price"].append(ref)
        f_vals["fee"].append(fee)
        f_vals["slippage"].append(abs(px - ref) * q if q > 0.0 else 0.0)
        f_vals["unfilled_qty"].append(unf)
        f_vals["stop0"].append(stop0)
        f_vals["pos_after"].append(pos[j])

    def stop_level(t, j):
        """Active stop (-inf when none) and whether the trailing stop is the binding one."""
        s = -INF
        trail = False
        if fstop[j] == fstop[j]:
            s = fstop[j]
        if sl[j] == sl[j]:
            s2 = avg[j] * (1.0 - sl[j])
            if s2 > s:
                s = s2
        if atrm[j] == atrm[j] and t > 0:
            a = atr_at(h, lo, c, t - 1, j, int(atrw[j]))
            if a == a:
                s3 = hh[j] - atrm[j] * a
                if s3 > s:
                    s = s3
                    trail = True
        return s, trail

    def sell(t, j, q_des, px, ref, reason):
        nonlocal cash
        cap = INF
        if maxp[j] < INF:
            cap = floor_lot(maxp[j] * v[t, j], lot[j]) - used[j]
            if cap < 0.0:
                cap = 0.0
        q = q_des if q_des <= cap else cap
        if q <= 0.0:
            record(t, j, -1, reason, 0.0, math.nan, math.nan, 0.0, q_des, math.nan)
            return
        gross = q * px
        fee = _fee(q, px, fee_rate[j], fee_ps[j], fee_min[j])
        avail = (cash if sharing else cash_j[j]) + gross
        if fee > avail:
            fee = avail
        if sharing:
            cash += gross - fee
        else:
            cash_j[j] += gross - fee
        used[j] += q
        if q >= pos[j]:
            pos[j] = 0.0
            avg[j] = 0.0
            ebar[j] = -1
            hh[j] = math.nan
            fstop[j] = math.nan
            ftgt[j] = math.nan
        else:
            pos[j] -= q
        record(t, j, -1, reason, q, px, ref, fee, q_des - q, math.nan)

    for t in range(T):
        # ---- interest on the cash held over the period since the previous close
        if has_accr and t > 0:
            f = accr[t]
            if sharing:
                x = cash * f
                cash += x
                interest[t] = x
            else:
                it = 0.0
                for j in range(N):
                    x = cash_j[j] * f
                    cash_j[j] += x
                    it += x
                interest[t] = it

        # ---- pass A: decisions of the previous close; equity at the open for sizing
        need_e = False
        for j in range(N):
            used[j] = 0.0
            if t == 0:
                continue
            d = t - 1
            if use_signals:
                e = ent[d, j] != 0
                x = ext[d, j] != 0
                if e == x:
                    continue  # neither, or both (they cancel out)
                if e:
                    pend[j] = SIG_ENTRY
                    pend_val[j] = tgt[d, j]
                else:
                    pend[j] = SIG_EXIT
            elif has_tgt:
                val = tgt[d, j]
                if val != val:
                    continue
                pend[j] = QTY if tgt_is_qty else WEIGHT
                pend_val[j] = val
            else:
                continue
            pend_lim[j] = lim[d, j] if has_lim else math.nan
            pend_stop[j] = spx[d, j] if has_spx else math.nan
            pend_tgt[j] = tpx[d, j] if has_tpx else math.nan
        if sharing and not tgt_is_qty:
            for j in range(N):
                if pend[j] == WEIGHT or pend[j] == SIG_ENTRY:
                    need_e = True
                    break
        e_total = 0.0
        if need_e:
            e_total = cash
            for j in range(N):
                if pos[j] > 0.0:
                    m = o[t, j]
                    if not (0.0 < m < INF):
                        m = mark[j]
                    e_total += pos[j] * m

        # ---- pass B: orders at the open; sells now, buys stashed
        b_list.clear()
        for j in range(N):
            kind = pend[j]
            ts = any_ts and tstop[j] > 0 and pos[j] > 0.0 and t - ebar[j] >= tstop[j]
            if not ts and kind == NONE:
                continue
            if not _valid(o[t, j], h[t, j], lo[t, j], c[t, j], v[t, j]):
                continue  # nothing trades on this bar; the order waits for a tradable bar
            if ts:
                pend[j] = NONE
                sell(t, j, pos[j], o[t, j] * (1.0 - slip[j]), o[t, j], TIME_STOP)
                continue
            pend[j] = NONE
            val = pend_val[j]
            # what the order wants, in quantity, before costs
            if kind == SIG_EXIT:
                if pos[j] <= 0.0:
                    continue
                delta = -pos[j]
                reason = EXIT
            elif kind == SIG_ENTRY and pos[j] > 0.0:
                continue
            else:
                if kind == QTY:
                    delta = floor_lot(val, lot[j]) - pos[j]
                elif val == 0.0:
                    delta = -pos[j]
                else:
                    e_j = e_total
                    if not sharing:
                        e_j = cash_j[j]
                        if pos[j] > 0.0:
                            e_j += pos[j] * o[t, j]
                    if kind == SIG_ENTRY and tgt_is_qty:
                        delta = floor_lot(val, lot[j])
                    else:
                        delta = val * e_j / o[t, j] - pos[j]
                if pos[j] == 0.0:
                    reason = ENTRY
                elif (kind != QTY and val == 0.0) or (kind == QTY and delta == -pos[j]):
                    reason = EXIT
                else:
                    reason = REBALANCE
            if delta == 0.0:
                continue
            ref = o[t, j]
            is_limit = False
            if delta > 0.0 and pend_lim[j] == pend_lim[j]:
                is_limit = True
                if lo[t, j] > pend_lim[j]:
                    record(t, j, 1, reason, 0.0, math.nan, math.nan, 0.0, delta, math.nan)
                    continue
                if pend_lim[j] < ref:
                    ref = pend_lim[j]
            # slippage rate (limit fills get their limit price)
            s = 0.0
            if not is_limit:
                s = slip[j]
                if impact[j] > 0.0 and volw[j] > 0:
                    dv = vol_at(c, t, j, int(volw[j]))
                    if dv == dv:
                        part = abs(delta)
                        if maxp[j] < INF:
                            capq = maxp[j] * v[t, j]
                            if part > capq:
                                part = capq
                        s = s + impact[j] * dv * math.sqrt(part / v[t, j])
            if delta < 0.0:
                px = ref * (1.0 - s)
                if kind == WEIGHT and val != 0.0:
                    q_tgt = floor_lot(val * e_j / (px * (1.0 + fee_rate[j]) + fee_ps[j]), lot[j])
                    delta = q_tgt - pos[j]
                    if delta >= 0.0:
                        continue
                sell(t, j, -delta, px, ref, reason)
            else:
                px = ref * (1.0 + s)
                if (kind in (WEIGHT, SIG_ENTRY)) and not tgt_is_qty:
                    q_tgt = floor_lot(val * e_j / (px * (1.0 + fee_rate[j]) + fee_ps[j]), lot[j])
                    delta = q_tgt - pos[j]
                    if delta <= 0.0:
                        continue
                cap = INF
                if maxp[j] < INF:
                    cap = floor_lot(maxp[j] * v[t, j], lot[j])
                b_des[j] = delta
                b_q[j] = delta if delta <= cap else cap
                b_px[j] = px
                b_ref[j] = ref
                b_reason[j] = reason
                b_list.append(j)

        # ---- pass C: buys, scaled to the cash available
        if b_list:
            if sharing:
                total = 0.0
                for j in b_list:
                    if b_q[j] > 0.0:
                        total += b_q[j] * b_px[j] + _fee(
                            b_q[j], b_px[j], fee_rate[j], fee_ps[j], fee_min[j]
                        )
                if total > cash and total > 0.0:
                    scale = cash / total
                    for j in b_list:
                        b_q[j] = floor_lot(b_q[j] * scale, lot[j])
            for j in b_list:
                avail = cash if sharing else cash_j[j]
                q = _affordable(b_q[j], b_px[j], avail, fee_rate[j], fee_ps[j], fee_min[j], lot[j])
                px = b_px[j]
                if q <= 0.0:
                    record(t, j, 1, b_reason[j], 0.0, math.nan, math.nan, 0.0, b_des[j], math.nan)
                    continue
                fee = _fee(q, px, fee_rate[j], fee_ps[j], fee_min[j])
                if sharing:
                    cash -= q * px + fee
                else:
                    cash_j[j] -= q * px + fee
                used[j] += q
                if pos[j] == 0.0:
                    ebar[j] = t
                    hh[j] = b_ref[j]
                    fstop[j] = pend_stop[j]
                    ftgt[j] = pend_tgt[j]
                    avg[j] = px
                    pos[j] = q
                    s0, _ = stop_level(t, j)
                    stop0 = s0 if s0 > -INF else math.nan
                else:
                    avg[j] = (avg[j] * pos[j] + q * px) / (pos[j] + q)
                    pos[j] += q
                    stop0 = math.nan
                record(t, j, 1, b_reason[j], q, px, b_ref[j], fee, b_des[j] - q, stop0)

        # ---- pass D: intrabar stops and targets, then the close
        pv = 0.0
        te = 0.0
        tc = 0.0
        for j in range(N):
            # a position without any stop or target level skips the intrabar checks
            if (
                pos[j] > 0.0
                and (rule[j] or fstop[j] == fstop[j] or ftgt[j] == ftgt[j])
                and _valid(o[t, j], h[t, j], lo[t, j], c[t, j], v[t, j])
            ):
                s_lvl, trail = stop_level(t, j)
                p_lvl = INF
                if ftgt[j] == ftgt[j]:
                    p_lvl = ftgt[j]
                if tp[j] == tp[j]:
                    p2 = avg[j] * (1.0 + tp[j])
                    if p2 < p_lvl:
                        p_lvl = p2
                sreason = TRAILING_STOP if trail else STOP
                if o[t, j] <= s_lvl:
                    sell(t, j, pos[j], o[t, j] * (1.0 - slip[j]), o[t, j], sreason)
                elif o[t, j] >= p_lvl:
                    sell(t, j, pos[j], o[t, j], o[t, j], TARGET)
                elif lo[t, j] <= s_lvl:
                    sell(t, j, pos[j], s_lvl * (1.0 - slip[j]), s_lvl, sreason)
                elif h[t, j] >= p_lvl:
                    sell(t, j, pos[j], p_lvl, p_lvl, TARGET)
                if pos[j] > 0.0 and h[t, j] > hh[j]:
                    hh[j] = h[t, j]
            cj = c[t, j]
            if 0.0 < cj < INF:
                mark[j] = cj
            if rec:
                positions[t, j] = pos[j]
            if sharing:
                if pos[j] > 0.0:
                    pv += pos[j] * mark[j]
            else:
                se = cash_j[j]
                if pos[j] > 0.0:
                    se += pos[j] * mark[j]
                if rec:
                    sub_eq[t, j] = se
                te += se
                tc += cash_j[j]
        if sharing:
            equity[t] = cash + pv
            cash_out[t] = cash
        else:
            equity[t] = te
            cash_out[t] = tc

    out: dict[str, Any] = {
        "equity": equity,
        "cash": cash_out,
        "interest": interest,
        "positions": positions,
        "sub_equity": sub_eq,
        "last_positions": np.array(pos, dtype=np.float64),
        "last_sub_equity": np.array(
            [cash_j[j] + pos[j] * mark[j] if pos[j] > 0.0 else cash_j[j] for j in range(N)],
            dtype=np.float64,
        ),
        "f_bar": np.array(f_bar, dtype=np.int64),
        "f_sym": np.array(f_sym, dtype=np.int64),
        "f_side": np.array(f_side, dtype=np.int8),
        "f_reason": np.array(f_reason, dtype=np.int8),
    }
    for k in FILL_FIELDS_F:
        out["f_" + k] = np.array(f_vals[k], dtype=np.float64)
    return out
