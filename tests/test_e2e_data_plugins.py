"""Issue 5, done when: the Alpha Vantage and CoinGecko plugins shape a real daily run.

`tsys run-daily --demo` (bars from the synthetic market) with ``extra_sources =
["alphavantage", "coingecko"]`` pointed at the plugins' own loopback fakes (their tests'
``av_fake`` / ``cg_fake``, speaking the real wire formats). The fakes' clock-dependent parts are
pinned to the day after the run's as-of: CoinGecko only knows "now", so the sources' clock is
what makes a past as-of day answerable.

The S&P 500 bucket runs in ``mode = "etf"`` (SPY and the sector ETFs): in the default members
mode every index member is in the universe, which makes for a slow loopback test; the daily run
asks news only for today's best 30 candidates either way (see ``test_call_counts``).
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from werkzeug import Response

from tsys.cli import cli
from tsys.testing.isolation import isolate, pin_clock

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "plugins" / "data_alphavantage" / "tests"))
sys.path.insert(0, str(REPO / "plugins" / "data_coingecko" / "tests"))

import av_fake  # noqa: E402
import cg_fake  # noqa: E402

pytest.importorskip("tsys_data_alphavantage")
pytest.importorskip("tsys_data_coingecko")

AS_OF = dt.date(2024, 3, 28)
NOW = dt.datetime.combine(AS_OF + dt.timedelta(days=1), dt.time(0, 30), dt.UTC)
TOP_N = 10  # the crypto universe size this test configures ([buckets.crypto.params] top_n)

#: The fake's ranking. LTC is put in the "stablecoins" category on purpose: only the category
#: endpoint can exclude it (it is no stablecoin by any name or symbol heuristic).
COINS = [
    ("aave", "aave", "Aave", 9.0e11, ()),
    ("near", "near", "NEAR Protocol", 8.5e11, ()),
    ("tether", "usdt", "Tether", 8.0e11, ("stablecoins",)),
    ("litecoin", "ltc", "Litecoin", 7.5e11, ("stablecoins",)),
    ("uniswap", "uni", "Uniswap", 7.0e11, ()),
    ("cosmos", "atom", "Cosmos Hub", 6.5e11, ()),
    ("wrapped-bitcoin", "wbtc", "Wrapped Bitcoin", 6.0e11, ("wrapped-tokens",)),
    ("stellar", "xlm", "Stellar", 5.5e11, ()),
    ("bitcoin", "btc", "Bitcoin", 5.0e11, ()),
    ("ethereum-classic", "etc", "Ethereum Classic", 4.5e11, ()),
    ("monero", "xmr", "Monero", 4.0e11, ()),
    ("chainlink", "link", "Chainlink", 3.5e11, ()),
    ("dai", "dai", "Dai", 3.2e11, ("stablecoins",)),
    ("shiba-inu", "shib", "Shiba Inu", 3.0e11, ()),
    ("bitcoin-cash", "bch", "Bitcoin Cash", 2.5e11, ()),
    ("ethereum", "eth", "Ethereum", 1.0e9, ()),
    ("dogecoin", "doge", "Dogecoin", 5.0e8, ()),
]


def expected_crypto_universe() -> list[str]:
    """Top TOP_N of the fake's ranking after its categories, computed here from COINS."""
    ranked = sorted(COINS, key=lambda c: -c[3])
    kept = [f"{c[1].upper()}-USD" for c in ranked if not c[4]]
    return kept[:TOP_N]


