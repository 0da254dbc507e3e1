"""The Research page lists real reports with their real headline figures (issue 19).

Small but real runs on the demo market (the crypto bucket, two years): ``tsys research``,
``tsys validate`` and ``tsys backtest --report FILE`` write their reports; the page must show
each one's verdict, gate count and out-of-sample figures as the report holds them, and open
each one in place.
"""

from __future__ import annotations

import html as htmlmod
import json
import re

import pytest

from tsys import format as fmt

from .conftest import tsys

PERIOD = ("--start", "2022-01-03", "--end", "2023-12-29")


def _row(page: str, name: str) -> str:
    m = re.search(
        rf'<tr><td class="l"><a href="/research/[a-z]+/{re.escape(name)}">.*?</tr>', page, re.S
    )
    assert m, f"no row for {name}"
    return htmlmod.unescape(m.group(0))


def _figures(figs: dict) -> list[str]:
    return [
        f"Sharpe {fmt.figure(figs['sharpe'], 'ratio')}",
        f"CAGR {fmt.figure(figs['cagr'], 'pct')}",
        f"max drawdown {fmt.figure(figs['max_drawdown'], 'pct')}",
    ]


@pytest.fixture(scope="module")
def reports(server, tmp_path_factory):
    html = tmp_path_factory.mktemp("elsewhere") / "crypto-bt.html"
    research = tsys(
        "research", "crypto", "--source", "demo", *PERIOD, "--folds", "2", "--trials", "2",
        "--blocks", "4", "--random-backtests", "10", "--json",
    )  # fmt: skip
    validation = tsys(
        "validate", "crypto", "--source", "demo", *PERIOD, "--bootstrap", "50",
        "--random-backtests", "10", "--json",
    )  # fmt: skip
    res = tsys(
        "backtest", "crypto", "--source", "demo", *PERIOD, "--report", str(html), "--json", ok=False
    )
    assert res.exit_code == 0, res.output
    backtest = json.loads(res.stdout)  # (the report's path is said on stderr)
    return {"research": research, "validation": validation, "backtest": backtest, "html": html}


def test_research_page_shows_real_headlines(client, server, reports):
    from tsys.workspace import workspace

    root = workspace(server["config"]).root
    page = client.get("/research").text
    for kind in ("research", "validation"):
        report = reports[kind]
        name = next(p.stem for p in (root / kind).glob("crypto-*.json"))
        row = _row(page, name)
        verdict = "PASSED" if report["passed"] else "FAILED"
        ok = sum(1 for g in report["gates"] if g["passed"])
        assert f"{verdict}; {ok}/{len(report['gates'])} gates" in row
        figs = report["figures"] if kind == "validation" else report["out_of_sample"]["metrics"]
        for text in _figures(figs):
            assert text in row, (kind, text, row)
        opened = client.get(f"/research/{kind}/{name}")
        assert opened.status_code == 200 and "crypto" in opened.text
    # the backtest written elsewhere with --report is listed through its copy in the data dir
    kept = list((root / "backtest").glob("crypto-bt-*.json"))
    assert len(kept) == 1 and reports["html"].is_file()
    row = _row(page, kept[0].stem)
    for text in _figures(reports["backtest"]["metrics"]):
        assert text in row, (text, row)
    assert client.get(f"/research/backtest/{kept[0].stem}").status_code == 200
