"""The client of a JSON web API: one GET with bounded retries, the secret scrubbed, clear errors.

A data-source plugin subclasses :class:`ApiClient` and keeps its own rules in two methods:
:meth:`ApiClient.answer` reads one HTTP answer (the data, a :class:`TemporaryFailure` worth
another attempt, or the plugin's error) and :meth:`ApiClient.before_request` may pace or count
requests. The loop around them is here once: timeouts and connection failures are temporary,
the waits double (or follow the server's ``Retry-After``) through
:func:`tsys.retrying.call_with_retries`, and the last temporary failure becomes the plugin's
error, "<service> <path> failed after N attempt(s): <reason>".

The HTTP session is the plugin's (``requests.Session`` or alike: ``get(url, params=,
timeout=)`` answering ``status_code``, ``text`` and ``headers``); tsys itself does not depend
on an HTTP library, so the subclass names the session's exceptions in ``timeout_errors`` and
``transport_errors``.
"""

from __future__ import annotations

import email.utils
import json
import logging
import time
from collections.abc import Callable
from typing import Any, ClassVar

import attrs

from tsys.errors import DataError
from tsys.retrying import call_with_retries


class TemporaryFailure(Exception):
    """A failure worth another attempt; ``retry_after``: the wait the server asked for (s)."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


def retry_after_seconds(value: str | None, now: float) -> float | None:
    """A ``Retry-After`` header: delta seconds or an HTTP date; None when absent/unreadable."""
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


def _no_trailing_slash(url: str) -> str:
    return url.rstrip("/")


@attrs.define(kw_only=True, eq=False, repr=False)
class ApiClient:
    """GET a JSON web API with bounded retries on what :meth:`answer` calls temporary.

    Subclasses set ``service`` (named in every message), ``error`` (the :class:`DataError`
    subclass raised), ``retry_hint`` (the hint when the retries are used up) and the session's
    exception types, and implement :meth:`answer`; a subclass with a constructor of its own
    passes these settings on with ``super().__init__(...)``. ``sleep`` and ``clock`` are
    replaced in tests; ``secret`` (an API key or token) is replaced by ``***`` in every message.
    """

    #: Who answers, as messages name it ("CoinGecko").
    service: ClassVar[str] = "the API"
    #: The error raised when the service cannot deliver.
    error: ClassVar[type[DataError]] = DataError
    #: The hint of the error raised when every attempt failed temporarily.
    retry_hint: ClassVar[str | None] = None
    #: The session's exceptions for a request that timed out, and for any other transport
    #: failure (for requests: ``requests.Timeout`` and ``requests.RequestException``).
    timeout_errors: ClassVar[tuple[type[BaseException], ...]] = (TimeoutError,)
    transport_errors: ClassVar[tuple[type[BaseException], ...]] = (OSError,)

    #: The HTTP session (``requests.Session`` or alike).
    session: Any
    #: The URL the paths of :meth:`get_json` are below.
    base_url: str = attrs.field(converter=_no_trailing_slash)
    _secret: str | None = None
    #: Seconds to wait for an answer.
    timeout: float = 20.0
    #: Attempts after the first one, for temporary failures.
    max_retries: int = 3
    #: The first wait between attempts (seconds); it doubles up to ``max_backoff_seconds``.
    backoff_seconds: float = 2.0
    max_backoff_seconds: float = 60.0
    sleep: Callable[[float], None] = time.sleep
    #: The wall clock (POSIX seconds), for ``Retry-After`` dates.
    clock: Callable[[], float] = time.time

    def scrub(self, text: str) -> str:
        """``text`` with the secret replaced by ``***``."""
        return text.replace(self._secret, "***") if self._secret else text

    def get_json(self, path: str, params: Any = None) -> Any:
        """GET ``path`` below the base URL; what :meth:`answer` returns, or ``error``."""
        url = f"{self.base_url}/{path.lstrip('/')}"
        what = f"{self.service} {path}"
        log = logging.getLogger(type(self).__module__)  # the plugin's logger, not ours
        try:
            return call_with_retries(
                lambda: self._get_once(url, params, what),
                attempts=self.max_retries + 1,
                retry_if=lambda exc: isinstance(exc, TemporaryFailure),
                backoff=self.backoff_seconds,
                max_wait=self.max_backoff_seconds,
                wait_hint=lambda exc: getattr(exc, "retry_after", None),
                sleep=self.sleep,
                before_sleep=lambda n, exc, wait: log.info(
                    "%s: %s; retrying in %.2f s", what, exc, wait
                ),
            )
        except TemporaryFailure as last:
            raise self.error(
                f"{what} failed after {self.max_retries + 1} attempt(s): {last}",
                hint=self.retry_hint,
            ) from None

    def _get_once(self, url: str, params: Any, what: str) -> Any:
        self.before_request()
        try:
            resp = self.session.get(url, params=params, timeout=self.timeout)
        except self.timeout_errors:
            raise TemporaryFailure(f"no answer within {self.timeout:g} s") from None
        except self.transport_errors as exc:
            raise TemporaryFailure(
                f"could not connect ({type(exc).__name__}: {self.scrub(str(exc))})"
            ) from None
        try:
            data = json.loads(resp.text)
        except ValueError:
            data = None
        return self.answer(resp, data, what)

    def before_request(self) -> None:
        """Called before every HTTP request, retries included (pace or count them here)."""

    def answer(self, resp: Any, data: Any, what: str) -> Any:
        """Read one answer: return the data, raise :class:`TemporaryFailure` for what is worth
        another attempt (a 429, a 5xx) or ``error`` for what is not.

        ``data`` is the body parsed as JSON (None when it is not JSON); ``what`` names the
        request for messages ("CoinGecko coins/markets").
        """
        raise NotImplementedError

    def rate_limited(self, resp: Any) -> TemporaryFailure:
        """The temporary failure of a rate-limited answer (HTTP 429), waiting as long as its
        ``Retry-After`` header asks when it says."""
        return TemporaryFailure(
            "rate limited (HTTP 429)",
            retry_after_seconds(resp.headers.get("Retry-After"), self.clock()),
        )
