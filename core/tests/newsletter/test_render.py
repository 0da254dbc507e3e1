import html as htmllib
import re

import attrs
import pytest
from markupsafe import Markup

from tsys.contracts import DailyRun
from tsys.hookspecs import hookimpl
from tsys.report.newsletter import render

from .conftest import HOSTILE_RATIONALE, HOSTILE_SYMBOL, make_run


def _visible(html: str) -> str:
    """The HTML's text as a reader sees it (tags dropped, entities decoded)."""
    text = re.sub(r"<[^>]+>", " ", html)
    return re.sub(r"\s+", " ", htmllib.unescape(text))


# Facts computed by hand from the fixture in conftest.py, not by the code under test.
FACTS = [
    "AAPL",
    "$12,345.67",
    "12.35%",
    "45 shares",
    "$180.50",
    "$210.00",
    "0.82",
    "MSFT",
    "$8,000.00",
    "LIMIT $410.25",
    "ATR trailing 3.00x",
    "19 shares",
    "XOM",
    "$5,432.10",
    "5.43%",
    "JNJ",
    "$3,000.00",
    "$140.00",
    "NVDA",
    "near breakout",
    "BTC-USD",
    "$7,654.32",
    "0.12345678 units",
    "$58,000.00",
    "$72,000.00",
    "1.25",
    "ETH-USD",
    "DOGE-USD",
    "20-day breakout; RSI 61",
    "Apple beats estimates",
    "sentiment +0.42",
    "sector cap: technology at 30% ($15,000.00 → $12,345.67)",
    "exit after 20 bars",
    "TSLA",
    "earnings in 2 days",
    "LUNA-USD",
    "delisting risk",
    "risk-on",
    "neutral",
    "$100,000.00",
    "$61,234.50",
    "$1,234.56",
    "1.23%",
    "$23,456.78",
    "23.46%",
    "$7,890.12",
    "7.89%",
    "Technology",
    "$12,345.67",
    "Energy",
    "SOL-USD",
    "1.5",
    "$120.00",
    "$30.00",  # manual SOL: (140 - 120) x 1.5 at risk
    "$200.00",  # paper JNJ: (150 - 140) x 20 at risk
    "3 symbols had gaps in their bars",
    "data source 'demo' is synthetic",
    "smtp.test:587 said 451 try later",
    "market-cap source timed out; ranking from yesterday",
    "not investment advice",
    "SYNTHETIC DATA",
]


@pytest.fixture(scope="module")
def rendered():
    from tsys import plugins

    plugins.reset_plugin_manager(plugins.build_plugin_manager(load_entrypoints=False))
    try:
        (nl,) = render(make_run())
    finally:
        plugins.reset_plugin_manager(None)
    return nl


@pytest.mark.parametrize("fact", FACTS)
def test_both_parts_carry_the_same_facts(rendered, fact):
    assert fact in _visible(rendered.html), f"HTML lacks {fact!r}"
    assert fact in rendered.text, f"text lacks {fact!r}"


def test_headline_counts_and_subject(rendered):
    # Buys: AAPL, MSFT, BTC-USD; sells: XOM; holds: JNJ; watch: NVDA, DOGE-USD (plan), ETH-USD.
    summary = "4 actions: 3 buys, 1 sell; 1 hold, 3 to watch"
    assert summary in rendered.text
    assert summary in _visible(rendered.html)
    assert rendered.subject == f"SYNTHETIC DATA: tsys 2024-05-03: {summary}"
    assert rendered.bucket is None


def test_sections_appear_in_order(rendered):
    text = rendered.text
    order = [
        "== sp500",
        "== crypto",
        "== What to avoid",
        "== Portfolio",
        "== Data and run warnings",
        "== Delivery failures",
        "not investment advice",
    ]
    positions = [text.index(s) for s in order]
    assert positions == sorted(positions)
    # Inside a bucket: buys, then sells, holds, watch.
    sp = text[text.index("== sp500") : text.index("== crypto")]
    assert sp.index("Buy (2)") < sp.index("Sell (1)") < sp.index("Hold (1)") < sp.index("Watch (1)")


def test_validation_and_bucket_error_are_flagged(rendered):
    crypto_html = rendered.html[rendered.html.index(">crypto ") :]
    assert "Not validated" in crypto_html
    assert "NOT VALIDATED" in rendered.text
    sp = rendered.text[rendered.text.index("== sp500") : rendered.text.index("== crypto")]
    assert "NOT VALIDATED" not in sp
    assert "ERROR: this bucket failed: market-cap source timed out" in rendered.text


def test_css_is_inlined_and_layout_is_bounded(rendered):
    assert "<style" not in rendered.html
    assert 'style="' in rendered.html
    assert "max-width: 600px" in rendered.html
    widths = [int(w) for w in re.findall(r"width:\s*(\d+)px", rendered.html)]
    assert widths and max(widths) <= 600


def test_only_web_links_are_clickable(rendered):
    assert 'href="https://news.test/aapl"' in rendered.html
    assert "javascript:" not in rendered.html
    assert "Sneaky link" in rendered.html  # the title stays, without a link
    assert "<https://news.test/aapl>" in rendered.text
    assert "javascript:" not in rendered.text


