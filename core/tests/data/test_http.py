"""tsys.data.http.ApiClient: the retry loop, the secret scrubbed, the plugin's rules kept."""

from __future__ import annotations

import pytest

from tsys.api import ApiClient, DataError, TemporaryFailure


class _Answer:
    def __init__(self, status: int, text: str, headers: dict[str, str] | None = None) -> None:
        self.status_code, self.text, self.headers = status, text, headers or {}


class _Session:
    """Answers (or raises) from a script, one step per GET; records the calls."""

    def __init__(self, *steps):
        self.steps, self.calls = list(steps), []

    def get(self, url, params=None, timeout=None):
        self.calls.append((url, params, timeout))
        step = self.steps.pop(0)
        if isinstance(step, BaseException):
            raise step
        return step


class ToyError(DataError):
    pass


class ToyClient(ApiClient):
    service = "Toy"
    error = ToyError
    retry_hint = "wait"

    def __init__(self, session, **kw):
        self.counted = 0
        super().__init__(session=session, base_url="http://toy/api/", secret="s3cret", **kw)

    def before_request(self):
        self.counted += 1

    def answer(self, resp, data, what):
        if resp.status_code == 429:
            raise self.rate_limited(resp)
        if resp.status_code >= 500:
            raise TemporaryFailure(f"server error (HTTP {resp.status_code})")
        if data is None:
            raise ToyError(f"{what} sent no JSON")
        return data


def test_retries_temporary_failures_then_answers():
    waits = []
    session = _Session(
        TimeoutError("slow"),
        _Answer(503, "down"),
        _Answer(429, "{}", {"Retry-After": "7"}),
        _Answer(200, '{"ok": 1}'),
    )
    client = ToyClient(session, sleep=waits.append, timeout=5.0, backoff_seconds=1.0)
    assert client.get_json("/things", {"a": 1}) == {"ok": 1}
    assert waits == [1.0, 2.0, 7.0]
    assert client.counted == 4
    assert session.calls[0] == ("http://toy/api/things", {"a": 1}, 5.0)


def test_the_last_temporary_failure_becomes_the_error_without_the_secret():
    session = _Session(*[OSError("refused by s3cret host")] * 3)
    client = ToyClient(session, sleep=lambda s: None, max_retries=2)
    with pytest.raises(ToyError) as info:
        client.get_json("things")
    assert info.value.message == (
        "Toy things failed after 3 attempt(s): could not connect (OSError: refused by *** host)"
    )
    assert info.value.hint == "wait"


def test_a_final_failure_is_not_retried():
    session = _Session(_Answer(200, "<html>"), _Answer(200, "{}"))
    client = ToyClient(session, sleep=lambda s: None)
    with pytest.raises(ToyError, match="Toy x sent no JSON"):
        client.get_json("x")
    assert len(session.calls) == 1
