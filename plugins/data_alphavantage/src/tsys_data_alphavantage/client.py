"""The HTTP client of Alpha Vantage: one ``/query`` endpoint, errors inside HTTP 200 bodies.

Alpha Vantage answers almost every failure with HTTP 200 and a one-key JSON object
(``Error Message``, ``Information`` or ``Note``); CSV endpoints answer failures with JSON too.
This client turns each into a :class:`~tsys.errors.DataError` subclass that says plainly what
happened, enforces a client-side call budget persisted in the cache folder, and keeps the API key
(a query parameter) out of every message and log line.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

from tsys.api import DataError, atomic_write_bytes, call_with_retries

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://www.alphavantage.co"
KEY_URL = "https://www.alphavantage.co/support/#api-key"
_APIKEY_RE = re.compile(r"(apikey=)[^&\s'\"]+", re.IGNORECASE)
#: Marker returned by :meth:`AlphaVantageClient.query` for "No articles found" answers.
EMPTY = object()


class AlphaVantageError(DataError):
    """Alpha Vantage could not deliver (network, server, unexpected body)."""


class RateLimited(AlphaVantageError):
    """A rate limit or the daily quota was hit (by Alpha Vantage or the client-side budget)."""

    def __init__(self, message: str, *, daily: bool, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.daily = daily


class BadKey(AlphaVantageError):
    """The API key is missing, invalid, or the public demo key."""


class InvalidCall(AlphaVantageError):
    """Alpha Vantage rejected the parameters (unknown symbol, bad inputs, premium endpoint)."""


def scrub(text: str, key: str | None = None) -> str:
    """Remove the API key from ``text`` (both as ``apikey=...`` and verbatim)."""
    text = _APIKEY_RE.sub(r"\1***", text)
    if key:
        text = text.replace(key, "***")
    return text


class _ScrubFilter(logging.Filter):
    """Rewrite urllib3's debug lines, which contain the request URL and so the key."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            msg = record.getMessage()
        except Exception:  # a broken record is not ours to fix
            return True
        if "apikey=" in msg.lower():
            record.msg = scrub(msg)
            record.args = ()
        return True


_FILTER = _ScrubFilter()


def _install_log_filter() -> None:
    for name in ("urllib3.connectionpool", "requests"):
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)


