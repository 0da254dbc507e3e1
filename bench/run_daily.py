"""The daily run as a user starts it: `tsys run-daily --demo --force`, whole processes.

Prints the wall time, CPU time and peak RSS of each process (median and best of ``--repeat``;
CPU time is the steadier figure on a shared machine), next to two references measured in the
same run, interleaved rep by rep: the bare interpreter (``python -c pass``) and
``python -c "import tsys.cli, pandas"`` (the interpreter plus the libraries every run needs). Each runs twice over: with every module compiled to bytecode
beforehand (``PYTHONPYCACHEPREFIX`` pointed at a folder one priming run filled) and with none
(an empty prefix folder and ``PYTHONDONTWRITEBYTECODE=1``: each module compiled in memory on
every start, as on a machine that sets that variable and never compiled at install).
``--stages`` adds the in-process time per stage of the pipeline (warm, the market already
generated). Figures are printed, never asserted.

    uv run --no-sync python bench/run_daily.py [--repeat 3] [--as-of 2024-06-28] [--stages]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

COMMANDS = {
    "bare interpreter": ["-c", "pass"],
    "import tsys.cli, pandas": ["-c", "import tsys.cli, pandas"],
    "run-daily --demo --force": ["-m", "tsys", "run-daily", "--demo", "--force"],
}


def run(argv: list[str], env: dict[str, str]) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds (user + system) and peak RSS (MB) of one child process;
    raises when it fails."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, *argv], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode not in (0, 10):  # 10: a partial day (a bucket failed) still measures
        raise SystemExit(f"{' '.join(argv)} exited {proc.returncode}:\n{err[-2000:]}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def whole_processes(repeat: int, as_of: str | None) -> None:
    base = dict(os.environ, TSYS_DATA_DIR=tempfile.mkdtemp(prefix="tsys-bench-"))
    compiled = dict(base, PYTHONPYCACHEPREFIX=tempfile.mkdtemp(prefix="tsys-pyc-"))
    compiled.pop("PYTHONDONTWRITEBYTECODE", None)
    none = dict(base, PYTHONPYCACHEPREFIX=tempfile.mkdtemp(prefix="tsys-nopyc-"))
    none["PYTHONDONTWRITEBYTECODE"] = "1"
    commands = dict(COMMANDS)
    if as_of:
        commands["run-daily --demo --force"] = [
            *commands["run-daily --demo --force"],
            "--as-of",
            as_of,
        ]
    # Priming: writes the bytecode, creates the demo sandbox and its caches (the first run of
    # the daily run generates the market; later ones read what it kept).
    first = [run(argv, compiled) for argv in commands.values()][-1]
    modes = {"bytecode compiled": compiled, "no bytecode": none}
    load0 = os.getloadavg()
    figures: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
    for _ in range(repeat):
        for mode, env in modes.items():
            for name, argv in commands.items():
                figures.setdefault((mode, name), []).append(run(argv, env))
    load1 = os.getloadavg()
    print(f"whole processes, {repeat} runs each, interleaved (python {sys.version.split()[0]})")
    print(f"load average (1/5/15 min) before: {_load(load0)}; after: {_load(load1)}")
    print(
        f"first run (bytecode compiled as it ran, the demo market generated): wall {first[0]:.2f} s,"
        f" CPU {first[1]:.2f} s, peak RSS {first[2]:.0f} MB"
    )
    for mode in modes:
        print(f"{mode}:")
        ref = statistics.median(f[0] for f in figures[(mode, "import tsys.cli, pandas")])
        for name in commands:
            walls = [f[0] for f in figures[(mode, name)]]
            cpu = statistics.median(f[1] for f in figures[(mode, name)])
            rss = max(f[2] for f in figures[(mode, name)])
            med = statistics.median(walls)
            print(
                f"  {name:25s} wall median {med:6.2f} s, best {min(walls):6.2f} s "
                f"({med / ref:3.1f}x the imports); CPU {cpu:5.2f} s; peak RSS {rss:4.0f} MB"
            )


def _load(avg: tuple[float, float, float]) -> str:
    return " ".join(f"{x:.1f}" for x in avg) + f" on {os.cpu_count()} cores"


def stages(repeat: int, as_of: str) -> None:
    """The pipeline's own stage times, in process, after a warm-up run."""
    import datetime as dt

    import attrs

    from tsys.config import load_config
    from tsys.daily.pipeline import run_daily

    os.environ["TSYS_DATA_DIR"] = tempfile.mkdtemp(prefix="tsys-bench-")
    cfg = load_config(env=False)
    cfg = attrs.evolve(cfg, data=attrs.evolve(cfg.data, source="demo"))
    day = dt.date.fromisoformat(as_of)
    run_daily(cfg, as_of=day, dry_run=True)  # imports, plugins, the generated market
    totals, per_stage = [], []
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = run_daily(cfg, as_of=day, force=True, send=False)
        totals.append(time.perf_counter() - t0)
        per_stage.append(dict(out.timings))
    print(
        f"in process, as of {as_of}, warm (median of {repeat}): {statistics.median(totals):.3f} s"
    )
    for stage in per_stage[0]:
        print(f"  {stage:10s} {statistics.median(s.get(stage, 0.0) for s in per_stage):8.3f} s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--as-of", default=None, help="default: today, as a user runs it")
    ap.add_argument("--stages", action="store_true", help="also the in-process stage times")
    args = ap.parse_args()
    whole_processes(args.repeat, args.as_of)
    if args.stages:
        stages(args.repeat, args.as_of or "2024-06-28")


if __name__ == "__main__":
    main()
