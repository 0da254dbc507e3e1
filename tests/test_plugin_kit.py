"""Issue 22, "a plugin author's kit": `tsys plugin new KIND NAME` writes a package of each kind
whose wheel installs into a fresh environment with tsys, whose generated tests pass there as
generated, and which `tsys plugins --json` then lists with what it provides (the generated
bucket is also this repository's example of a third-party plugin, discovered with no core
change).

One virtual environment for the module (tsys comes from this environment's site-packages
through a .pth file: no Cython rebuild); each package is built once with uv (its cache keeps it
offline after the first build).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from click.testing import CliRunner

from tsys.cli import cli

KINDS = {
    "bucket": ("tsys-bucket-kit_b", "bucket-kit-b", "buckets", "kit_b"),
    "data-source": ("tsys-data-kit_s", "data-kit-s", "data_sources", "kit_s"),
    "broker": ("tsys-broker-kit_r", "broker-kit-r", "brokers", "kit_r"),
    "notifier": ("tsys-notifier-kit_n", "notifier-kit-n", "notifiers", "kit_n"),
}


def _run(*args: str, **kw) -> subprocess.CompletedProcess:
    res = subprocess.run(list(args), capture_output=True, text=True, **kw)
    assert res.returncode == 0, f"{args}\n{res.stdout}\n{res.stderr}"
    return res


@pytest.fixture(scope="module")
def kit(tmp_path_factory):
    """Generate, build and install all four kinds into one fresh venv."""
    uv = shutil.which("uv")
    assert uv is not None, "uv is the documented way to work on tsys"
    root = tmp_path_factory.mktemp("plugin-kit")
    packages = {}
    for kind, (_, _, _, name) in KINDS.items():
        res = CliRunner().invoke(cli, ["plugin", "new", kind, name, "--dir", str(root), "--json"])
        assert res.exit_code == 0, res.output
        packages[kind] = json.loads(res.stdout)
    dist = root / "dist"
    for info in packages.values():
        _run(uv, "build", "--wheel", "--out-dir", str(dist), info["root"])
    venv = root / "venv"
    _run(sys.executable, "-m", "venv", str(venv))
    py = venv / "bin" / "python"
    site = _run(
        str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    ).stdout.strip()
    core = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    Path(site, "zz_tsys_core.pth").write_text(
        "".join(f"import site; site.addsitedir({p!r})\n" for p in sorted(core))
    )
    wheels = sorted(str(w) for w in dist.glob("*.whl"))
    assert len(wheels) == 4, wheels
    _run(str(py), "-m", "pip", "install", "--no-deps", "--no-index", "--quiet", *wheels)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TSYS_")}
    env["TSYS_DATA_DIR"] = str(root / "data")
    return {"root": root, "py": py, "packages": packages, "env": env}


@pytest.mark.slow
def test_generated_tree(kit):
    files = kit["packages"]["bucket"]["files"]
    assert files == [
        "CHANGELOG.md",
        "README.md",
        "pyproject.toml",
        "src/tsys_bucket_kit_b/__init__.py",
        "src/tsys_bucket_kit_b/bucket.py",
        "tests/test_tsys_bucket_kit_b.py",
    ]
    pyproject = (Path(kit["packages"]["bucket"]["root"]) / "pyproject.toml").read_text()
    assert 'bucket-kit-b = "tsys_bucket_kit_b"' in pyproject
    assert 'dependencies = ["tsys>=0.1,<0.2"]' in pyproject
    readme = (Path(kit["packages"]["broker"]["root"]) / "README.md").read_text()
    assert "uv sync --inexact" in readme


@pytest.mark.slow
def test_generated_tests_pass_in_the_fresh_venv(kit):
    # run from the package folders: the installed wheel, not the source tree, is imported
    roots = [Path(p["root"]) for p in kit["packages"].values()]
    out = subprocess.run(
        [str(kit["py"]), "-m", "pytest", "-q", "-p", "no:randomly", "-p", "no:cacheprovider",
         *(str(r / "tests") for r in roots)],
        capture_output=True, text=True, env=kit["env"], cwd=kit["root"],
    )  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    assert "12 passed" in out.stdout, out.stdout


@pytest.mark.slow
def test_tsys_plugins_json_lists_what_each_provides(kit):
    out = _run(
        str(kit["py"]), "-c", "from tsys.cli import main; main(['plugins', '--json'])",
        env=kit["env"],
    )  # fmt: skip
    listed = {p["name"]: p for p in json.loads(out.stdout)["plugins"]}
    for dist, ep, key, name in KINDS.values():
        assert ep in listed, out.stdout
        assert listed[ep]["package"] == dist.replace("_", "-")
        assert listed[ep]["version"] == "0.1.0"
        assert listed[ep]["provides"] == {key: [name]}
        assert listed[ep]["hooks"] == [f"register_{key}"]
    builtin = listed["tsys.data.builtin"]["provides"]["data_sources"]
    assert sorted(builtin) == ["csv", "demo", "sp500-members"]
    text = _run(
        str(kit["py"]), "-c", "from tsys.cli import main; main(['plugins'])", env=kit["env"]
    ).stdout
    assert "provides: bucket kit_b" in text and "provides: broker kit_r" in text


@pytest.mark.slow
def test_the_bucket_registry_resolves_the_installed_bucket(kit):
    """What run-daily and backtest use: the bucket by name, at its version, with its space."""
    code = (
        "from tsys.plugins import buckets; b = buckets().get('kit_b'); "
        "print(b.name, b.version, sorted(b.search_space()))"
    )
    out = _run(str(kit["py"]), "-c", code, env=kit["env"])
    assert out.stdout.split() == ["kit_b", "0.1.0", "['stop_pct',", "'window']"]


def test_plugin_new_refuses_bad_names_and_kinds(tmp_path):
    res = CliRunner().invoke(cli, ["plugin", "new", "bucket", "Bad-Name", "--dir", str(tmp_path)])
    assert res.exit_code == 3 and "lower-case identifier" in res.output
    res = CliRunner().invoke(cli, ["plugin", "new", "strategy", "x", "--dir", str(tmp_path)])
    assert res.exit_code == 2
    CliRunner().invoke(cli, ["plugin", "new", "notifier", "again", "--dir", str(tmp_path)])
    res = CliRunner().invoke(cli, ["plugin", "new", "notifier", "again", "--dir", str(tmp_path)])
    assert res.exit_code == 3 and "already exists" in res.output
