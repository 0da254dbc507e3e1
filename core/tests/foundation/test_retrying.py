"""tsys.retrying.call_with_retries: the one retry loop (tenacity), driven by a fake sleep."""

from __future__ import annotations

import pytest

from tsys.brokers.common import retry
from tsys.errors import BrokerError, TemporaryBrokerError
from tsys.retrying import call_with_retries


class Flaky:
    """Fails with ``errors`` in order, then returns "ok"."""

    def __init__(self, *errors: BaseException) -> None:
        self.errors = list(errors)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


class Temporary(Exception):
    def __init__(self, wait: float | None = None) -> None:
        super().__init__("temporary")
        self.wait = wait


def _temporary(exc: BaseException) -> bool:
    return isinstance(exc, Temporary)


def test_waits_double_from_backoff_and_are_capped():
    sleeps: list[float] = []
    fn = Flaky(*[Temporary() for _ in range(4)])
    out = call_with_retries(
        fn, attempts=5, retry_if=_temporary, backoff=1.5, max_wait=5.0, sleep=sleeps.append
    )
    assert out == "ok" and fn.calls == 5
    assert sleeps == [1.5, 3.0, 5.0, 5.0]


def test_the_last_failure_is_reraised_unchanged_after_the_last_attempt():
    sleeps: list[float] = []
    last = Temporary()
    fn = Flaky(Temporary(), Temporary(), last)
    with pytest.raises(Temporary) as info:
        call_with_retries(fn, attempts=3, retry_if=_temporary, backoff=2, sleep=sleeps.append)
    assert info.value is last and fn.calls == 3 and sleeps == [2, 4]


def test_a_failure_not_worth_retrying_passes_through_at_once():
    sleeps: list[float] = []
    fn = Flaky(KeyError("permanent"))
    with pytest.raises(KeyError):
        call_with_retries(fn, attempts=4, retry_if=_temporary, backoff=1, sleep=sleeps.append)
    assert fn.calls == 1 and sleeps == []


def test_the_failure_may_name_its_wait_and_the_cap_still_holds():
    sleeps: list[float] = []
    seen: list[tuple[int, float]] = []
    fn = Flaky(Temporary(wait=7.0), Temporary(), Temporary(wait=99.0))
    call_with_retries(
        fn,
        attempts=4,
        retry_if=_temporary,
        backoff=0.5,
        max_wait=30.0,
        wait_hint=lambda exc: getattr(exc, "wait", None),
        sleep=sleeps.append,
        before_sleep=lambda n, exc, wait: seen.append((n, wait)),
    )
    assert sleeps == [7.0, 1.0, 30.0]
    assert seen == [(1, 7.0), (2, 1.0), (3, 30.0)]


def test_one_attempt_never_sleeps_and_zero_is_refused():
    sleeps: list[float] = []
    with pytest.raises(Temporary):
        call_with_retries(
            Flaky(Temporary()), attempts=1, retry_if=_temporary, backoff=1, sleep=sleeps.append
        )
    assert sleeps == []
    with pytest.raises(ValueError, match="attempts"):
        call_with_retries(Flaky(), attempts=0, retry_if=_temporary, backoff=1)


def test_broker_retry_keeps_its_message_and_lets_permanent_errors_through():
    sleeps: list[float] = []
    fn = Flaky(TemporaryBrokerError("HTTP 503"), TemporaryBrokerError("HTTP 504"))
    with pytest.raises(
        TemporaryBrokerError, match="submit still failing after 2 attempts: HTTP 504"
    ):
        retry(fn, attempts=2, backoff=3, sleep=sleeps.append, what="submit")
    assert sleeps == [3]
    fn = Flaky(BrokerError("HTTP 401"))
    with pytest.raises(BrokerError, match="HTTP 401") as info:
        retry(fn, attempts=3, backoff=3, sleep=sleeps.append)
    assert type(info.value) is BrokerError and fn.calls == 1
    assert retry(Flaky(TemporaryBrokerError("x")), attempts=2, backoff=0, sleep=sleeps.append)
