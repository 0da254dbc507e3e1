"""The HTTP client of CoinGecko: optional demo/pro key header, 429 backoff, clear errors."""

from __future__ import annotations

import email.utils
import json
import logging
import time
from collections.abc import Callable
from typing import Any

import requests

from tsys.api import DataError, call_with_retries

log = logging.getLogger(__name__)

#: Plan -> (base URL, key header). "public" sends no key.
PLANS: dict[str, tuple[str, str | None]] = {
    "public": ("https://api.coingecko.com/api/v3", None),
    "demo": ("https://api.coingecko.com/api/v3", "x-cg-demo-api-key"),
    "pro": ("https://pro-api.coingecko.com/api/v3", "x-cg-pro-api-key"),
}


class CoinGeckoError(DataError):
    """CoinGecko could not deliver."""


def retry_after_seconds(value: str | None, now: float) -> float | None:
    """Parse a Retry-After header: delta seconds or an HTTP date; None when absent/unreadable."""
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


class CoinGeckoClient:
    """GET CoinGecko endpoints with bounded retries on 429, 5xx and timeouts."""

    def __init__(
        self,
        *,
        plan: str,
        api_key: str | None,
        base_url: str | None = None,
        timeout: float = 20.0,
        max_retries: int = 3,
        backoff_seconds: float = 2.0,
        max_backoff_seconds: float = 60.0,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        default_url, header = PLANS[plan]
        self.plan = plan
        self.base_url = (base_url or default_url).rstrip("/")
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff_seconds = backoff_seconds
        self.max_backoff_seconds = max_backoff_seconds
        self.sleep = sleep
        self.clock = clock
        self._key = api_key
        self.session = session or requests.Session()
        self.session.headers.setdefault("User-Agent", "tsys-data-coingecko/0.1")
        self.session.headers["Accept"] = "application/json"
        if header is not None and api_key:
            self.session.headers[header] = api_key

    def __repr__(self) -> str:
        return f"CoinGeckoClient(plan={self.plan!r}, base_url={self.base_url!r})"

    def _scrub(self, text: str) -> str:
        return text.replace(self._key, "***") if self._key else text

    def get(self, path: str, params: dict[str, Any]) -> Any:
        """GET ``path``; return the parsed JSON or raise CoinGeckoError saying what happened."""
        url = f"{self.base_url}/{path.lstrip('/')}"
        what = f"CoinGecko {path}"
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
            raise CoinGeckoError(
                f"{what} failed after {self.max_retries + 1} attempt(s): {last}",
                hint="try again later; a free COINGECKO_API_KEY (demo plan) raises the rate limit",
            ) from None

    def _get_once(self, url: str, params: dict[str, Any], what: str) -> Any:
        """One GET: the data, a :class:`_Temporary` worth retrying, or a CoinGeckoError."""
        try:
            resp = self.session.get(url, params=params, timeout=self.timeout)
        except requests.Timeout:
            raise _Temporary(f"no answer within {self.timeout:g} s") from None
        except requests.RequestException as exc:
            raise _Temporary(
                f"could not connect ({type(exc).__name__}: {self._scrub(str(exc))})"
            ) from None
        status, data, text = resp.status_code, None, resp.text
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        code = _error_code(data)
        if status == 429 or code == 429:
            raise _Temporary(
                "rate limited (HTTP 429)",
                retry_after_seconds(resp.headers.get("Retry-After"), self.clock()),
            )
        if status >= 500:
            raise _Temporary(f"server error (HTTP {status})")
        if status in (401, 403) or code in (10002, 10005, 10010, 10011):
            raise CoinGeckoError(
                f"{what} refused the request (HTTP {status}): "
                f"{self._scrub(_error_message(data) or text[:120])}",
                hint="check COINGECKO_API_KEY and [data.options.coingecko] plan "
                "(demo keys use api.coingecko.com, pro keys pro-api.coingecko.com)",
            )
        if status >= 400:
            raise CoinGeckoError(
                f"{what} answered HTTP {status}: {self._scrub(_error_message(data) or text[:120])}"
            )
        if data is None:
            snippet = self._scrub(text[:80]).replace("\n", " ")
            raise CoinGeckoError(
                f"{what} sent a response that is not valid JSON (starts with {snippet!r})",
                hint="CoinGecko may be having trouble; try again later",
            )
        return data


class _Temporary(Exception):
    """A failure worth another attempt; ``retry_after``: the wait the server asked for."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


def _error_code(data: Any) -> int | None:
    if isinstance(data, dict) and isinstance(data.get("status"), dict):
        code = data["status"].get("error_code")
        return code if isinstance(code, int) else None
    return None


def _error_message(data: Any) -> str | None:
    if isinstance(data, dict):
        status = data.get("status")
        if isinstance(status, dict) and status.get("error_message"):
            return str(status["error_message"])
        if data.get("error"):
            return str(data["error"])
    return None