class Fakes:
    """Both loopback services, with a switch to make them fail the way the issue describes."""

    def __init__(self, av_server, cg_server) -> None:
        self.av = av_fake.FakeAlphaVantage()
        self.cg = cg_fake.FakeCoinGecko()
        self.cg.coins = list(COINS)
        self.failing = False
        self.cg_failures = 0
        av_server.expect_request("/query").respond_with_handler(self._av)
        cg_server.expect_request("/api/v3/coins/markets").respond_with_handler(self._cg)
        self.av_url = av_server.url_for("/").rstrip("/")
        self.cg_url = cg_server.url_for("/api/v3")

    def _av(self, request):
        if self.failing:
            self.av.calls.append(dict(request.args))
            return Response(
                json.dumps({"Information": av_fake.QUOTA}), content_type="application/json"
            )
        return self.av.handle(request)

    def _cg(self, request):
        if not self.failing:
            return self.cg.handle(request)
        self.cg.calls.append((dict(request.args), {}))
        self.cg_failures += 1
        if self.cg_failures == 1:
            body = json.dumps(cg_fake.RATE_LIMIT_BODY)
            return Response(body, status=429, headers={"Retry-After": "0"})
        time.sleep(0.6)  # no answer within the client's timeout
        return Response("[]", content_type="application/json")

    def reset_counts(self) -> None:
        self.av.calls.clear()
        self.cg.calls.clear()

    def config(self, *, extra: bool = True) -> str:
        text = (
            "[data]\nhistory_years = 1.5\n"
            f"extra_sources = {json.dumps(['alphavantage', 'coingecko'] if extra else [])}\n"
            '[buckets.sp500.params]\nmode = "etf"\n'
            f"[buckets.crypto.params]\ntop_n = {TOP_N}\n"
        )
        if extra:
            text += (
                "[data.options.alphavantage]\n"
                f'base_url = "{self.av_url}"\n'
                "calls_per_minute = 100000\ndaily_budget = 100000\ntimeout = 2\n"
                "burst_retry_wait = 0\n"
                "[data.options.coingecko]\n"
                f'base_url = "{self.cg_url}"\n'
                "timeout = 0.4\nmax_retries = 1\nbackoff_seconds = 0\nmax_backoff_seconds = 0\n"
            )
        return text


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Servers, env and the runs: baseline (no plugins), cold, warm, failing."""
    from pytest_httpserver import HTTPServer
    from tsys_data_alphavantage.source import AlphaVantageSource
    from tsys_data_coingecko.source import CoinGeckoSource

    av_server, cg_server = HTTPServer(), HTTPServer()
    av_server.start()
    cg_server.start()
    fakes = Fakes(av_server, cg_server)
    root = tmp_path_factory.mktemp("e2e-data-plugins")
    runs: dict = {"fakes": fakes}
    with pytest.MonkeyPatch.context() as mp:
        isolate(mp, root)
        mp.setenv("ALPHAVANTAGE_API_KEY", av_fake.KEY)
        mp.delenv("COINGECKO_API_KEY", raising=False)
        pin_clock(mp, NOW, AlphaVantageSource, CoinGeckoSource)

        def run(name: str, config: str, *extra: str, folder: str | None = None):
            folder = folder or name
            cfg = root / f"{name}.toml"
            cfg.write_text(f'data_dir = "{root / folder}"\n' + config)
            fakes.reset_counts()
            t0 = time.perf_counter()
            res = CliRunner().invoke(
                cli,
                ["--config", str(cfg), "run-daily", "--demo", "--as-of", AS_OF.isoformat(), *extra],
            )
            seconds = time.perf_counter() - t0
            assert res.exit_code == 0, res.output
            run_dir = root / folder / "demo" / "runs" / AS_OF.isoformat()  # the demo sandbox
            runs[name] = {
                "run": json.loads((run_dir / "run.json").read_text()),
                "dir": run_dir,
                "av_calls": list(fakes.av.calls),
                "cg_calls": len(fakes.cg.calls),
                "seconds": seconds,
                "output": res.output,
            }

        run("baseline", fakes.config(extra=False))
        base_buys = _plans(runs["baseline"]["run"], "sp500", "buy")
        assert len(base_buys) >= 3, "the demo day needs three S&P buys to stage the news"
        bad, good, reporting = sorted(base_buys)[:3]
        runs["bad"], runs["good"], runs["reporting"] = bad, good, reporting
        runs["bad_title"] = f"{bad} guidance slashed as regulators open fraud probe"
        runs["good_title"] = f"{good} inflows hit a record on upbeat outlook"
        fakes.av.add_article("20240328T143000", runs["bad_title"], **{bad: (-0.82, 0.9)})
        fakes.av.add_article("20240327T090500", runs["good_title"], **{good: (0.61, 0.8)})
        fakes.av.calendar_csv += f"{reporting},Fund,2024-03-29,2024-03-31,1.02,USD,post-market\n"
        run("cold", fakes.config())
        run("warm", fakes.config(), "--force", folder="cold")
        fakes.failing = True
        run("failing", fakes.config())
        yield runs
    av_server.clear()
    av_server.stop()
    cg_server.stop()


def _plans(run: dict, bucket: str, action: str) -> list[str]:
    (b,) = [b for b in run["buckets"] if b["bucket"] == bucket]
    return [p["allocation"]["signal"]["symbol"] for p in b["plans"] if p["action"] == action]


def _bucket(run: dict, name: str) -> dict:
    (b,) = [b for b in run["buckets"] if b["bucket"] == name]
    return b


def test_without_plugins_the_day_still_runs(world):
    run = world["baseline"]["run"]
    assert not any("alphavantage" in w or "coingecko" in w for w in run["warnings"])
    for name in ("sp500", "crypto"):
        assert _bucket(run, name)["error"] is None


def test_negative_news_blocks_a_pick_with_the_headline(world):
    run = world["cold"]["run"]
    sp = _bucket(run, "sp500")
    assert sp["error"] is None
    bad = world["bad"]
    assert bad not in _plans(run, "sp500", "buy")
    (blocker,) = [b for b in sp["blockers"] if b["symbol"] == bad]
    assert "negative news (-0.82 over 3d)" in blocker["reason"]
    assert world["bad_title"] in blocker["reason"]
    text = (world["cold"]["dir"] / "newsletter.txt").read_text()
    assert world["bad_title"] in text


def test_earnings_date_blocks_an_entry(world):
    run = world["cold"]["run"]
    sym = world["reporting"]
    assert sym not in _plans(run, "sp500", "buy")
    reasons = [b["reason"] for b in _bucket(run, "sp500")["blockers"] if b["symbol"] == sym]
    assert reasons == ["earnings in 1 day: blocked"]


def test_positive_news_reaches_the_pick_rationale(world):
    run = world["cold"]["run"]
    good = world["good"]
    assert good in _plans(run, "sp500", "buy")
    (plan,) = [
        p
        for p in _bucket(run, "sp500")["plans"]
        if p["allocation"]["signal"]["symbol"] == good and p["action"] == "buy"
    ]
    signal = plan["allocation"]["signal"]
    assert f"news: {world['good_title']} (+0.61)" in signal["rationale"]
    # The article comes with its link, and the newsletter links it.
    (item,) = [n for n in signal["news"] if n["title"] == world["good_title"]]
    assert item["url"].startswith("https://") and item["sentiment"] == 0.61
    assert world["good_title"] in (world["cold"]["dir"] / "newsletter.txt").read_text()
    html = (world["cold"]["dir"] / "newsletter.html").read_text()
    assert f'href="{item["url"]}"' in html


def test_market_caps_decide_the_crypto_universe(world):
    expected = expected_crypto_universe()
    assert "LTC-USD" not in expected and "USDT-USD" not in expected  # the fake's categories
    crypto = _bucket(world["cold"]["run"], "crypto")
    assert crypto["error"] is None
    seen = {p["allocation"]["signal"]["symbol"] for p in crypto["plans"]}
    assert seen, "the crypto bucket should at least watch its best coins"
    assert seen <= set(expected), seen - set(expected)
    for p in crypto["plans"]:
        assert f"top {TOP_N} by market cap" in p["allocation"]["signal"]["rationale"]
    # Without CoinGecko the demo's own caps pick a different set (ETH, a demo top coin).
    base = _bucket(world["baseline"]["run"], "crypto")
    base_seen = {p["allocation"]["signal"]["symbol"] for p in base["plans"]}
    assert base_seen - set(expected), base_seen
    # one ranking page plus one page per excluded category, then cached for the day
    assert world["cold"]["cg_calls"] == 3


def test_sectors_survive_a_fundamentals_source_that_knows_none(world):
    # Alpha Vantage knows no overview in the fake (ETFs, coins): the demo's sectors must still
    # reach the sector cap and the portfolio's sector exposure.
    from tsys.data.demo import SECTOR_ETFS

    run = world["cold"]["run"]
    expected: dict[str, float] = {}
    for b in run["buckets"]:
        for p in b["plans"]:
            if p["action"] != "buy":
                continue
            sym = p["allocation"]["signal"]["symbol"]
            if b["bucket"] == "crypto":
                sector = "Crypto"
            else:
                sector = SECTOR_ETFS.get(sym, "Unknown")  # SPY has no sector
            expected[sector] = expected.get(sector, 0.0) + p["allocation"]["dollars"]
    got = run["portfolio"]["exposure_by_sector"]
    assert set(got) == set(expected)
    for sector, dollars in expected.items():
        assert got[sector] == pytest.approx(dollars, abs=0.01), sector
    assert len(expected) >= 3


def test_failing_services_cost_inputs_not_the_plan(world):
    run = world["failing"]["run"]
    for name in ("sp500", "crypto"):
        assert _bucket(run, name)["error"] is None
    assert run["buckets"] and any(b["plans"] for b in run["buckets"])
    warnings = "\n".join(run["warnings"])
    assert "alphavantage: news sentiment unavailable" in warnings
    assert "25 requests per day" in warnings
    assert "alphavantage: earnings dates unavailable" in warnings
    assert "coingecko: market caps unavailable" in warnings
    assert "coingecko: stablecoin/wrapped-token lists unavailable" in warnings
    assert av_fake.KEY not in warnings and av_fake.KEY not in world["failing"]["output"]
    # the quota answer stops further Alpha Vantage calls for the day (client-side)
    assert len(world["failing"]["av_calls"]) == 1


def test_call_counts(world):
    cold, warm = world["cold"], world["warm"]
    functions = [c.get("function") for c in cold["av_calls"]]
    news = sorted(c["tickers"] for c in cold["av_calls"] if c.get("function") == "NEWS_SENTIMENT")
    from tsys_bucket_sp500.bucket import BENCHMARK, DAILY_EVENT_CHECKS, SECTOR_ETFS

    # one feed per symbol, and only for today's candidates (the daily run reads the last row)
    assert news and len(set(news)) == len(news)
    assert set(news) <= {BENCHMARK, *SECTOR_ETFS}
    assert len(news) <= DAILY_EVENT_CHECKS
    assert functions.count("EARNINGS_CALENDAR") == 1
    overviews = {c["symbol"] for c in cold["av_calls"] if c.get("function") == "OVERVIEW"}
    # sectors are asked only for candidates and holdings, not for the whole panel
    assert len(overviews) <= 2 * len(SECTOR_ETFS)
    assert warm["av_calls"] == [] and warm["cg_calls"] == 0
    print(
        f"\nHTTP calls per run: cold alphavantage={len(cold['av_calls'])} "
        f"(news {len(news)}, earnings 1, overview {len(overviews)}), coingecko={cold['cg_calls']}"
        f" in {cold['seconds']:.1f}s; warm alphavantage={len(warm['av_calls'])}, "
        f"coingecko={warm['cg_calls']} in {warm['seconds']:.1f}s"
    )