def test_synthetic_banner_only_when_synthetic(isolated_plugins):
    (real,) = render(make_run(synthetic=False))
    assert "SYNTHETIC" not in real.html
    assert "SYNTHETIC" not in real.text
    assert not real.subject.startswith("SYNTHETIC")


def test_hostile_text_is_escaped_in_html_and_kept_in_text(isolated_plugins):
    (nl,) = render(make_run(hostile=True))
    assert "<script>" not in nl.html
    assert "<img src=x" not in nl.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in nl.html
    assert "&lt;img src=x onerror=" in nl.html
    assert HOSTILE_SYMBOL in nl.text
    assert HOSTILE_RATIONALE in nl.text
    assert HOSTILE_SYMBOL in _visible(nl.html)


def test_control_characters_never_reach_the_text(isolated_plugins):
    run = make_run()
    b0 = run.buckets[0]
    b0 = attrs.evolve(b0, warnings=("bad\x1b[31m red",))
    (nl,) = render(attrs.evolve(run, buckets=(b0, *run.buckets[1:])))
    assert "\x1b" not in nl.text
    assert "bad[31m red" in nl.text


def test_per_bucket_newsletters(run, isolated_plugins):
    nls = render(run, per_bucket=True)
    assert [n.bucket for n in nls] == ["sp500", "crypto"]
    sp, cr = nls
    assert "AAPL" in sp.text and "BTC-USD" not in sp.text
    assert "BTC-USD" in cr.text and "AAPL" not in cr.text
    assert "TSLA" in sp.text and "LUNA-USD" not in sp.text
    assert sp.subject.startswith("SYNTHETIC DATA: tsys sp500 2024-05-03: 3 actions: 2 buys, 1 sell")
    assert cr.subject.startswith("SYNTHETIC DATA: tsys crypto 2024-05-03: 1 action: 1 buy, 0 sells")
    # The merged portfolio is in every one of them.
    for n in nls:
        assert "$61,234.50" in n.text


def test_paper_account_section(run, isolated_plugins):
    from tsys.brokers import AccountState

    acct = AccountState(cash=50000.0, equity=101234.5, buying_power=100000.0)
    (nl,) = render(run, paper_account=acct)
    assert "== Paper account (paper) ==" in nl.text
    assert "Equity $101,234.50, cash $50,000.00, buying power $100,000.00" in nl.text
    assert "$101,234.50" in _visible(nl.html)
    (without,) = render(run)
    assert "Paper account" not in without.text


def test_run_without_portfolio_or_buckets(isolated_plugins):
    run = DailyRun(as_of=make_run().as_of, created_at=make_run().created_at, config_digest="x")
    (nl,) = render(run)
    assert "No bucket ran." in nl.text
    assert "This run has no portfolio snapshot." in nl.text
    assert "0 actions" in nl.subject


class SectionsPlugin:
    @hookimpl
    def newsletter_sections(self, run):
        return [
            {
                "title": "Flow <alerts>",
                "html": "<b>raw</b> for " + run.as_of.isoformat(),
                "text": "raw for " + run.as_of.isoformat(),
            },
            {"title": "Trusted", "html": Markup("<em>trusted markup</em>"), "text": "trusted"},
        ]


class BrokenSectionsPlugin:
    @hookimpl
    def newsletter_sections(self, run):
        raise RuntimeError("boom in section")


class MalformedSectionsPlugin:
    @hookimpl
    def newsletter_sections(self):
        return [{"title": "no body"}]


def test_hook_newsletter_sections(run, isolated_plugins):
    isolated_plugins.register(SectionsPlugin(), name="sections")
    (nl,) = render(run)
    assert "&lt;b&gt;raw&lt;/b&gt; for 2024-05-03" in nl.html
    assert "<em" in nl.html and "trusted markup</em>" in nl.html
    assert "Flow &lt;alerts&gt;" in nl.html
    assert "== Flow <alerts> ==\nraw for 2024-05-03" in nl.text


def test_broken_section_plugins_become_warnings(run, isolated_plugins):
    isolated_plugins.register(BrokenSectionsPlugin(), name="broken-sections")
    isolated_plugins.register(MalformedSectionsPlugin(), name="malformed-sections")
    isolated_plugins.register(SectionsPlugin(), name="sections")
    (nl,) = render(run)
    assert "raw for 2024-05-03" in nl.text  # the good plugin still shows
    assert "broken-sections" in nl.text and "boom in section" in nl.text
    assert "malformed-sections" in nl.text and "section 0" in nl.text
    assert "AAPL" in nl.text


def test_extra_sections(run, isolated_plugins):
    (nl,) = render(run, extra_sections=[{"title": "Note", "html": "<i>x</i>", "text": "x"}])
    assert "&lt;i&gt;x&lt;/i&gt;" in nl.html
    assert "== Note ==\nx" in nl.text


def test_watch_plan_shows_no_money_and_no_stop():
    """Regression: a WATCH plan read "$0.00 (0.00% of account), 0 shares / entry MOO | stop none
    | target none", as if a position without protection were being opened."""
    (nl,) = render(make_run())
    row = nl.text.split("* DOGE-USD", 1)[1].split("\n  * ", 1)[0].split("\n\n", 1)[0]
    assert "no money attached" in row, row
    assert "$0.00" not in row and "stop none" not in row and "entry MOO" not in row, row
    assert "score" in row
