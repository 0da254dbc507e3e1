"""Retry with backoff, in one place: every tsys service client retries through
:func:`call_with_retries`, built on tenacity.

The caller keeps its domain rules: it says which exceptions are worth another attempt
(``retry_if``), may suggest a wait from the failure itself (``wait_hint``, e.g. a ``Retry-After``
header) and decides what the final exception says. The waits double from ``backoff`` seconds
(``backoff``, ``2*backoff``, ``4*backoff``...) up to ``max_wait``; there is no jitter, so a
test's fake ``sleep`` sees exact numbers. The last failure is re-raised unchanged.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    import tenacity

T = TypeVar("T")


def call_with_retries(
    fn: Callable[[], T],
    *,
    attempts: int,
    retry_if: Callable[[BaseException], bool],
    backoff: float,
    max_wait: float | None = None,
    wait_hint: Callable[[BaseException], float | None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    before_sleep: Callable[[int, BaseException, float], None] | None = None,
) -> T:
    """Call ``fn`` up to ``attempts`` times while it raises an exception ``retry_if`` accepts.

    Parameters
    ----------
    attempts
        Calls at most (1: no retry).
    retry_if
        True for a failure worth another attempt; any other exception passes through at once.
    backoff, max_wait
        The wait before retry ``n`` (1-based) is ``backoff * 2**(n-1)``, capped at ``max_wait``.
    wait_hint
        A wait the failure asks for (seconds), used instead of the backoff when not None (still
        capped at ``max_wait``).
    sleep
        How to wait; tests pass a recorder so no test waits on a real backoff.
    before_sleep
        Called with (attempt number, failure, wait) before each wait, e.g. to log it.
    """
    import tenacity  # here: every plugin imports this module through tsys.api

    if attempts < 1:
        raise ValueError("attempts must be >= 1")
    exponential = tenacity.wait_exponential(multiplier=backoff, exp_base=2, min=0)

    def wait(state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome is not None else None
        hint = wait_hint(exc) if wait_hint is not None and exc is not None else None
        seconds = exponential(state) if hint is None else max(0.0, hint)
        return seconds if max_wait is None else min(seconds, max_wait)

    def announce(state: tenacity.RetryCallState) -> None:
        if before_sleep is not None and state.outcome is not None and state.next_action:
            exc = state.outcome.exception()
            assert exc is not None
            before_sleep(state.attempt_number, exc, state.next_action.sleep)

    retrying = tenacity.Retrying(
        stop=tenacity.stop_after_attempt(attempts),
        wait=wait,
        retry=tenacity.retry_if_exception(retry_if),
        sleep=sleep,
        before_sleep=announce,
        reraise=True,
    )
    return retrying(fn)
