"""From a vendor's alert (REST JSON, websocket JSON or an export row) to a tsys ``OptionAlert``.

* The option symbol (OCC form ``ROOT YYMMDD C|P strike x 1000``, e.g. ``MSFT231222C00375000``)
  gives root, expiry, call/put and strike when the payload lacks them.
* Index roots are mapped to the index and, for trading, to its ETF proxy (``SPXW`` -> ``SPX`` ->
  ``SPY``); an adjusted root (``AAPL1``, after a split or merger) is flagged ``nonstandard``: its
  contract may not be 100 shares of the underlying.
* Times become aware UTC (``"2023-12-12 16:35:52.168490+00:00"``, ``"...Z"``, epoch ms/s),
  and each alert gets the exchange session it belongs to: the session of its New York date
  (after-hours alerts included), or the next session for an alert on a weekend or holiday.
* Money, prices and ratios arrive as decimal strings and become floats; counts become ints.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import re
from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo

import attrs

from tsys.api import OptionAlert, sessions

NEW_YORK = ZoneInfo("America/New_York")
_OCC = re.compile(r"^(?P<root>[A-Z0-9.]*?)(?P<expiry>\d{6})(?P<type>[PC])(?P<strike>\d{8})$")
#: Index option roots -> the index they settle on.
INDEX_ROOTS = {
    "SPX": "SPX",
    "SPXW": "SPX",
    "SPXPM": "SPX",
    "XSP": "XSP",
    "NDX": "NDX",
    "NDXP": "NDX",
    "XND": "NDX",
    "RUT": "RUT",
    "RUTW": "RUT",
    "MRUT": "RUT",
    "VIX": "VIX",
    "VIXW": "VIX",
    "DJX": "DJX",
}
#: Index -> the ETF a bucket can trade for it (VIX has none: it is left unmapped).
INDEX_PROXY = {"SPX": "SPY", "XSP": "SPY", "NDX": "QQQ", "RUT": "IWM", "DJX": "DIA"}
#: Share of the premium on one side that makes the alert that side's.
SIDE_SHARE = 0.6


class MalformedAlert(ValueError):
    """An alert that cannot be normalised (named field and why)."""


@attrs.frozen
class OccSymbol:
    root: str
    expiry: dt.date
    option_type: str
    strike: float


def parse_occ(symbol: str) -> OccSymbol | None:
    """Parse an OCC option symbol (spaces and an ``O:`` prefix tolerated); None if it is not one."""
    s = str(symbol).strip().upper().replace(" ", "")
    if s.startswith("O:"):
        s = s[2:]
    m = _OCC.match(s)
    if m is None:
        return None
    try:
        expiry = dt.datetime.strptime(m["expiry"], "%y%m%d").date()
    except ValueError:
        return None
    return OccSymbol(
        root=m["root"],
        expiry=expiry,
        option_type="call" if m["type"] == "C" else "put",
        strike=int(m["strike"]) / 1000.0,
    )


def underlying_of(root: str, ticker: str | None) -> tuple[str, bool, str]:
    """(symbol to trade, nonstandard root?, issue type guess) for an option root and ticker."""
    root = root.upper()
    tick = (ticker or "").strip().upper()
    index = INDEX_ROOTS.get(root) or INDEX_ROOTS.get(tick)
    if index is not None:
        return INDEX_PROXY.get(index, index), False, "Index"
    adjusted = bool(root) and root[-1].isdigit() and not (tick and tick == root)
    base = tick or root.rstrip("0123456789")
    nonstandard = adjusted or bool(tick and root and root != tick)
    return base, nonstandard, ""


def parse_time(value: Any) -> dt.datetime:
    """An aware UTC time from an ISO string (with ``Z``, an offset or none: UTC) or epoch s/ms."""
    if isinstance(value, dt.datetime):
        t = value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        if not math.isfinite(value):
            raise MalformedAlert(f"time {value!r} is not a number")
        secs = value / 1000.0 if value > 1e11 else float(value)
        return dt.datetime.fromtimestamp(secs, dt.UTC)
    else:
        text = str(value).strip()
        if re.fullmatch(r"\d{10}(\d{3})?(\.\d+)?", text):
            return parse_time(float(text))
        try:
            t = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise MalformedAlert(f"cannot read the time {text[:40]!r}") from None
    return t.replace(tzinfo=dt.UTC) if t.tzinfo is None else t.astimezone(dt.UTC)


def number(value: Any, field: str, *, required: bool = False) -> float | None:
    """A float from a decimal string or number; None for empty (an error when ``required``)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise MalformedAlert(f"{field} is missing")
        return None
    if isinstance(value, bool):
        raise MalformedAlert(f"{field} is a boolean, not a number")
    try:
        x = float(str(value).replace(",", "").replace("$", "").strip())
    except ValueError:
        raise MalformedAlert(f"{field} {str(value)[:30]!r} is not a number") from None
    if not math.isfinite(x):
        raise MalformedAlert(f"{field} {value!r} is not finite")
    return x


def count(value: Any, field: str) -> int | None:
    x = number(value, field)
    return None if x is None else round(x)


def flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes", "t", "y")
    return bool(value) if value is not None and value == value else False


def _date(value: Any) -> dt.date | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        return dt.date.fromisoformat(str(value).strip()[:10])
    except ValueError:
        raise MalformedAlert(f"cannot read the date {str(value)[:30]!r}") from None


