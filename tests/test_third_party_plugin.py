"""A third-party bucket, built as a wheel and pip-installed, is discovered with no core change."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

HERE = Path(__file__).parent
EXAMPLE = HERE / "example_plugin"


@pytest.mark.slow
def test_pip_installed_wheel_is_discovered(tmp_path):
    # 1. Build the example plugin's wheel from its own pyproject.toml.
    dist = tmp_path / "dist"
    uv = shutil.which("uv")
    assert uv is not None, "uv is the documented way to work on tsys; install it (pip install uv)"
    # Build from a copy: setuptools writes build/ and egg-info next to the sources.
    source = tmp_path / "example_plugin"
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("build", "*.egg-info"))
    subprocess.run(
        [uv, "build", "--wheel", "--out-dir", str(dist), str(source)],
        check=True,
        capture_output=True,
        text=True,
    )
    wheels = list(dist.glob("tsys_bucket_example-0.0.1-*.whl"))
    assert len(wheels) == 1, list(dist.iterdir())

    # 2. A fresh virtual environment next to the core: the core (and its dependencies) come
    #    from this environment's site-packages through a .pth file, so the test does not
    #    rebuild the Cython extension; the plugin goes in with pip, as a user would.
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = venv / "bin" / "python"
    site = subprocess.run(
        [str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    core_paths = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    # addsitedir (not a bare path line) so the editable installs' own .pth files are honoured.
    Path(site, "zz_tsys_core.pth").write_text(
        "".join(f"import site; site.addsitedir({p!r})\n" for p in sorted(core_paths))
    )
    subprocess.run(
        [str(py), "-m", "pip", "install", "--no-deps", "--no-index", "--quiet", str(wheels[0])],
        check=True,
        capture_output=True,
        text=True,
    )

    # 3. `tsys plugins --json` in that environment lists it, with its hooks and version.
    env = {k: v for k, v in os.environ.items() if not k.startswith("TSYS_")}
    out = subprocess.run(
        [str(py), "-c", "from tsys.cli import main; main(['plugins', '--json'])"],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    )
    data = json.loads(out.stdout)
    listed = {p["name"]: p for p in data["plugins"]}
    assert "bucket-example" in listed, out.stdout
    assert listed["bucket-example"]["package"] == "tsys-bucket-example"
    assert listed["bucket-example"]["version"] == "0.0.1"
    assert listed["bucket-example"]["hooks"] == ["register_buckets"]

    # 4. ... and the bucket registry (what run-daily and backtest use) resolves it by name.
    out = subprocess.run(
        [
            str(py),
            "-c",
            "from tsys.plugins import buckets; b = buckets().get('example'); "
            "print(b.name, b.version, sorted(b.search_space()))",
        ],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    )
    assert out.stdout.split() == ["example", "0.0.1", "['window']"]
