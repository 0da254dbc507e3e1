"""The HTTP client of CoinGecko: optional demo/pro key header, 429 backoff, clear errors."""

from __future__ import annotations

from typing import Any

import requests

from tsys.api import ApiClient, DataError, TemporaryFailure

#: Plan -> (base URL, key header). "public" sends no key.
PLANS: dict[str, tuple[str, str | None]] = {
    "public": ("https://api.coingecko.com/api/v3", None),
    "demo": ("https://api.coingecko.com/api/v3", "x-cg-demo-api-key"),
    "pro": ("https://pro-api.coingecko.com/api/v3", "x-cg-pro-api-key"),
}


class CoinGeckoError(DataError):
    """CoinGecko could not deliver."""


class CoinGeckoClient(ApiClient):
    """GET CoinGecko endpoints with bounded retries on 429, 5xx and timeouts."""

    service = "CoinGecko"
    error = CoinGeckoError
    retry_hint = "try again later; a free COINGECKO_API_KEY (demo plan) raises the rate limit"
    timeout_errors = (requests.Timeout,)
    transport_errors = (requests.RequestException,)

    def __init__(
        self,
        *,
        plan: str,
        api_key: str | None,
        base_url: str | None = None,
        session: requests.Session | None = None,
        **retries: Any,
    ) -> None:
        default_url, header = PLANS[plan]
        super().__init__(
            session=session or requests.Session(),
            base_url=base_url or default_url,
            secret=api_key,
            **retries,
        )
        self.plan = plan
        self.session.headers.setdefault("User-Agent", "tsys-data-coingecko/0.1")
        self.session.headers["Accept"] = "application/json"
        if header is not None and api_key:
            self.session.headers[header] = api_key

    def __repr__(self) -> str:
        return f"CoinGeckoClient(plan={self.plan!r}, base_url={self.base_url!r})"

    def answer(self, resp: Any, data: Any, what: str) -> Any:
        """The data, a temporary failure (429, 5xx) or a CoinGeckoError saying what happened."""
        status, text = resp.status_code, resp.text
        code = _error_code(data)
        if status == 429 or code == 429:
            raise self.rate_limited(resp)
        if status >= 500:
            raise TemporaryFailure(f"server error (HTTP {status})")
        if status in (401, 403) or code in (10002, 10005, 10010, 10011):
            raise CoinGeckoError(
                f"{what} refused the request (HTTP {status}): "
                f"{self.scrub(_error_message(data) or text[:120])}",
                hint="check COINGECKO_API_KEY and [data.options.coingecko] plan "
                "(demo keys use api.coingecko.com, pro keys pro-api.coingecko.com)",
            )
        if status >= 400:
            raise CoinGeckoError(
                f"{what} answered HTTP {status}: {self.scrub(_error_message(data) or text[:120])}"
            )
        if data is None:
            snippet = self.scrub(text[:80]).replace("\n", " ")
            raise CoinGeckoError(
                f"{what} sent a response that is not valid JSON (starts with {snippet!r})",
                hint="CoinGecko may be having trouble; try again later",
            )
        return data


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
