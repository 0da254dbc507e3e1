"""``tsys dashboard`` as a user starts it: a fresh data dir, ``--demo``, a real process."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys

import pytest

from tsys.testing.processes import read_until


def _start(tmp_path, *args: str) -> tuple[subprocess.Popen, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TSYS")}
    env.update(
        TSYS_DATA_DIR=str(tmp_path / "data"),
        XDG_CONFIG_HOME=str(tmp_path / "xdg-config"),
        XDG_DATA_HOME=str(tmp_path / "xdg-data"),
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "tsys", "dashboard", "--port", "0", *args],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    line = read_until(proc.stdout, "tsys dashboard on", 600)
    m = re.search(r"(http://\S+)", line)
    if not m:
        proc.kill()
        pytest.fail(f"no address printed: {line!r} {proc.stderr.read()[-2000:]}")
    return proc, m.group(1)


def _stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.mark.slow
def test_demo_on_a_fresh_data_dir_makes_a_run_and_serves_every_page(tmp_path):
    import httpx

    proc, url = _start(tmp_path, "--demo")
    try:
        assert url.startswith("http://127.0.0.1:")
        with httpx.Client(base_url=url, timeout=120) as c:
            for path in ("/", "/portfolio", "/paper", "/trades", "/research", "/runs"):
                r = c.get(path)
                assert r.status_code == 200, (path, r.text[:300])
                assert 'id="synthetic-banner"' in r.text
            assert 'id="headline"' in c.get("/").text  # the demo run made at start
    finally:
        _stop(proc)
    assert proc.returncode is not None


def test_a_given_token_is_required_and_never_printed(tmp_path):
    import httpx

    token = "a-long-dashboard-token-123"
    proc, url = _start(tmp_path, "--token", token)
    try:
        assert token not in url
        with httpx.Client(base_url=url, timeout=120) as c:
            assert c.get("/runs").status_code == 401
            assert c.get("/runs", headers={"authorization": f"Bearer {token}"}).status_code == 200
    finally:
        _stop(proc)


def test_a_port_in_use_is_a_clear_error(tmp_path):
    from tsys.dashboard import bind

    sock = bind("127.0.0.1", 0)
    port = sock.getsockname()[1]
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TSYS")}
        env["TSYS_DATA_DIR"] = str(tmp_path / "data")
        env["XDG_CONFIG_HOME"] = str(tmp_path / "xdg")
        out = subprocess.run(
            [sys.executable, "-m", "tsys", "dashboard", "--port", str(port)],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    finally:
        sock.close()
    assert out.returncode == 3, out.stderr
    assert f"cannot listen on 127.0.0.1:{port}" in out.stderr and "--port" in out.stderr
