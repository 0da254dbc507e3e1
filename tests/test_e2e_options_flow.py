"""Issue 18 end to end: alerts imported into the recorded history drive a real-data backtest.

CSV bars (the real-data path) plus ``extra_sources = ["unusualwhales"]``: ``tsys options import``
stores the alerts, ``tsys backtest options`` reads them back (a recorded extra source is opened
for backtests; it never syncs there), states the history behind it, and each alert's trade
fills at the first open after the close of the alert's session (a holiday skipped).
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from tsys.cli import cli
from tsys.data.calendars import sessions

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "plugins" / "data_unusualwhales" / "tests"))
pytest.importorskip("tsys_data_unusualwhales")
pytest.importorskip("tsys_bucket_options")

from uw_fake import flow_alert  # noqa: E402


def _bars(folder: Path) -> None:
    idx = sessions("2024-01-02", "2024-06-28")
    rng = np.random.default_rng(0)
    folder.mkdir()
    for sym in ("AAA", "BBB", "SPY"):
        close = 100 * np.exp(np.cumsum(rng.normal(0.0005, 0.015, len(idx))))
        open_ = close * np.exp(rng.normal(0, 0.003, len(idx)))
        pd.DataFrame(
            {
                "date": [d.date() for d in idx],
                "open": open_,
                "high": np.maximum(open_, close) * 1.01,
                "low": np.minimum(open_, close) * 0.99,
                "close": close,
                "volume": np.full(len(idx), 2_000_000),
            }
        ).to_csv(folder / f"{sym}.csv", index=False)


def test_imported_alerts_drive_a_csv_backtest(isolated, monkeypatch):
    _bars(isolated / "bars")
    (isolated / "tsys.toml").write_text(
        f'[data]\nsource = "csv"\npath = "{isolated / "bars"}"\n'
        'extra_sources = ["unusualwhales"]\n'
        # a token and an address that answers nothing: a backtest must not try to sync
        '[data.options.unusualwhales]\nbase_url = "http://127.0.0.1:9"\n'
    )
    monkeypatch.setenv("UNUSUAL_WHALES_API_TOKEN", "UW-e2e-token")
    friday = dt.datetime(2024, 5, 24, 19, 45, tzinfo=dt.UTC)  # 15:45 New York, before Memorial Day
    late = dt.datetime(2024, 6, 7, 20, 30, tzinfo=dt.UTC)  # Friday 16:30 New York, after hours
    items = [
        flow_alert(1, friday, ticker="AAA", total_premium="900000"),
        flow_alert(2, late, ticker="BBB", total_premium="800000"),
    ]
    (isolated / "alerts.json").write_text(json.dumps({"data": items}))
    runner = CliRunner()
    imported = runner.invoke(cli, ["options", "import", "alerts.json", "--json"])
    assert imported.exit_code == 0, imported.output
    assert json.loads(imported.output)["stored"] == 2

    result = runner.invoke(cli, ["backtest", "options", "--json"])
    assert result.exit_code == 0, result.output
    bt = json.loads(result.output)
    assert any(
        w.startswith("options: 2 alert(s) from 2024-05-24 to 2024-06-07") for w in bt["warnings"]
    )
    assert not any("sync" in w for w in bt["warnings"])
    entries = {t["symbol"]: t["entry_date"] for t in bt["trades"]}
    # Friday's alert: Monday 2024-05-27 is a holiday, so Tuesday's open; the after-hours
    # Friday alert: Monday's open
    assert entries == {"AAA": "2024-05-28", "BBB": "2024-06-10"}
    assert "UW-e2e-token" not in result.output + imported.output
