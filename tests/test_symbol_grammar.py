"""Issue 21.2: one symbol grammar at every entry point; nothing lands outside the data dir.

The invariant is tried with Hypothesis over arbitrary text: every place that builds a path from
outside text (the JSON and Parquet caches of network sources, the CSV source's news files) stays
inside its folder, and every entry point (the contracts, ``trades add``, import, the data hub
that passes held symbols to every source) refuses what the grammar refuses.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from tsys.cli import cli
from tsys.contracts import Signal
from tsys.data.cache import JsonCache, ParquetCache
from tsys.symbols import MAX_SYMBOL_LENGTH, normalise_symbol, safe_name, symbol_problem

TRAVERSALS = [
    "../../../../PWNED",
    "..",
    "../x",
    "a/../../b",
    "/etc/passwd",
    "C:\\Windows\\x",
    "..\\..\\x",
    "A" * 65,
    "A" * 1_000_000,
    "AAPL\x00",
    "AA\nPL",
    "AA PL",
    "\u202eLPAA",
    "[/X]",
    "",
]
GOOD = ["AAPL", "BRK.B", "BRK-B", "BTC-USD", "^GSPC", "ES=F", "SPY", "X" * MAX_SYMBOL_LENGTH]

any_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=120)


def _inside(path: Path, root: Path) -> bool:
    return os.path.realpath(path).startswith(os.path.realpath(root) + os.sep)


@pytest.mark.parametrize("bad", TRAVERSALS)
def test_grammar_refuses(bad):
    assert symbol_problem(bad) is not None


@pytest.mark.parametrize("good", GOOD)
def test_grammar_accepts(good):
    assert symbol_problem(good) is None


@given(any_text)
def test_a_valid_symbol_names_a_file_in_its_folder(text):
    """Invariant: whatever passes the grammar is one file name: no separator, no '..'."""
    if symbol_problem(text) is None:
        assert "/" not in text and "\\" not in text and ".." not in text
        assert 0 < len(text) <= MAX_SYMBOL_LENGTH and text.isprintable()
        assert Path("root", text + ".csv").parent == Path("root")


@given(parts=st.lists(any_text, min_size=1, max_size=4))
def test_json_cache_paths_stay_in_the_cache(tmp_path_factory, parts):
    """Invariant: a JSON cache entry keyed by any text is a file inside the cache root."""
    root = tmp_path_factory.mktemp("jc") / "cache"
    assert _inside(JsonCache(root).path(*parts), root)


@given(key=any_text)
def test_parquet_cache_and_safe_names_stay_in_the_cache(tmp_path_factory, key):
    root = tmp_path_factory.mktemp("pc")
    assert _inside(ParquetCache(root).path(key), root)
    name = safe_name(key)
    assert "/" not in name and "\\" not in name and name not in (".", "..")


def test_json_cache_traversal_writes_inside(tmp_path):
    """Regression: a '../../../../PWNED' symbol made the JSON cache write four levels up."""
    root = tmp_path / "a" / "b" / "c" / "cache"
    cache = JsonCache(root)
    now = dt.datetime(2024, 6, 28, tzinfo=dt.UTC)
    cache.write({"x": 1}, "overview", "../../../../PWNED", fetched_at=now)
    cache.write({"x": 2}, "news", "../../deep/er/PWNED", "2024-06-28", fetched_at=now)
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert written and all(_inside(p, root) for p in written), written
    assert cache.read("overview", "../../../../PWNED")["payload"] == {"x": 1}


@given(text=any_text)
def test_contracts_follow_the_grammar(text):
    """Invariant: a contract holds a symbol exactly when the grammar accepts it."""
    try:
        Signal(
            symbol=text,
            asset_class="equity",
            timestamp=dt.datetime(2024, 1, 2, tzinfo=dt.UTC),
            side="buy",
            intent="watch",
            score=0.0,
            bucket="b",
            strategy_version="1",
        )
        built = True
    except ValueError:
        built = False
    assert built == (symbol_problem(text) is None)


def test_normalise_symbol():
    assert normalise_symbol(" btc/usd ") == "BTC-USD"
    assert normalise_symbol("brk.b") == "BRK.B"
    assert normalise_symbol("../x") == "../X"  # not a pair: left for the grammar to refuse


def _trades_add(symbol: str):
    """``tsys trades add SYMBOL``: one share bought at 10 on 2024-01-02."""
    args = ["--side", "buy", "--qty", "1", "--price", "10", "--date", "2024-01-02"]
    return CliRunner().invoke(cli, ["trades", "add", symbol, *args])


@pytest.mark.parametrize("bad", ["../../../../PWNED", "A" * 65, "A/B/C", "..", "AA\x07PL"])
def test_trades_add_refuses(isolated, bad):
    """Regression: the CLI stored '../../../../PWNED' and a 1 MB symbol (SQLite)."""
    result = _trades_add(bad)
    assert result.exit_code == 2, result.output
    assert "symbol" in result.output and "Traceback" not in result.output
    listed = CliRunner().invoke(cli, ["trades", "list", "--json"])
    assert json.loads(listed.output or "[]") == []


def test_trades_import_refuses_the_row(isolated):
    """Regression: an imported CSV carried '../../../../PWNED' into the store."""
    f = isolated / "t.csv"
    f.write_text(
        "symbol,side,quantity,price,date\n"
        "AAPL,buy,1,10,2024-01-02\n"
        "../../../../PWNED,buy,1,10,2024-01-02\n"
    )
    result = CliRunner().invoke(cli, ["trades", "import", str(f)])
    assert result.exit_code == 2, result.output
    assert "path separator" in result.output and "Traceback" not in result.output


def test_stored_row_breaking_the_grammar_is_skipped_with_a_warning(isolated):
    """A row written before the rule (or by another tool) is left out, named, never fatal."""
    from tsys.config import load_config
    from tsys.store import open_store
    from tsys.workspace import workspace

    ok = _trades_add("IBM")
    assert ok.exit_code == 0, ok.output
    bad = _trades_add("MSFT")
    assert bad.exit_code == 0, bad.output
    with open_store(workspace(load_config()).store_url) as store:
        P = store.models.ManualPosition
        P.update(symbol="../../../../PWNED").where(P.symbol == "MSFT").execute()
    listed = CliRunner().invoke(cli, ["trades", "list"])
    assert listed.exit_code == 0, listed.output
    assert "IBM" in listed.output and "M-000002 cannot be loaded" in listed.output
    portfolio = CliRunner().invoke(cli, ["portfolio"])
    assert portfolio.exit_code == 0, portfolio.output


class _Recording:
    """A source that records every symbol it is asked about."""

    def __init__(self):
        from tsys.data.demo import DemoSource

        self.demo = DemoSource.from_config({}, _ctx())
        self.asked: list[str] = []

    def __getattr__(self, name):
        return getattr(self.demo, name)

    def news(self, symbols, start, end):
        self.asked += list(symbols)
        return pd.DataFrame()

    def fundamentals(self, symbols):
        self.asked += list(symbols)
        return {}


def _ctx():
    from tsys.data.source import SourceContext

    return SourceContext(cache_dir=Path("/nonexistent-never-written"))


@given(symbols=st.lists(st.one_of(st.sampled_from(TRAVERSALS + GOOD), any_text), max_size=8))
def test_data_hub_passes_only_grammatical_symbols(symbols):
    """Invariant: no data source is ever asked about a symbol the grammar refuses."""
    from tsys.data.source import DataHub

    src = _Recording()
    src.name = "recording"
    src.provides = frozenset({"news", "fundamentals"})
    ctx = _ctx()
    hub = DataHub(src, [], ctx)
    hub.news(symbols, dt.date(2024, 1, 1), dt.date(2024, 1, 2))
    hub.fundamentals(symbols)
    assert all(symbol_problem(s) is None for s in src.asked)
    refused = [s for s in symbols if symbol_problem(s) is not None]
    assert bool(refused) == any("no data source is asked" in w for w in ctx.warnings)
