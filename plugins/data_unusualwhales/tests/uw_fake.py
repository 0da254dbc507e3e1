"""A loopback Unusual Whales: flow alerts and interest-float, in the documented wire format.

EXTERNAL_APIS.md section 3: bearer auth; answers wrapped in ``{"data": ...}``; money, prices
and ratios as decimal strings, counts as ints; ``created_at`` in the spec's spaced form or ISO
``Z``; 422 bodies ``{msg, path, query, url}``; 500 as ``text/plain``; 429 with ``retry-after``;
``x-uw-*`` rate-limit headers. Flow alerts come newest first; ``newer_than``/``older_than``
take unix seconds, milliseconds or an ISO date. ``older_than`` is inclusive here, so pages
overlap at their edges the way a client must survive.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from werkzeug import Request, Response

TOKEN = "UWTOKEN-secret-7731"
START = dt.datetime(2024, 5, 1, 13, 30, tzinfo=dt.UTC)


def flow_alert(i: int, t: dt.datetime, *, ticker: str = "MSFT", kind: str = "call", **kw) -> dict:
    """One REST flow alert as the spec's example, alert ``i`` at ``t``."""
    strike = 400 + i % 20
    expiry = (t + dt.timedelta(days=14)).date()
    chain = f"{ticker}{expiry:%y%m%d}{kind[0].upper()}{strike * 1000:08d}"
    spaced = i % 2 == 0  # both time forms appear, as in the spec and in real captures
    created = (
        t.strftime("%Y-%m-%d %H:%M:%S.%f") + "+00:00"
        if spaced
        else t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    )
    item = {
        "alert_rule": "RepeatedHits",
        "all_opening_trades": i % 3 == 0,
        "created_at": created,
        "expiry": expiry.isoformat(),
        "expiry_count": 1,
        "has_floor": False,
        "has_multileg": False,
        "has_singleleg": True,
        "has_sweep": i % 2 == 1,
        "issue_type": "Common Stock",
        "open_interest": 7913,
        "option_chain": chain,
        "price": "4.05",
        "strike": str(strike),
        "ticker": ticker,
        "total_ask_side_prem": "151875",
        "total_bid_side_prem": "405",
        "total_premium": str(150000 + 1000 * i),
        "total_size": 461,
        "trade_count": 32,
        "type": kind,
        "underlying_price": "402.5",
        "volume": 2442,
        "volume_oi_ratio": "0.30860609124226",
        "start_time": int(t.timestamp() * 1000),
        "end_time": int(t.timestamp() * 1000) + 5000,
    }
    item.update(kw)
    return item


def _when(item: dict) -> dt.datetime:
    text = item["created_at"].replace("Z", "+00:00")
    return dt.datetime.fromisoformat(text)


def _bound(value: str | None) -> dt.datetime | None:
    if value is None:
        return None
    if value.isdigit():
        x = int(value)
        return dt.datetime.fromtimestamp(x / 1000 if x > 1e11 else x, dt.UTC)
    return dt.datetime.fromisoformat(value).replace(tzinfo=dt.UTC)


class FakeUW:
    def __init__(self, alerts: list[dict] | None = None) -> None:
        self.alerts: list[dict] = list(alerts or [])
        #: Responses to send before answering normally: (status, body, headers, content type).
        self.script: list[tuple[int, str, dict[str, str], str]] = []
        self.requests: list[Request] = []
        self.daily_limit = 15000
        self.daily_count = 0
        self.minute_remaining: int | None = None
        self.floats: dict[str, int] = {"MSFT": 7_430_000_000}

    # -------------------------------------------------------------- helpers
    def _headers(self) -> dict[str, str]:
        self.daily_count += 1
        h = {
            "x-uw-daily-req-count": str(self.daily_count),
            "x-uw-token-req-limit": str(self.daily_limit),
            "x-uw-minute-req-counter": "1",
            "x-uw-req-per-minute-reset": "1",
        }
        if self.minute_remaining is not None:
            h["x-uw-req-per-minute-remaining"] = str(self.minute_remaining)
        return h

    def _json(self, obj: Any, status: int = 200) -> Response:
        return Response(
            json.dumps(obj), status=status, headers=self._headers(), content_type="application/json"
        )

    def handle(self, request: Request) -> Response:
        self.requests.append(request)
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return self._json({"message": "Unauthorized, please provide a valid API token"}, 401)
        if self.script:
            status, body, headers, ctype = self.script.pop(0)
            return Response(body, status=status, headers=headers, content_type=ctype)
        if request.path == "/api/option-trades/flow-alerts":
            return self._flow(request)
        if request.path.startswith("/api/shorts/") and request.path.endswith("/interest-float/v2"):
            ticker = request.path.split("/")[3]
            return self._json({"data": self._float(ticker)})
        return self._json({"msg": "not found", "path": request.path}, 404)

    def _float(self, ticker: str) -> dict:
        return {
            "symbol": ticker,
            "market_date": "2024-04-15",
            "short_interest": 75000,
            "total_float": self.floats.get(ticker, 4250000),
            "si_float": "0.017647058",
            "days_to_cover": "2.1",
            "fee_rate": "0.2782",
            "rebate_rate": "3.3518",
            "short_shares_available": 10000000,
        }

    def _flow(self, request: Request) -> Response:
        args = request.args
        try:
            limit = int(args.get("limit", "100"))
            newer, older = _bound(args.get("newer_than")), _bound(args.get("older_than"))
        except ValueError:
            return self._json(
                {
                    "msg": "Invalid parameter value",
                    "path": "/api/option-trades/flow-alerts",
                    "query": request.query_string.decode(),
                    "url": request.url,
                },
                422,
            )
        if not 1 <= limit <= 200:
            return self._json(
                {
                    "msg": "limit must be between 1 and 200",
                    "path": "/api/option-trades/flow-alerts",
                    "query": request.query_string.decode(),
                    "url": request.url,
                },
                422,
            )
        rows = []
        for item in self.alerts:
            try:
                t = _when(item)
            except (KeyError, ValueError, AttributeError, TypeError):
                rows.append((START, item))  # malformed items are sent as they are
                continue
            if newer is not None and t <= newer:
                continue
            if older is not None and t > older:  # inclusive: pages overlap at the edge
                continue
            if args.get("min_premium") and float(item.get("total_premium") or 0) < float(
                args["min_premium"]
            ):
                continue
            if args.get("is_put") == "false" and item.get("type") == "put":
                continue
            rules = args.getlist("rule_name[]")
            if rules and item.get("alert_rule") not in rules:
                continue
            rows.append((t, item))
        rows.sort(key=lambda r: r[0], reverse=True)
        return self._json({"data": [item for _, item in rows[:limit]]})