class SessionCalendar:
    """The exchange session an alert belongs to: its New York date's session, else the next
    session (weekends, holidays), so no alert is filed under a session that closed before it
    was raised. Sessions load in blocks and are cached."""

    def __init__(self) -> None:
        self._lo: dt.date | None = None
        self._hi: dt.date | None = None
        self._days: list[dt.date] = []

    def session_of(self, t: dt.datetime) -> dt.date:
        import bisect

        d = t.astimezone(NEW_YORK).date()
        if self._lo is None or not (self._lo <= d <= self._hi):
            lo, hi = d - dt.timedelta(days=400), d + dt.timedelta(days=400)
            self._lo, self._hi = lo, hi - dt.timedelta(days=10)
            self._days = [x.date() for x in sessions(lo, hi)]
        k = bisect.bisect_left(self._days, d)
        if k >= len(self._days):
            raise MalformedAlert(f"no exchange session on or after {d}")
        return self._days[k]


def _first(item: Mapping[str, Any], *keys: str) -> Any:
    for k in keys:
        v = item.get(k)
        if v is not None and not (isinstance(v, str) and not v.strip()) and v == v:
            return v
    return None


def alert_id(item: Mapping[str, Any], what: str, rule: str, t: dt.datetime, premium: float) -> str:
    """The vendor's id when it sends one, else a digest of the contract, rule, time and premium
    (REST flow alerts carry no id): the same alert fetched twice gets the same id."""
    vid = _first(item, "id", "alert_id")
    if vid is not None:
        return f"uw:{vid}"
    key = f"{what}|{rule}|{t.isoformat(timespec='microseconds')}|{premium:.0f}"
    return "uw:" + hashlib.sha1(key.encode()).hexdigest()[:32]


def _side(ask: float | None, bid: float | None) -> str:
    if ask is None and bid is None:
        return ""
    a, b = max(ask or 0.0, 0.0), max(bid or 0.0, 0.0)
    if a + b <= 0:
        return ""
    share = a / (a + b)
    return "ask" if share >= SIDE_SHARE else "bid" if share <= 1 - SIDE_SHARE else "mixed"


def normalize(item: Mapping[str, Any], *, source: str, calendar: SessionCalendar) -> OptionAlert:
    """One vendor alert as an :class:`OptionAlert` (``MalformedAlert`` says what is wrong)."""
    if not isinstance(item, Mapping):
        raise MalformedAlert(f"an alert must be an object, got {type(item).__name__}")
    when = _first(item, "created_at", "executed_at", "timestamp", "start_time")
    if when is None:
        raise MalformedAlert("created_at is missing")
    t = parse_time(when)
    chain = str(_first(item, "option_chain", "option_symbol", "option_chain_id") or "")
    occ = parse_occ(chain) if chain else None
    if chain and occ is None:
        raise MalformedAlert(f"option symbol {chain[:30]!r} is not an OCC symbol")
    ticker = _first(item, "ticker", "underlying_symbol", "symbol")
    root = occ.root if occ else str(ticker or "").upper()
    if not root:
        raise MalformedAlert("neither ticker nor option symbol is given")
    symbol, nonstandard, issue_guess = underlying_of(root, None if ticker is None else str(ticker))
    kind = str(_first(item, "type", "option_type") or (occ.option_type if occ else "")).lower()
    kind = {"c": "call", "p": "put"}.get(kind, kind)
    if kind not in ("call", "put"):
        raise MalformedAlert(f"type {kind!r} is neither call nor put")
    premium = number(_first(item, "total_premium", "premium"), "total_premium", required=True)
    if premium is None or premium < 0:
        raise MalformedAlert(f"total_premium {premium!r} is negative")
    ask = number(item.get("total_ask_side_prem"), "total_ask_side_prem")
    bid = number(item.get("total_bid_side_prem"), "total_bid_side_prem")
    side = _side(ask, bid)
    if not side:
        side = _side(number(item.get("ask_vol"), "ask_vol"), number(item.get("bid_vol"), "bid_vol"))
    expiry = _date(item.get("expiry")) or (occ.expiry if occ else None)
    strike = number(item.get("strike"), "strike")
    strike = strike if strike is not None else (occ.strike if occ else None)
    session = calendar.session_of(t)
    volume = count(item.get("volume"), "volume")
    oi = count(item.get("open_interest"), "open_interest")
    ratio = number(item.get("volume_oi_ratio"), "volume_oi_ratio")
    if ratio is None and volume is not None and oi:
        ratio = volume / oi
    under = number(item.get("underlying_price"), "underlying_price")
    otm = None
    if strike is not None and under:
        otm = strike / under - 1.0 if kind == "call" else 1.0 - strike / under
    rule = str(_first(item, "alert_rule", "rule_name", "rule") or "")
    return OptionAlert(
        alert_id=alert_id(item, chain or f"{symbol} {kind}", rule, t, premium),
        source=source,
        created_at=t,
        session_date=session,
        symbol=symbol,
        option_type=kind,
        premium=premium,
        option_symbol=chain.strip().upper().replace(" ", ""),
        root=root,
        nonstandard=nonstandard,
        expiry=expiry,
        strike=strike,
        dte=None if expiry is None else (expiry - t.astimezone(NEW_YORK).date()).days,
        rule=rule,
        issue_type=str(item.get("issue_type") or issue_guess),
        ask_premium=ask,
        bid_premium=bid,
        side=side,
        size=count(item.get("total_size"), "total_size"),
        volume=volume,
        open_interest=oi,
        volume_oi_ratio=ratio,
        price=number(item.get("price"), "price"),
        underlying_price=under,
        otm_pct=otm,
        sweep=flag(item.get("has_sweep")),
        floor=flag(item.get("has_floor")),
        opening=flag(item.get("all_opening_trades")),
        raw=json.dumps(dict(item), sort_keys=True, default=str),
    )