class CallBudget:
    """Client-side rate limit: calls per minute and per UTC day, persisted in ``state_file``.

    Persisting the counter means several runs on one day share one budget; a crash loses at
    most the call in flight. Several processes at once may overshoot slightly (no lock).
    """

    def __init__(
        self,
        state_file: Path,
        *,
        calls_per_minute: int,
        daily_budget: int,
        max_wait_seconds: float,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.state_file = Path(state_file)
        self.calls_per_minute = calls_per_minute
        self.daily_budget = daily_budget
        self.max_wait_seconds = max_wait_seconds
        self.clock = clock
        self.sleep = sleep

    def _day(self, now: float) -> str:
        return dt.datetime.fromtimestamp(now, dt.UTC).date().isoformat()

    def load(self) -> dict[str, Any]:
        now = self.clock()
        state: dict[str, Any] = {}
        try:
            state = json.loads(self.state_file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            pass
        except (OSError, ValueError) as exc:
            log.warning("resetting unreadable call counter %s: %s", self.state_file, exc)
        if not isinstance(state, dict) or state.get("day") != self._day(now):
            state = {"day": self._day(now), "count": 0, "exhausted": False, "recent": []}
        state["recent"] = [t for t in state.get("recent", []) if now - float(t) < 60.0]
        return state

    def _save(self, state: dict[str, Any]) -> None:
        atomic_write_bytes(self.state_file, json.dumps(state).encode("utf-8"))

    def used_today(self) -> int:
        return int(self.load()["count"])

    def acquire(self) -> None:
        """Wait for a free slot in the minute window and count one call, or raise RateLimited."""
        state = self.load()
        if state.get("exhausted") or state["count"] >= self.daily_budget:
            reason = (
                "Alpha Vantage reported the daily quota as used up"
                if state.get("exhausted")
                else f"the daily budget of {self.daily_budget} Alpha Vantage calls is used up"
            )
            raise RateLimited(
                f"{reason} ({state['count']} calls counted today, UTC); no call was made",
                daily=True,
                hint="cached data is used where available; raise [data.options.alphavantage] "
                "daily_budget only if your plan allows more calls",
            )
        recent = sorted(float(t) for t in state["recent"])
        if len(recent) >= self.calls_per_minute:
            wait = recent[len(recent) - self.calls_per_minute] + 60.0 - self.clock()
            if wait > self.max_wait_seconds:
                raise RateLimited(
                    f"the Alpha Vantage limit of {self.calls_per_minute} calls per minute would "
                    f"need a wait of {wait:.0f} s (more than max_wait_seconds = "
                    f"{self.max_wait_seconds:g})",
                    daily=False,
                    hint="try again in a minute",
                )
            if wait > 0:
                log.info("Alpha Vantage rate limit: waiting %.1f s", wait)
                self.sleep(wait)
            state = self.load()
        state["count"] = int(state["count"]) + 1
        state["recent"].append(self.clock())
        self._save(state)

    def mark_exhausted(self) -> None:
        state = self.load()
        state["exhausted"] = True
        self._save(state)


class AlphaVantageClient:
    """Call Alpha Vantage's ``/query`` endpoint; every failure becomes a clear DataError."""

    def __init__(
        self,
        *,
        api_key: str | None,
        budget: CallBudget,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float = 20.0,
        burst_retry_wait: float = 2.0,
        session: requests.Session | None = None,
    ) -> None:
        self._key = api_key
        self.budget = budget
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.burst_retry_wait = burst_retry_wait
        self.session = session or requests.Session()
        #: Why Alpha Vantage could not be reached in this run (None: no such failure yet).
        self.unreachable: str | None = None
        self.session.headers.setdefault("User-Agent", "tsys-data-alphavantage/0.1")
        _install_log_filter()

    def __repr__(self) -> str:
        return f"AlphaVantageClient(base_url={self.base_url!r}, api_key=***)"

    def query(self, function: str, params: dict[str, str], *, csv: bool = False) -> Any:
        """Call ``function``; return parsed JSON, CSV text (``csv=True``) or :data:`EMPTY`."""
        if self._key is None:
            raise BadKey(
                f"ALPHAVANTAGE_API_KEY is not set, so Alpha Vantage {function} cannot be called",
                hint=f"get a free key at {KEY_URL} and export ALPHAVANTAGE_API_KEY",
            )
        # A burst limit ("1 request per second") clears quickly: one bounded retry. A used-up
        # daily quota does not, and every other failure is the caller's to report.
        return call_with_retries(
            lambda: self._query_once(function, params, csv=csv),
            attempts=2,
            retry_if=lambda exc: isinstance(exc, RateLimited) and not exc.daily,
            backoff=self.burst_retry_wait,
            sleep=self.budget.sleep,
            before_sleep=lambda n, exc, wait: log.info(
                "Alpha Vantage burst limit on %s; retrying once", function
            ),
        )

    def _query_once(self, function: str, params: dict[str, str], *, csv: bool) -> Any:
        what = f"Alpha Vantage {function}"
        if self.unreachable is not None:
            # A server that refused the connection once is given up on for the run: waiting
            # out the call budget for every symbol only to fail again took minutes (21.14).
            raise AlphaVantageError(
                f"Alpha Vantage is not asked again in this run: {self.unreachable}",
                hint="check the network connection and [data.options.alphavantage] base_url",
            )
        self.budget.acquire()
        url = f"{self.base_url}/query"
        full = {"function": function, **params, "apikey": self._key}
        try:
            resp = self.session.get(url, params=full, timeout=self.timeout)
        except requests.Timeout:
            raise AlphaVantageError(
                f"{what} did not answer within {self.timeout:g} s",
                hint="try again later, or raise [data.options.alphavantage] timeout",
            ) from None
        except requests.RequestException as exc:
            reason = (
                f"{what} could not be reached at {self.base_url}: "
                f"{type(exc).__name__}: {scrub(str(exc), self._key)}"
            )
            if isinstance(exc, requests.ConnectionError):
                self.unreachable = reason
            raise AlphaVantageError(
                reason,
                hint="check the network connection and [data.options.alphavantage] base_url",
            ) from None
        if resp.status_code >= 400:
            raise AlphaVantageError(
                f"{what} answered HTTP {resp.status_code}"
                + (" (server error)" if resp.status_code >= 500 else ""),
                hint="try again later" if resp.status_code >= 500 else None,
            )
        text = resp.text
        if csv and not text.lstrip().startswith("{"):
            if not text.strip():
                raise AlphaVantageError(f"{what} sent an empty response")
            return text
        try:
            data = json.loads(text)
        except ValueError:
            snippet = scrub(text[:80], self._key).replace("\n", " ")
            raise AlphaVantageError(
                f"{what} sent a response that is not valid JSON (starts with {snippet!r})",
                hint="Alpha Vantage may be having trouble; try again later",
            ) from None
        if isinstance(data, dict):
            verdict = self._classify(function, data)
            if verdict is not None:
                return verdict
        if csv:
            raise AlphaVantageError(f"{what} sent JSON where CSV was expected")
        return data

    def _classify(self, function: str, data: dict[str, Any]) -> Any:
        """Raise for an error body; return EMPTY for "no articles"; None for real data."""
        keys = {"Error Message", "Information", "Note"} & set(data)
        if not keys or "feed" in data:
            return None
        key = sorted(keys)[0]
        raw = str(data[key])
        text = scrub(raw, self._key)
        low = raw.lower()
        what = f"Alpha Vantage {function}"
        if key == "Error Message":
            if "apikey" in low or "api key" in low:
                raise BadKey(
                    f"{what}: the API key was refused ({text})",
                    hint=f"check ALPHAVANTAGE_API_KEY; a free key is at {KEY_URL}",
                )
            raise InvalidCall(
                f"{what}: invalid call (unknown symbol or bad parameters): {text}",
            )
        if "no articles found" in low:
            return EMPTY
        if "demo" in low and "api key" in low:
            raise BadKey(
                f"{what}: the public demo key only works for demo symbols ({text})",
                hint=f"get a free key at {KEY_URL} and export ALPHAVANTAGE_API_KEY",
            )
        # Order matters: the quota and burst texts also mention "premium plans" and "per day".
        if key == "Note" or any(w in low for w in ("spreading out", "per second", "burst")):
            raise RateLimited(
                f"{what}: rate limited (too many calls in a short time): {text}",
                daily=False,
                hint="lower [data.options.alphavantage] calls_per_minute",
            )
        if "premium endpoint" in low:
            raise InvalidCall(
                f"{what} is a premium endpoint your key does not unlock: {text}",
                hint="use a premium key or turn this input off",
            )
        if "invalid inputs" in low:
            raise InvalidCall(f"{what}: invalid inputs (unknown ticker or topic): {text}")
        if any(w in low for w in ("per day", "daily", "rate limit")):
            self.budget.mark_exhausted()
            raise RateLimited(
                f"{what}: the daily request quota of this key is used up: {text}",
                daily=True,
                hint="cached data is used where available; calls resume tomorrow",
            )
        raise AlphaVantageError(f"{what} answered with a message instead of data: {text}")
