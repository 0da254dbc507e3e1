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
import email.utils
import json
import logging
import time
from collections.abc import Callable
from typing import Any

import attrs
import requests

from tsys.api import DataError, call_with_retries

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


def retry_after_seconds(value: str | None, now: float) -> float | None:
    """A ``retry-after`` header: delta seconds or an HTTP date; None when absent/unreadable."""
    if value is None:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now)


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


class UnusualWhalesClient:
    """GET Unusual Whales endpoints with bounded retries on 429, 5xx and timeouts."""

    def __init__(
        self,
        *,
        token: str,
        base_url: str = BASE_URL,
        timeout: float = 20.0,
        max_retries: int = 3,
        backoff_seconds: float = 2.0,
        max_backoff_seconds: float = 60.0,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not token:
            raise UnusualWhalesError(
                f"Unusual Whales needs an API token in {TOKEN_ENV}",
                hint=f"set {TOKEN_ENV} in the environment (never in tsys.toml)",
            )
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff_seconds = backoff_seconds
        self.max_backoff_seconds = max_backoff_seconds
        self.sleep = sleep
        self.clock = clock
        self._token = token
        self.limits = Limits()
        #: HTTP requests sent (retries included): what the day's quota counts.
        self.calls = 0
        self.session = session or requests.Session()
        self.session.headers.setdefault("User-Agent", "tsys-data-unusualwhales/0.1")
        self.session.headers["Accept"] = "application/json"
        self.session.headers[CLIENT_ID_HEADER[0]] = CLIENT_ID_HEADER[1]
        self.session.headers["Authorization"] = f"Bearer {token}"

    def __repr__(self) -> str:
        return f"UnusualWhalesClient(base_url={self.base_url!r})"

    def _scrub(self, text: str) -> str:
        return text.replace(self._token, "***") if self._token else text

    def get(self, path: str, params: Any = None) -> Any:
        """GET ``path``; return the unwrapped ``data`` or raise UnusualWhalesError."""
        url = f"{self.base_url}/{path.lstrip('/')}"
        what = f"Unusual Whales {path}"
        try:
            return call_with_retries(
                lambda: self._get_once(url, params, what),
                attempts=self.max_retries + 1,
                retry_if=lambda exc: isinstance(exc, _Temporary),
                backoff=self.backoff_seconds,
                max_wait=self.max_backoff_seconds,
                wait_hint=lambda exc: getattr(exc, "retry_after", None),
                sleep=self.sleep,
                before_sleep=lambda n, exc, wait: log.info(
                    "%s: %s; retrying in %.2f s", what, exc, wait
                ),
            )
        except _Temporary as last:
            raise UnusualWhalesError(
                f"{what} failed after {self.max_retries + 1} attempt(s): {last}",
                hint="try again later; the recorded alerts are kept",
            ) from None

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

    def _get_once(self, url: str, params: Any, what: str) -> Any:
        """One GET: the data, a :class:`_Temporary` worth retrying, or an UnusualWhalesError."""
        self._pace()
        self.calls += 1
        try:
            resp = self.session.get(url, params=params, timeout=self.timeout)
        except requests.Timeout:
            raise _Temporary(f"no answer within {self.timeout:g} s") from None
        except requests.RequestException as exc:
            raise _Temporary(
                f"could not connect ({type(exc).__name__}: {self._scrub(str(exc))})"
            ) from None
        self._read_limits(resp.headers)
        status, text = resp.status_code, resp.text
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        if status == 429:
            raise _Temporary(
                "rate limited (HTTP 429)",
                retry_after_seconds(resp.headers.get("retry-after"), self.clock()),
            )
        if status >= 500:
            raise _Temporary(f"server error (HTTP {status}: {self._snippet(text)})")
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
        return self._scrub(text[:120]).replace("\n", " ").strip()

    def _message(self, data: Any, text: str) -> str:
        if isinstance(data, dict):
            for key in ("msg", "message", "error"):
                if data.get(key):
                    msg = str(data[key])
                    if data.get("path") and key == "msg":
                        msg += f" (at {data['path']})"
                    return self._scrub(msg)
        return self._snippet(text) or "(empty body)"


class _Temporary(Exception):
    """A failure worth another attempt; ``retry_after``: the wait the server asked for."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after
