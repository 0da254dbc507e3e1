"""Issue 22, "real data, first day": each `tsys config init` preset writes a file that runs
`tsys run-daily --dry-run` against the loopback fakes the plugins' own tests use (Alpaca,
Alpha Vantage, CoinGecko) and a loopback constituents server; a bucket whose data cannot be
had (no Alpaca stock keys) is skipped and the others run (exit 10).

The calls each run makes are counted here; README "Data sources" quotes them.
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
from tsys.testing.isolation import isolate, pin_clock

REPO = Path(__file__).resolve().parents[1]
for sub in ("broker_alpaca", "data_alphavantage", "data_coingecko"):
    sys.path.insert(0, str(REPO / "plugins" / sub / "tests"))

pytest.importorskip("tsys_broker_alpaca")
pytest.importorskip("tsys_data_alphavantage")
pytest.importorskip("tsys_data_coingecko")

import av_fake  # noqa: E402
import cg_fake  # noqa: E402
from fake_alpaca import KEY, SECRET, FakeAlpaca  # noqa: E402

AS_OF = dt.date(2024, 3, 28)
NOW = dt.datetime.combine(AS_OF + dt.timedelta(days=1), dt.time(0, 30), dt.UTC)
STOCKS = ("SPY", "TLT", "GLD", "XLK", "XLF")
COINS = ("BTC", "ETH", "SOL", "DOGE", "LTC", "LINK")


def constituents_csv(n: int = 503) -> str:
    rows = ["Symbol,Security,GICS Sector,GICS Sub-Industry,Headquarters Location,Date added,CIK"]
    for i in range(n):
        sym = ("AAPL", "MSFT", "BRK.B")[i] if i < 3 else f"S{i:03d}"
        rows.append(f"{sym},Company {i},Information Technology,Software,Somewhere,2000-01-01,{i}")
    return "\n".join(rows) + "\n"


def _series(seed: int, n: int, base: float) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return base * np.exp(np.cumsum(rng.normal(0.0005, 0.012, n)))


def _alpaca_bars(fake: FakeAlpaca) -> None:
    from tsys.data import calendars

    sessions = calendars.sessions("2020-06-01", AS_OF.isoformat())
    for k, s in enumerate(STOCKS):
        close = _series(k, len(sessions), 100.0 + 20 * k)
        fake.bars[s] = [
            _bar(dt.datetime.combine(d.date(), dt.time(4), dt.UTC), c)
            for d, c in zip(sessions, close, strict=True)
        ]
    days = pd.date_range("2020-06-01", AS_OF, freq="D")
    for k, c in enumerate(COINS):
        close = _series(100 + k, len(days), 1000.0 / (k + 1))
        fake.bars[f"{c}/USD"] = [
            _bar(dt.datetime.combine(d.date(), dt.time(0), dt.UTC), x)
            for d, x in zip(days, close, strict=True)
        ]


def _bar(t: dt.datetime, c: float) -> dict:
    return {
        "t": t.isoformat().replace("+00:00", "Z"),
        "o": c, "h": c * 1.01, "l": c * 0.99, "c": c, "v": 1_000_000, "n": 10, "vw": c,
    }  # fmt: skip


def _csv_folder(folder: Path) -> Path:
    from tsys.data import calendars

    folder.mkdir()
    sessions = calendars.sessions("2020-06-01", AS_OF.isoformat())
    for k, s in enumerate(STOCKS):
        close = _series(k, len(sessions), 100.0)
        lines = [f"{d:%Y-%m-%d},{c:.4f},{c * 1.01:.4f},{c * 0.99:.4f},{c:.4f},1000000"
                 for d, c in zip(sessions, close, strict=True)]  # fmt: skip
        (folder / f"{s}.csv").write_text("date,open,high,low,close,volume\n" + "\n".join(lines))
    days = pd.date_range("2020-06-01", AS_OF, freq="D")
    for k, c in enumerate(COINS):
        close = _series(100 + k, len(days), 100.0)
        lines = [f"{d:%Y-%m-%d},{x:.4f},{x * 1.01:.4f},{x * 0.99:.4f},{x:.4f},1000000"
                 for d, x in zip(days, close, strict=True)]  # fmt: skip
        (folder / f"{c}-USD.csv").write_text("date,open,high,low,close,volume\n" + "\n".join(lines))
    return folder


class World:
    def __init__(self, root: Path, alpaca: FakeAlpaca, av_server, cg_server, members_server):
        self.root = root
        self.alpaca = alpaca
        self.av = av_fake.FakeAlphaVantage()
        self.cg = cg_fake.FakeCoinGecko()
        self.cg.coins = [
            ("bitcoin", "btc", "Bitcoin", 9e11, ()),
            ("ethereum", "eth", "Ethereum", 4e11, ()),
            ("tether", "usdt", "Tether", 1e11, ("stablecoins",)),
            ("solana", "sol", "Solana", 8e10, ()),
            ("dogecoin", "doge", "Dogecoin", 2e10, ()),
            ("chainlink", "link", "Chainlink", 1e10, ()),
            ("litecoin", "ltc", "Litecoin", 6e9, ()),
        ]
        self.member_calls = 0
        av_server.expect_request("/query").respond_with_handler(self.av.handle)
        cg_server.expect_request("/api/v3/coins/markets").respond_with_handler(self.cg.handle)
        members_server.expect_request("/constituents.csv").respond_with_handler(self._members)
        self.urls = {
            "alpaca": alpaca.url,
            "alphavantage": av_server.url_for("/").rstrip("/"),
            "coingecko": cg_server.url_for("/api/v3"),
            "sp500-members": members_server.url_for("/constituents.csv"),
        }

    def _members(self, request):
        from werkzeug import Response

        self.member_calls += 1
        return Response(constituents_csv(), content_type="text/csv")

    def init(self, name: str, *flags: str) -> Path:
        cfg = self.root / name / "tsys.toml"
        res = CliRunner().invoke(cli, ["config", "init", "--path", str(cfg), *flags])
        assert res.exit_code == 0, res.output
        return cfg

    def point_at_fakes(self, cfg: Path) -> None:
        """The preset's file with each service's host set to its loopback fake."""
        text = cfg.read_text()
        keys = {
            "alpaca": "base_url",
            "alphavantage": "base_url",
            "coingecko": "base_url",
            "sp500-members": "url",
        }
        more = {
            "alphavantage": "calls_per_minute = 100000\ntimeout = 2\nburst_retry_wait = 0\n",
            "coingecko": "timeout = 2\nmax_retries = 0\n",
        }
        for name, key in keys.items():
            header = f"[data.options.{name}]\n"
            line = f'{key} = "{self.urls[name]}"\n' + more.get(name, "")
            text = (
                text.replace(header, header + line)
                if header in text
                else text + "\n" + header + line
            )
        text = f'data_dir = "{cfg.parent / "data"}"\n' + text
        cfg.write_text(text)

    def counts(self) -> dict[str, int]:
        return {
            "alpaca": len(self.alpaca.bar_queries),
            "alphavantage": len(self.av.calls),
            "coingecko": len(self.cg.calls),
            "sp500-members": self.member_calls,
        }

    def reset(self) -> None:
        self.alpaca.bar_queries.clear()
        self.av.calls.clear()
        self.cg.calls.clear()
        self.member_calls = 0

    def run(self, cfg: Path, *extra: str, code: int = 0) -> dict:
        self.reset()
        res = CliRunner().invoke(
            cli,
            ["--config", str(cfg), "run-daily", "--as-of", AS_OF.isoformat(), "--dry-run",
             "--json", *extra],
        )  # fmt: skip
        assert res.exit_code == code, res.output
        out = json.loads(res.stdout)
        out["calls"] = self.counts()
        return out


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from pytest_httpserver import HTTPServer
    from tsys_data_alphavantage.source import AlphaVantageSource
    from tsys_data_coingecko.source import CoinGeckoSource

    servers = [HTTPServer() for _ in range(3)]
    for s in servers:
        s.start()
    alpaca = FakeAlpaca().start()
    _alpaca_bars(alpaca)
    root = tmp_path_factory.mktemp("day-one")
    with pytest.MonkeyPatch.context() as mp:
        isolate(mp, root)
        mp.setenv("ALPHAVANTAGE_API_KEY", av_fake.KEY)
        mp.delenv("COINGECKO_API_KEY", raising=False)
        pin_clock(mp, NOW, AlphaVantageSource, CoinGeckoSource)
        yield World(root, alpaca, *servers), mp
    alpaca.stop()
    for s in servers:
        s.clear()
        s.stop()


def _bucket(out: dict, name: str) -> dict:
    (b,) = [b for b in out["run"]["buckets"] if b["bucket"] == name]
    return b


def test_alpaca_preset_runs_with_keys_and_every_extra(world):
    w, mp = world
    mp.setenv("ALPACA_API_KEY", KEY)
    mp.setenv("ALPACA_API_SECRET", SECRET)
    cfg = w.init("alpaca", "--preset", "alpaca", "--alphavantage", "--coingecko")
    text = cfg.read_text()
    assert 'source = "alpaca"' in text and KEY not in text and SECRET not in text
    assert '"sp500-members", "coingecko", "alphavantage"' in text
    w.point_at_fakes(cfg)
    cold = w.run(cfg)
    for name in ("sp500", "crypto"):
        assert _bucket(cold, name)["error"] is None, _bucket(cold, name)
    assert cold["run"]["synthetic_data"] is False
    warm = w.run(cfg)
    assert warm["calls"]["sp500-members"] == 0  # today's copy is cached
    print(f"\ncalls per run, preset alpaca (+members, coingecko, alphavantage): cold "
          f"{cold['calls']}, warm {warm['calls']}")  # fmt: skip
    assert cold["calls"]["alpaca"] >= 2 and cold["calls"]["sp500-members"] == 1
    assert 1 <= cold["calls"]["coingecko"] <= 3  # two category lists and one page of ranks
    assert warm["calls"]["alpaca"] <= cold["calls"]["alpaca"]


def test_alpaca_without_stock_keys_skips_sp500_and_runs_crypto(world):
    w, mp = world
    mp.delenv("ALPACA_API_KEY", raising=False)
    mp.delenv("ALPACA_API_SECRET", raising=False)
    cfg = w.init("alpaca-nokeys", "--preset", "alpaca")
    w.point_at_fakes(cfg)
    out = w.run(cfg, code=10)
    sp, crypto = _bucket(out, "sp500"), _bucket(out, "crypto")
    assert sp["error"].startswith("data:") and "ALPACA_API_KEY" in sp["error"]
    assert crypto["error"] is None and crypto["plans"] is not None
    assert any("sp500 skipped" in w for w in out["run"]["warnings"]), out["run"]["warnings"]


def test_alpaca_crypto_preset_needs_no_keys(world):
    w, mp = world
    mp.delenv("ALPACA_API_KEY", raising=False)
    mp.delenv("ALPACA_API_SECRET", raising=False)
    cfg = w.init("alpaca-crypto", "--preset", "alpaca-crypto", "--max-positions", "4")
    assert "max_positions = 4" in cfg.read_text()
    w.point_at_fakes(cfg)
    out = w.run(cfg)
    assert [b["bucket"] for b in out["run"]["buckets"]] == ["crypto"]
    assert _bucket(out, "crypto")["error"] is None
    print(f"\ncalls per run, preset alpaca-crypto: {out['calls']}")
    assert out["calls"]["alphavantage"] == 0 and out["calls"]["sp500-members"] == 0


def test_csv_preset_runs_on_a_folder(world):
    w, _ = world
    folder = _csv_folder(w.root / "prices")
    cfg = w.init("csv", "--preset", "csv", "--folder", str(folder), "--account-size", "25000")
    text = cfg.read_text()
    assert "size = 25000" in text and "date,open,high,low,close,volume" in text
    w.point_at_fakes(cfg)
    out = w.run(cfg)
    for name in ("sp500", "crypto"):
        assert _bucket(out, name)["error"] is None, _bucket(out, name)
    print(f"\ncalls per run, preset csv (+members): {out['calls']}")
    assert out["calls"]["alpaca"] == 0


def test_shared_preset_runs_on_shared_data(world):
    w, _ = world
    shared = REPO / ".." / "shared" / "data"
    if not (shared / "equities").is_dir():
        pytest.skip("../shared/data is absent")
    cfg = w.init("shared", "--preset", "shared", "--folder", str(shared))
    assert "shared_data = " in cfg.read_text()
    w.reset()
    res = CliRunner().invoke(
        cli, ["--config", str(cfg), "run-daily", "--as-of", "2019-12-31", "--dry-run", "--json"]
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    for name in ("sp500", "crypto"):
        assert _bucket(out, name)["error"] is None, _bucket(out, name)
    assert w.counts() == {"alpaca": 0, "alphavantage": 0, "coingecko": 0, "sp500-members": 0}


def test_demo_preset_is_the_default_without_a_terminal(world):
    w, _ = world
    cfg = w.init("demo")
    assert 'source = "demo"' in cfg.read_text()
