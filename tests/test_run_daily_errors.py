"""Bad inputs give a clear message, a distinct exit code, and leave earlier runs untouched."""

from __future__ import annotations

import os
import stat

import pytest
from click.testing import CliRunner

from tsys.cli import cli
from tsys.errors import DataError
from tsys.hookspecs import hookimpl

DAY1 = "2024-06-27"
DAY2 = "2024-06-28"


def _invoke(*args):
    return CliRunner().invoke(cli, list(args))


@pytest.fixture
def day1(isolated):
    result = _invoke("run-daily", "--demo", "--as-of", DAY1)
    assert result.exit_code == 0, result.output
    run_json = isolated / "data" / "demo" / "runs" / DAY1 / "run.json"
    return isolated, run_json, run_json.read_bytes()


def test_unknown_bucket(day1):
    _, run_json, before = day1
    result = _invoke("run-daily", "--demo", "--as-of", DAY2, "--buckets", "sp5000")
    assert result.exit_code == 2  # a usage error (issue 13.7)
    assert "unknown bucket 'sp5000'" in result.output and "did you mean 'sp500'" in result.output
    assert "Traceback" not in result.output
    assert run_json.read_bytes() == before


def test_corrupt_config(day1):
    tmp, run_json, before = day1
    (tmp / "tsys.toml").write_text("[account\nsize = ")
    result = _invoke("run-daily", "--as-of", DAY2)
    assert result.exit_code == 3 and "not valid TOML" in result.output
    assert run_json.read_bytes() == before


def test_date_in_the_future(day1):
    _, run_json, before = day1
    result = _invoke("run-daily", "--demo", "--as-of", "2999-01-01")
    assert result.exit_code == 3 and "in the future" in result.output
    assert run_json.read_bytes() == before


class _Flaky:
    """A data source whose bars fail on the second request (halfway through the buckets)."""

    @hookimpl
    def register_data_sources(self, register):
        from tsys.data.demo import DemoSource

        class FlakySource(DemoSource):
            name = "flaky"
            calls = 0

            def bars(self, *args, **kwargs):
                type(self).calls += 1
                if type(self).calls >= 2:
                    raise DataError("vendor connection reset after 1 of 2 requests")
                return super().bars(*args, **kwargs)

        register(FlakySource)


@pytest.fixture
def flaky_plugin(register_plugin):
    register_plugin(_Flaky(), "flaky-test-plugin")


def test_source_failing_halfway_is_a_partial_failure(day1, flaky_plugin):
    tmp, run_json, before = day1
    (tmp / "tsys.toml").write_text('[data]\nsource = "flaky"\n')
    result = _invoke("run-daily", "--as-of", DAY2)
    assert result.exit_code == 10, result.output
    assert "FAILED" in result.output and "vendor connection reset" in result.output
    assert run_json.read_bytes() == before
    # the day that did run is complete and says which bucket failed
    listed = _invoke("runs", "list")
    assert DAY2 in listed.output and "FAILED" in listed.output


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_read_only_data_dir(day1):
    tmp, run_json, before = day1
    runs = tmp / "data" / "demo" / "runs"
    runs.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        result = _invoke("run-daily", "--demo", "--as-of", DAY2)
    finally:
        runs.chmod(stat.S_IRWXU)
    assert result.exit_code != 0 and "cannot write" in result.output
    assert "Traceback" not in result.output
    assert run_json.read_bytes() == before


def test_refused_write_keeps_earlier_runs(day1):
    """Root ignores permissions, so also refuse the write with a file where a folder must go."""
    tmp, run_json, before = day1
    blocker = tmp / "data" / "demo" / "runs" / DAY2
    blocker.write_text("not a folder")
    result = _invoke("run-daily", "--demo", "--as-of", DAY2)
    assert result.exit_code != 0 and "cannot write" in result.output, result.output
    assert "Traceback" not in result.output
    assert run_json.read_bytes() == before
    assert blocker.read_text() == "not a folder"
