"""Walk-forward test-fold statistics for a lowfloat research report (README tables).

usage: uv run python plugins/bucket_lowfloat/research/fold_stats.py REPORT.json TSYS.toml

Each test fold is backtested with the parameters chosen on its in-sample bars (the same
configuration, costs and simulator as `tsys research`), the folds' trades are pooled for the
stop, gap and halt shares, and the worst 5 days of the report's out-of-sample curve are listed
with IWM, the equal-weight anchor and what the bucket held.
"""

import datetime as dt
import json
import sys

import pandas as pd

from tsys import plugins
from tsys.backtest.bucket import backtest_bucket
from tsys.buckets import params_from_dict
from tsys.config import load_config
from tsys.data.sources import open_hub

with open(sys.argv[1]) as fh:
    rep = json.load(fh)
cfg = load_config(sys.argv[2])
hub = open_hub(cfg)
bucket = plugins.buckets().get("lowfloat")
trades, rows = [], []
pos_days = exp_sum = turn = 0.0
n_bars = 0
stops = gaps = after_halt = halted_days = 0
daily_held = {}
for f in rep["folds"]:
    p = params_from_dict(bucket.Params, f["chosen_params"])
    s = dt.date.fromisoformat(f["test"]["start"])
    e = dt.date.fromisoformat(f["test"]["end"])
    bt = backtest_bucket(bucket, hub, cfg, params=p, start=s, end=e)
    m = bt.metrics
    n = len(bt.index)
    n_bars += n
    pos_days += bt.plan_stats["mean_positions"] * n
    exp_sum += m["exposure"] * n
    turn += m["turnover"] * n
    stops += m["stop_exits"]
    gaps += m["stop_gap_share"] * m["stop_exits"] if m["stop_exits"] else 0
    after_halt += m["stops_after_halt"]
    halted_days += m["halted_position_days"]
    t = bt.trades.copy()
    t["entry_date"] = [bt.index[int(b)].date() for b in t.entry_bar]
    t["exit_date"] = [bt.index[int(b)].date() for b in t.exit_bar]
    trades.append(t)
    for r in t.itertuples():
        for d in bt.index[int(r.entry_bar) : int(r.exit_bar) + 1]:
            daily_held.setdefault(d.date().isoformat(), []).append(r.symbol)
    rows.append(
        (
            f["fold"],
            s,
            e,
            round(m["cagr"], 4),
            round(m["sharpe"], 2),
            round(m["max_drawdown"], 3),
            int(m["trades"]),
        )
    )
T = pd.concat(trades)
closed = T[T.exit_reason != "open"]
print("folds:", rows)
print("closed trades", len(closed), "exit reasons", closed.exit_reason.value_counts().to_dict())
print("share stopped out", round((closed.exit_reason == "stop").mean(), 3))
print(
    "stops", stops, "filled at a gap open", gaps, "share", round(gaps / stops, 3) if stops else None
)
print(
    "stops on the first bar after a halt", after_halt, "position-days on halted bars", halted_days
)
print(
    "avg positions",
    round(pos_days / n_bars, 2),
    "exposure",
    round(exp_sum / n_bars, 3),
    "turnover/yr",
    round(turn / n_bars, 2),
)
c = rep["curves"]
idx = pd.to_datetime(c["dates"])
eq = pd.Series(c["strategy"], idx)
r = eq.pct_change().dropna()
bh = pd.Series(c["buy_and_hold"], idx).pct_change()
ew = pd.Series(c["equal_weight"], idx).pct_change()
print("worst day", round(r.min(), 4))
print("worst 5 days:")
for d, v in r.nsmallest(5).items():
    k = d.date().isoformat()
    print(
        f"  {k} strategy {v:+.2%} | IWM {bh[d]:+.2%} | equal weight {ew[d]:+.2%} | held {sorted(set(daily_held.get(k, [])))}"
    )
