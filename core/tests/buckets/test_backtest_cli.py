"""`tsys backtest` on the demo market: JSON, the offline HTML report, splits and parameters."""

from __future__ import annotations

import json
import math
import re
from html.parser import HTMLParser

import pytest
from click.testing import CliRunner

from tsys.cli import cli
from tsys.format import figure as fmt
from tsys.report.backtest import METRICS

ARGS = ["backtest", "crypto", "--source", "demo", "--start", "2022-01-01", "--end", "2023-06-30"]


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TSYS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    monkeypatch.delenv("TSYS_CONFIG", raising=False)
    return tmp_path


class Cells(HTMLParser):
    """Collect metric cells (data-metric rows) and every resource-bearing attribute."""

    def __init__(self):
        super().__init__()
        self.metric = None
        self.cells: dict[tuple[str, str], dict] = {}
        self.current = None
        self.resources: list[str] = []
        self.tags: set[str] = set()
        self.style = ""
        self.in_style = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.add(tag)
        for k in ("src", "href", "data", "poster", "srcset", "action"):
            if k in a:
                self.resources.append(a[k])
        if tag == "tr" and "data-metric" in a:
            self.metric = a["data-metric"]
        if tag == "td" and self.metric and a.get("class") in ("bucket", "benchmark"):
            self.current = {"value": a.get("data-value"), "text": ""}
            self.cells[(self.metric, a["class"])] = self.current
        self.in_style = tag == "style"

    def handle_endtag(self, tag):
        if tag == "td":
            self.current = None
        if tag == "tr":
            self.metric = None
        if tag == "style":
            self.in_style = False

    def handle_data(self, data):
        if self.current is not None:
            self.current["text"] += data
        if self.in_style:
            self.style += data


def test_json_and_report_agree_and_work_offline(isolated):
    runner = CliRunner()
    res = runner.invoke(cli, [*ARGS, "--json", "--report", "r.html"])
    assert res.exit_code == 0, res.output
    payload = json.loads(res.stdout[res.stdout.index("{") :])
    assert payload["bucket"] == "crypto" and payload["benchmark"] == "BTC-USD"
    assert payload["synthetic"] is True
    assert payload["start"] >= "2022-01-01" and payload["end"] <= "2023-06-30"
    # crypto trades every day: the curve has weekend dates
    assert len(payload["dates"]) > 500
    m, b = payload["metrics"], payload["benchmark_metrics"]
    eq = payload["equity"]
    years = (len(eq) - 1) / 365
    assert m["total_return"] == pytest.approx(eq[-1] / eq[0] - 1)
    assert m["cagr"] == pytest.approx((eq[-1] / eq[0]) ** (1 / years) - 1, rel=1e-6)
    assert b["exposure"] > 0.9 and m["max_drawdown"] <= 0

    html = (isolated / "r.html").read_text(encoding="utf-8")
    parser = Cells()
    parser.feed(html)
    shown = 0
    for key, _label, kind in METRICS:
        for col, src in (("bucket", m), ("benchmark", b)):
            if key not in src:
                continue
            cell = parser.cells[(key, col)]
            expected = src[key]
            if expected is None:
                assert cell["text"].strip() == "n/a"
                continue
            assert math.isclose(float(cell["value"]), expected, rel_tol=1e-12, abs_tol=1e-15)
            assert cell["text"].strip() == fmt(expected, kind)
            shown += 1
    assert shown >= 14
    # offline: no scripts, no external resources, no URLs in CSS, nothing with http(s)
    assert "script" not in parser.tags and "link" not in parser.tags
    assert parser.resources == []
    assert "url(" not in parser.style and "@import" not in parser.style
    assert not re.search(r"https?://", html)
    assert html.count("<svg") == 3
    # one trade count everywhere, closed and open stated apart (issue 13.7)
    still = sum(1 for t in payload["trades"] if t["exit_reason"] == "open")
    assert m["trades"] + m["open_trades"] == len(payload["trades"]) and m["open_trades"] == still
    closed = int(m["trades"])
    assert f"{closed} closed trade{'' if closed == 1 else 's'} and {still} still open" in html


def test_holdout_is_sealed_and_logged(isolated):
    runner = CliRunner()
    sealed = runner.invoke(cli, [*ARGS, "--split", "holdout"])
    assert sealed.exit_code == 3 and "sealed" in sealed.output
    assert "needs --allow-holdout" in sealed.output  # the CLI flag, not the Python argument
    opened = runner.invoke(cli, [*ARGS, "--split", "holdout", "--allow-holdout", "--json"])
    assert opened.exit_code == 0, opened.output
    # the demo market: the holdout log is the demo sandbox's
    log = (isolated / "data" / "demo" / "holdout_log.jsonl").read_text().splitlines()
    assert len(log) == 1 and "crypto" in json.loads(log[0])["what"]
    train = runner.invoke(cli, [*ARGS, "--split", "train", "--json"])
    tp = json.loads(train.stdout[train.stdout.index("{") :])
    hp = json.loads(opened.stdout[opened.stdout.index("{") :])
    assert tp["split"] == "train" and tp["end"] < hp["start"]


def test_params_are_validated_and_change_the_result(isolated):
    runner = CliRunner()
    bad = runner.invoke(cli, [*ARGS, "--param", "top_nn=5"])
    assert bad.exit_code == 3 and "did you mean top_n" in bad.output
    out_of_range = runner.invoke(cli, [*ARGS, "--param", "top_n=500"])
    assert out_of_range.exit_code == 3
    one = runner.invoke(cli, [*ARGS, "--param", "top_n=6", "--json"])
    assert one.exit_code == 0, one.output
    p = json.loads(one.stdout[one.stdout.index("{") :])
    assert p["params"]["top_n"] == 6
    traded = {t["symbol"] for t in p["trades"]}
    assert not traded & {"USDT-USD", "USDC-USD", "DAI-USD", "WBTC-USD"}


def test_table_output_and_walk_forward(isolated):
    res = CliRunner().invoke(cli, [*ARGS, "--walk-forward", "3"])
    assert res.exit_code == 0, res.output
    assert "BTC-USD B&H" in res.output and "Sharpe" in res.output
    assert res.output.count("fold ") == 3
