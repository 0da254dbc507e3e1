"""Issue 13 end to end, as a new user lives it: the demo quick start, three paper days, a real
CSV configuration on the same as-of date, an optimisation, then backtest, validate and the daily
run with the optimised parameters. Every numbered point of the issue is checked on the way.

The "real" data is a generated CSV set (the demo generator under another seed, renamed to
real-looking tickers, with an index-membership snapshot) read by the ``csv`` source: it covers
the issue's dates (2024-03), so the real run happens on the demo run's as-of date, and the test
needs neither the network nor ``../shared/data``. It runs on SQLite, and on PostgreSQL
(``TSYS_TEST_POSTGRES_URL``: the real store and the Optuna studies in a fresh schema).
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from tsys.cli import cli
from tsys.testing.isolation import isolate, postgres_schema, search_path_url

DAYS = ("2024-03-12", "2024-03-13", "2024-03-14")
AS_OF = DAYS[-1]
#: Real-looking names for the generated members (the demo's own tickers stay in the demo).
REAL_NAMES = (
    "AAPL", "ABBV", "ABT", "AMGN", "AMZN", "BAC", "CAT", "CSCO", "CVX", "DIS",
    "GOOG", "HD", "JNJ", "JPM", "KO", "MRK", "MSFT", "NVDA", "PEP", "PG",
)  # fmt: skip
FUNDS = ("SPY", "TLT", "GLD", "XLB", "XLE", "XLF", "XLI", "XLK", "XLP", "XLU", "XLV", "XLY")
#: The issue's story is about stock picks: Bucket A's members mode (its default is a fund book).
MEMBERS = ("--param", "mode=members")


# --------------------------------------------------------------------------- helpers


class Tsys:
    """``tsys`` through click's runner, in the test's folder and environment."""

    def __init__(self, config: str | None = None) -> None:
        self.config = config

    def run(self, *args: str, code: int = 0) -> object:
        pre = ["--config", self.config] if self.config else []
        res = CliRunner().invoke(cli, [*pre, *args])
        assert res.exit_code == code, f"tsys {' '.join(args)} -> {res.exit_code}\n{res.output}"
        if res.exception is not None and not isinstance(res.exception, SystemExit):
            raise res.exception
        return res

    def __call__(self, *args: str, code: int = 0) -> str:
        return self.run(*args, code=code).output

    def json(self, *args: str) -> object:
        return json.loads(self.run(*args, "--json").stdout)


def _write_csv_set(root: Path) -> Path:
    """Twenty stocks and the funds from the demo generator (seed 11) as per-symbol CSV files,
    renamed, up to the issue's last day, with one index-membership snapshot."""
    from tsys.contracts import AssetClass
    from tsys.data.demo import DemoSource

    src = DemoSource(11, as_of=AS_OF)
    members = sorted(src.universe("sp500", dt.date(2019, 1, 2)) or [])
    wanted = members[: len(REAL_NAMES)]
    rename = dict(zip(wanted, REAL_NAMES, strict=True))
    bars = src.bars(
        [*wanted, *FUNDS],
        dt.date(2020, 1, 1),
        dt.date.fromisoformat(AS_OF),
        asset_class=AssetClass.EQUITY,
    )
    folder = root / "csvdata"
    folder.mkdir()
    for j, sym in enumerate(bars.symbols):
        cols = [bars.open[:, j], bars.high[:, j], bars.low[:, j], bars.close[:, j]]
        ok = np.isfinite(bars.close[:, j])
        with open(folder / f"{rename.get(sym, sym)}.csv", "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["date", "open", "high", "low", "close", "volume"])
            for t in np.flatnonzero(ok):
                w.writerow(
                    [bars.index[t].date().isoformat(), *(f"{c[t]:.4f}" for c in cols),
                     int(bars.volume[t, j])]
                )  # fmt: skip
    snaps = root / "constituents"
    snaps.mkdir()
    (snaps / "constituents_2019-01-01.csv").write_text("Symbol\n" + "\n".join(REAL_NAMES) + "\n")
    return folder


def _real_config(root: Path, csv_dir: Path) -> Path:
    path = root / "real.toml"
    path.write_text(
        "[data]\n"
        'source = "csv"\n'
        "[data.options.csv]\n"
        f'path = "{csv_dir}"\n'
        f'constituents_dir = "{root / "constituents"}"\n'
    )
    return path


def _sha12(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def _plans_csv(run_dir: Path) -> list[dict[str, str]]:
    with open(run_dir / "plans.csv", newline="") as fh:
        return list(csv.DictReader(fh))


# --------------------------------------------------------------------------- the story


@contextlib.contextmanager
def _backend(kind: str):
    """None for SQLite; for PostgreSQL the URL of a fresh schema, dropped afterwards."""
    if kind == "sqlite":
        yield None
        return
    with postgres_schema("tsys_story") as (name, base):
        yield search_path_url(base, name)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def story(request, tmp_path_factory):
    """The whole story played once per backend; each test below checks one point of it."""
    with _backend(request.param) as pg_url, pytest.MonkeyPatch.context() as mp:
        root = isolate(mp, tmp_path_factory.mktemp(f"story-{request.param}"))
        if pg_url is not None:
            mp.setenv("TSYS_DATABASE_URL", pg_url)
        yield _play(root, pg_url)


def _play(root: Path, pg_url: str | None) -> dict:
    """Run every step of the story and keep what each point needs to see."""
    seen: dict = {"root": root, "data": root / "data"}
    demo = Tsys()
    # the README quick start, then three paper days on the demo market
    daily = ("run-daily", "--paper", "--buckets", "sp500", *MEMBERS)
    seen["days"] = {day: demo.json(*daily, "--demo", "--as-of", day) for day in DAYS}
    seen["table"] = demo("runs", "show", DAYS[0])
    seen["paper"] = demo.json("paper", "positions")
    seen["portfolio"] = demo.json("portfolio", "--as-of", DAYS[1])
    # a real CSV configuration on the same as-of date
    csv_dir = _write_csv_set(root)
    cfg = _real_config(root, csv_dir)
    seen["cfg"] = cfg
    real = Tsys(str(cfg))
    seen["real_first"] = real.json(*daily, "--as-of", AS_OF)
    seen["real_portfolio"] = real.json("portfolio", "--as-of", AS_OF)
    seen["real_portfolio_text"] = real("portfolio", "--as-of", AS_OF)
    seen["real_runs"] = real.json("runs", "list")
    # optimise: a demo study first, in the same storage; it must not mix with the real one
    storage = pg_url or f"sqlite:///{root / 'studies.db'}"
    opt = ("optimize", "sp500", "--no-sensitivity", "--seed", "3", "--storage", storage)
    seen["demo_doc"] = demo.json(
        *opt, *MEMBERS, "--source", "demo", "--max-symbols", "12", "--trials", "2"
    )
    seen["doc"] = real.json(*opt, *MEMBERS, "--min-trades", "1", "--trials", "3")
    seen["mixed"] = real(*opt, "--trials", "1", "--study", seen["demo_doc"]["study"], code=3)
    # backtest, validate and run-daily with the optimised parameters
    seen["bt"] = real.json("backtest", "sp500", "--start", "2023-06-01")
    seen["bt_text"] = real("backtest", "sp500", "--start", "2023-06-01")
    seen["val"] = real.json(
        "validate", "sp500", "--bootstrap", "50", "--random-backtests", "10", "--start",
        "2022-01-01",
    )  # fmt: skip
    seen["daily"] = real.json("run-daily", "--buckets", "sp500", "--as-of", AS_OF)
    seen["daily_text"] = real("runs", "show", AS_OF)
    seen["override"] = real.json(
        "run-daily", "--buckets", "sp500", "--as-of", AS_OF, "--dry-run", "--params",
        str(seen["data"] / "params" / "sp500.json"), "--param", "atr_stop=4.5",
    )  # fmt: skip
    # schedule and configuration path
    seen["unit"] = real("schedule", "show", "--format", "systemd")
    seen["cron"] = real("schedule", "show", "--format", "cron")
    seen["where"] = real.json("config", "path")
    # smaller trust breakers
    seen["wrong_stop"] = real(
        "trades", "add", "MSFT", "--side", "buy", "--qty", "3", "--price", "100",
        "--date", "2024-03-01", "--stop", "110", code=2,
    )  # fmt: skip
    seen["trade"] = real.json(
        "trades", "add", "MSFT", "--side", "buy", "--qty", "3", "--price", "100",
        "--date", "2024-03-01", "--stop", "95",
    )  # fmt: skip
    seen["trades"] = real("trades", "list")
    seen["unknown"] = real("backtest", "sp5000", code=2)
    seen["sealed"] = real("backtest", "sp500", "--split", "holdout", code=3)
    seen["stale"] = real.json(
        "run-daily", "--buckets", "sp500", "--as-of", "2024-06-03", "--dry-run"
    )
    return seen


# --------------------------------------------------------------------------- the points


def _plans(run: dict, action: str) -> list[dict]:
    return [p for b in run["buckets"] for p in b["plans"] if p["action"] == action]


def _symbol(plan: dict) -> str:
    return plan["allocation"]["signal"]["symbol"]


@contextlib.contextmanager
def _not_landed(what: str):
    """A strict expected failure of the checks inside (the story itself must have run):
    failing checks are reported as xfail naming the missing piece; passing ones fail the test
    until this marker is removed."""
    try:
        yield
    except AssertionError as exc:
        pytest.xfail(f"{what}: {str(exc).splitlines()[0]}")
    pytest.fail(f"XPASS(strict): {what} seems to have landed; remove _not_landed")


def test_1_stops_survive_into_paper_positions_and_holds(story):
    _stops_survive(story)


def _stops_survive(story):
    day1 = story["days"][DAYS[0]]["run"]
    bought = {_symbol(p): p["stop"]["price"] for p in _plans(day1, "buy")}
    assert bought and all(s is not None for s in bought.values())
    ws = story["data"] / "demo"
    holds = [r for r in _plans_csv(ws / "runs" / DAYS[1]) if r["action"] == "hold"]
    assert holds, "day 2 should hold what day 1 bought"
    for row in holds:
        assert row["stop"], f"day-2 HOLD {row['symbol']} lost its stop"
        if row["symbol"] in bought:  # the opening plan's stop, or one trailed upwards
            assert float(row["stop"]) >= bought[row["symbol"]] - 1e-3  # CSV: 4 decimals
    letter = (ws / "runs" / DAYS[1] / "newsletter.txt").read_text()
    assert "\nHold (" in letter and "Open positions, paper:" in letter
    holds_text = letter.split("\nHold (", 1)[1].split("\nWatch (", 1)[0]
    assert "stop none" not in holds_text  # issue: "stop none / risk no stop" on every one
    lines = letter.split("Open positions, paper:", 1)[1].strip("\n").split("\n\n")[0]
    paper_lines = [ln for ln in lines.splitlines() if ln.startswith("  ")]
    assert paper_lines and all("stop $" in ln and "no stop" not in ln for ln in paper_lines)
    # every source carries the stop: the paper account itself, and `tsys portfolio`
    assert story["paper"] and all(p.get("stop") is not None for p in story["paper"])
    held = story["portfolio"]["positions"]
    assert held and all(p.get("stop") is not None for p in held), held


def test_2_one_count_of_every_position(story):
    _one_count(story)


def _one_count(story):
    view = story["portfolio"]
    symbols = [p["symbol"] for p in view["positions"]]
    assert symbols and len(symbols) == len(set(symbols)), f"counted twice: {symbols}"
    # issue: gross 139.8% of a 100k account; it can never exceed what was bought
    assert view["totals"]["gross_exposure"] <= view["account_equity"]
    paper = {p["symbol"] for p in story["paper"]}
    assert {p["symbol"] for p in view["positions"] if p["source"] == "paper"} == paper


def test_3_reason_matches_action_and_no_buy_while_exiting(story):
    sells = 0
    for day in DAYS:
        for row in _plans_csv(story["data"] / "demo" / "runs" / day):
            if row["action"] == "sell":
                sells += 1
                assert row["reason"].startswith("exit"), row
        for p in _plans(story["days"][day]["run"], "buy"):
            why = p["allocation"]["signal"]["rationale"]
            assert why[0].startswith("entry") and not any(t.startswith("exit") for t in why)
    assert sells, "the three demo days include exits (NERE on 2024-03-13)"
    assert "NERE" not in {_symbol(p) for p in _plans(story["days"][DAYS[2]]["run"], "buy")}
    assert "qty" in story["table"]  # 7: the terminal table shows quantities


def test_4_one_parameter_story(story):
    data = story["data"]
    doc, demo_doc = story["doc"], story["demo_doc"]
    pfile = data / "params" / "sp500.json"
    # optimise: trial 0 is the current parameters; the demo study is another study
    assert doc["baseline_trial"] == 0 and demo_doc["baseline_trial"] == 0
    assert doc["started_from"]["origin"] in ("defaults", "shipped")
    assert doc["value"] >= doc["baseline_value"]
    assert doc["study"] != demo_doc["study"], "demo and real trials share a study"
    assert doc["n_trials"] == doc["n_trials_total"] == 3  # the real study's own trials
    assert demo_doc["n_trials_total"] == 2
    assert Path(demo_doc["output"]) == data / "demo" / "params" / "sp500.json"
    assert "created with other settings" in story["mixed"]
    assert Path(doc["output"]) == pfile and doc["output_sha256"] == _sha12(pfile)
    # every later output names the file and its hash
    line = f"parameters: data-dir file {pfile} (sha256 {_sha12(pfile)})"
    first = story["real_first"]["run"]["buckets"][0]["param_set"]
    assert first["origin"] in ("defaults", "shipped")
    bt = story["bt"]
    assert bt["param_set"]["path"] == str(pfile) and bt["param_set"]["origin"] == "data dir"
    assert bt["params"] == doc["params"]
    assert line in " ".join(story["bt_text"].split())
    assert story["val"]["param_set"]["label"].startswith(line)
    assert story["val"]["figures"]["n_trials"] == 3  # deflated by the study's own trials
    daily = story["daily"]
    assert daily["already_ran"] is False, "a run made with other parameters was reused"
    (bucket,) = daily["run"]["buckets"]
    assert bucket["param_set"]["label"].startswith(line)
    assert bucket["params"] == doc["params"]
    assert line in " ".join(story["daily_text"].split())
    letter = (Path(daily["run_dir"]) / "newsletter.txt").read_text()
    assert line in " ".join(letter.split())
    over = story["override"]["run"]["buckets"][0]
    assert over["param_set"]["origin"] == "--params"
    assert over["param_set"]["overrides"] == {"atr_stop": "4.5"}
    assert over["params"]["atr_stop"] == 4.5


def test_5_demo_is_a_sandbox(story):
    out, data = story["real_first"], story["data"]
    assert out["already_ran"] is False and out["exit_code"] == 0, out["messages"]
    run = out["run"]
    assert run["synthetic_data"] is False
    assert out["run_dir"] == str(data / "runs" / AS_OF)
    assert not any("SYNTHETIC" in w for w in run["warnings"])
    assert not _plans(run, "hold"), "a demo position leaked into the real run"
    assert _plans(run, "buy"), "the real market should buy something on the first day"
    symbols = {_symbol(p) for b in run["buckets"] for p in b["plans"]}
    assert symbols <= {*REAL_NAMES, *FUNDS}
    assert {p["symbol"] for p in story["real_portfolio"]["positions"]} <= set(REAL_NAMES)
    assert "SYNTHETIC" not in story["real_portfolio_text"]
    assert [r["synthetic"] for r in story["real_runs"]] == [False]
    assert "SYNTHETIC" in story["table"]  # the demo is labelled wherever it is shown


def test_6_schedule_finds_its_configuration(story):
    cfg, data = story["cfg"], story["data"]
    unit = story["unit"]
    assert f"--config {cfg}" in unit or f'--config "{cfg}"' in unit
    assert f"WorkingDirectory={story['root']}" in unit
    assert f"Environment=TSYS_DATA_DIR={data}" in unit
    assert "EnvironmentFile=" in unit
    cron = story["cron"]
    assert f"--config {cfg}" in cron and f"TSYS_DATA_DIR={data}" in cron
    assert f"cd {story['root']}" in cron and "tsys.env" in cron
    assert str(cfg) in json.dumps(story["where"])
    res = subprocess.run(
        [sys.executable, "-m", "tsys", "--version"], capture_output=True, text=True, check=False
    )
    assert res.returncode == 0 and "tsys" in res.stdout


def test_7_smaller_trust_breakers(story):
    assert "at or above the entry" in story["wrong_stop"]  # a long's stop above: refused
    assert story["trade"]["id"] and story["trade"]["id"] in story["trades"]
    assert "did you mean" in story["unknown"]
    assert "--allow-holdout" in story["sealed"]
    stale = story["stale"]["run"]
    said = [*stale["warnings"], *(w for b in stale["buckets"] for w in b["warnings"])]
    assert any("newest bar is 2024-03-14" in w for w in said), said
