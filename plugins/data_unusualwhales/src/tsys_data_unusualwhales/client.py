"""The HTTP client of the Unusual Whales API: bearer token, unwrapped ``data``, rate limits.

Wire format (EXTERNAL_APIS.md section 3): every answer is wrapped (``{"data": [...]}`` or
``{"data": {...}}``); 422 sends ``{"msg", "path", "query", "url"}``, 500 a plain-text body,
401/403 a refused token, 429 a ``retry-after``. The ``x-uw-*`` headers say how much of the
minute's and the day's quota is left: the client waits for the minute to reset when it is used
up and stops (``QuotaExhausted``) when the day's is. The token is sent in the Authorization
header only and scrubbed from every message.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

import attrs
import requests

from tsys.api import ApiClient, DataError, TemporaryFailure

log = logging.getLogger(__name__)

BASE_URL = "https://api.unusualwhales.com"
TOKEN_ENV = "UNUSUAL_WHALES_API_TOKEN"
#: Sent by the official examples and many clients; the spec does not require it.
CLIENT_ID_HEADER = ("UW-CLIENT-API-ID", "100001")
#: Longest wait for the minute's quota to reset (seconds).
MAX_RESET_WAIT = 65.0


class UnusualWhalesError(DataError):
    """Unusual Whales could not deliver."""


class QuotaExhausted(UnusualWhalesError):
    """The day's request quota is used up; what was fetched so far is kept."""


@attrs.define
class Limits:
    """The last rate-limit headers seen (None: not sent)."""

    daily_count: int | None = None
    daily_limit: int | None = None
    minute_count: int | None = None
    minute_remaining: int | None = None
    minute_reset: float | None = None

    def day_used_up(self) -> bool:
        return (
            self.daily_count is not None
            and self.daily_limit is not None
            and self.daily_limit > 0
            and self.daily_count >= self.daily_limit
        )


def reset_wait(value: float | None, now: float) -> float:
    """Seconds until the minute quota resets: the header may be seconds to wait, or an epoch
    time in seconds or milliseconds (clients disagree); never more than MAX_RESET_WAIT."""
    if value is None:
        return MAX_RESET_WAIT
    if value > 1e12:
        value = value / 1000.0 - now
    elif value > 1e9:
        value = value - now
    return min(max(0.0, value), MAX_RESET_WAIT)


def _int(headers: Any, name: str) -> int | None:
    try:
        return int(float(headers.get(name)))
    except (TypeError, ValueError):
        return None


class UnusualWhalesClient(ApiClient):
    """GET Unusual Whales endpoints with bounded retries on 429, 5xx and timeouts."""

    timeout_errors = (requests.Timeout,)
    transport_errors = (requests.RequestException,)
    error = UnusualWhalesError
    service = "Unusual Whales"
    retry_hint = "try again later; the recorded alerts are kept"

    def __init__(
        self,
        *,
        token: str,
        base_url: str = BASE_URL,
        session: requests.Session | None = None,
        **retries: Any,
    ) -> None:
        if not token:
            raise UnusualWhalesError(
                f"Unusual Whales needs an API token in {TOKEN_ENV}",
                hint=f"set {TOKEN_ENV} in the environment (never in tsys.toml)",
            )
        super().__init__(
            session=session or requests.Session(), base_url=base_url, secret=token, **retries
        )
        self.limits = Limits()
        #: HTTP requests sent (retries included): what the day's quota counts.
        self.calls = 0
        self.session.headers.setdefault("User-Agent", "tsys-data-unusualwhales/0.1")
        self.session.headers["Accept"] = "application/json"
        self.session.headers[CLIENT_ID_HEADER[0]] = CLIENT_ID_HEADER[1]
        self.session.headers["Authorization"] = f"Bearer {token}"

    def __repr__(self) -> str:
        return f"UnusualWhalesClient(base_url={self.base_url!r})"

    def before_request(self) -> None:
        self._pace()
        self.calls += 1

    def _pace(self) -> None:
        """Wait for the minute's quota when the last answer said none is left; stop when the
        day's quota is used up."""
        if self.limits.day_used_up():
            raise QuotaExhausted(
                f"the Unusual Whales daily request quota is used up "
                f"({self.limits.daily_count} of {self.limits.daily_limit})",
                hint="the daily counter resets around 8 pm New York time; sync again later",
            )
        if self.limits.minute_remaining is not None and self.limits.minute_remaining <= 0:
            wait = reset_wait(self.limits.minute_reset, self.clock())
            log.info("Unusual Whales: minute quota used up; waiting %.1f s", wait)
            self.sleep(wait)
            self.limits.minute_remaining = None

    def answer(self, resp: Any, data: Any, what: str) -> Any:
        """The unwrapped ``data``, a temporary failure (429, 5xx) or an UnusualWhalesError."""
        self._read_limits(resp.headers)
        status, text = resp.status_code, resp.text
        if status == 429:
            raise self.rate_limited(resp)
        if status >= 500:
            raise TemporaryFailure(f"server error (HTTP {status}: {self._snippet(text)})")
        if status in (401, 403):
            raise UnusualWhalesError(
                f"{what} refused the token (HTTP {status}): {self._message(data, text)}",
                hint=f"check {TOKEN_ENV}; the endpoint may need a higher plan",
            )
        if status == 422:
            raise UnusualWhalesError(
                f"{what} rejected the request (HTTP 422): {self._message(data, text)}",
                hint="check the [data.options.unusualwhales] filters",
            )
        if status >= 400:
            raise UnusualWhalesError(f"{what} answered HTTP {status}: {self._message(data, text)}")
        if not isinstance(data, dict) or "data" not in data:
            raise UnusualWhalesError(
                f"{what} sent an unexpected answer (no 'data' wrapper; starts with "
                f"{self._snippet(text)!r})",
                hint="Unusual Whales may be having trouble; try again later",
            )
        return data["data"]

    def _read_limits(self, headers: Any) -> None:
        lim = self.limits
        for attr, name in (
            ("daily_count", "x-uw-daily-req-count"),
            ("daily_limit", "x-uw-token-req-limit"),
            ("minute_count", "x-uw-minute-req-counter"),
            ("minute_remaining", "x-uw-req-per-minute-remaining"),
        ):
            value = _int(headers, name)
            if value is not None:
                setattr(lim, attr, value)
        with contextlib.suppress(TypeError, ValueError):
            lim.minute_reset = float(headers.get("x-uw-req-per-minute-reset"))

    def _snippet(self, text: str) -> str:
        return self.scrub(text[:120]).replace("\n", " ").strip()

    def _message(self, data: Any, text: str) -> str:
        if isinstance(data, dict):
            for key in ("msg", "message", "error"):
                if data.get(key):
                    msg = str(data[key])
                    if data.get("path") and key == "msg":
                        msg += f" (at {data['path']})"
                    return self.scrub(msg)
        return self._snippet(text) or "(empty body)"
