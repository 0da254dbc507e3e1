"""Interest on the local paper account's idle cash (``[account] cash_rate``).

The paper account earns what a backtest's idle cash earns (:func:`tsys.sim.simulate` with
``cash_rate``): at each day's mark, the cash of the previous mark earns ``rate x calendar days
/ 365`` (actual/365 simple interest, credited, so it compounds). The amount is credited to the
account's cash and recorded with that day's mark (:attr:`tsys.store.paper.Mark.interest`), so
the ledger keeps trading cash flows and interest apart: reconciliation expects the baseline
plus every fill plus the interest, and reports give interest beside trading PnL.

No schema change: a mark's interest is stored beside its positions (key
:data:`tsys.store.paper.INTEREST_KEY`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any


def accrue_interest(ledger: Any, broker: str, day: dt.date, rate: float) -> float:
    """Credit ``broker``'s idle cash with ``rate`` (annual) for the calendar days from its
    latest mark before ``day`` to ``day``, on that mark's cash; return the amount, which the
    caller records with ``day``'s mark (``record_mark(..., interest=amount)``).

    Nothing when ``day`` is marked already (its interest was credited then: a re-run of the
    day credits nothing twice), when there is no earlier mark (an account starts earning at
    its first mark) or at a rate of 0.
    """
    from tsys.store._time import to_db
    from tsys.store.paper import _date, _now

    if not rate:
        return 0.0
    K, A = ledger.m.PaperMark, ledger.m.PaperAccount
    with ledger.store.transaction():
        if K.select().where((K.broker == broker) & (K.date == day)).exists():
            return 0.0
        prev = (
            K.select().where((K.broker == broker) & (K.date < day)).order_by(K.date.desc()).first()
        )
        row = A.get_or_none(A.broker == broker)
        if prev is None or row is None or row.cash is None:
            return 0.0
        days = (day - _date(prev.date)).days
        amount = max(float(prev.cash), 0.0) * float(rate) * days / 365.0
        if amount:
            A.update(cash=row.cash + amount, updated_at=to_db(_now())).where(
                A.id == row.id
            ).execute()
    return amount


def total_interest(log: Any, broker: str) -> float:
    """Interest credited to ``broker``'s idle cash so far (0 for a log without marks)."""
    marks = getattr(log, "marks", None)
    return 0.0 if marks is None else float(sum(m.interest for m in marks(broker)))
