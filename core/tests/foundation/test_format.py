import math
import re
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tsys import format as fmt


@pytest.mark.parametrize(
    ("value", "kwargs", "expected"),
    [
        (12345.67, {}, "$12,345.67"),
        (1234567.891, {}, "$1,234,567.89"),
        (-1234.5, {}, "-$1,234.50"),
        (0, {}, "$0.00"),
        (2.675, {}, "$2.68"),  # rounded as printed, not as the binary float
        (0.005, {}, "$0.01"),
        (-0.001, {}, "$0.00"),  # no "-$0.00"
        (1, {"signed": True}, "+$1.00"),
        (-1, {"signed": True}, "-$1.00"),
        (None, {}, "—"),
    ],
)
def test_money(value, kwargs, expected):
    assert fmt.money(value, **kwargs) == expected


@pytest.mark.parametrize(
    ("value", "kwargs", "expected"),
    [
        (0.0125, {}, "+1.25%"),
        (-0.034, {}, "-3.40%"),
        (0, {}, "0.00%"),
        (-0.00001, {}, "0.00%"),
        (12.5, {}, "+1,250.00%"),
        (0.5, {"signed": False}, "50.00%"),
        (0.123456, {"decimals": 1}, "+12.3%"),
        (None, {}, "—"),
    ],
)
def test_pct(value, kwargs, expected):
    assert fmt.pct(value, **kwargs) == expected


@pytest.mark.parametrize(
    ("value", "asset", "expected"),
    [
        (1200, "equity", "1,200"),
        (45.0, "equity", "45"),
        (2.5, "equity", "2.5"),  # fractional shares are shown, not rounded away
        (0.12345678, "crypto", "0.12345678"),
        (0.123456789, "crypto", "0.12345679"),
        (1234.5, "crypto", "1,234.5"),
        (3.0, "crypto", "3"),
        (1e-9, "crypto", "0"),
        (None, "crypto", "—"),
    ],
)
def test_quantity(value, asset, expected):
    assert fmt.quantity(value, asset) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (180.5, "$180.50"),
        (64123.456, "$64,123.46"),
        (0.5, "$0.50"),
        (0.000123456, "$0.0001235"),
        (0.0, "$0.00"),
    ],
)
def test_price(value, expected):
    assert fmt.price(value) == expected


def test_number_and_score():
    assert fmt.number(1234567) == "1,234,567"
    assert fmt.number(0.4, 2, signed=True) == "+0.40"
    assert fmt.number(-0.4, 2, signed=True) == "-0.40"
    assert fmt.score(0.8234) == "0.82"


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize("fn", [fmt.money, fmt.pct, fmt.quantity, fmt.price, fmt.number])
def test_non_finite_is_refused(fn, bad):
    with pytest.raises(ValueError, match="finite"):
        fn(bad)


def test_non_number_is_refused():
    with pytest.raises(TypeError):
        fmt.money("12")  # type: ignore[arg-type]


MONEY_RE = re.compile(r"^[+-]?\$\d{1,3}(,\d{3})*\.\d{2}$")
amounts = st.floats(min_value=-1e12, max_value=1e12, allow_nan=False, allow_infinity=False)


def _parse(text: str) -> Decimal:
    return Decimal(text.replace("$", "").replace(",", "").replace("%", "").replace("+", ""))


@given(amounts)
def test_money_reads_back_within_half_a_cent(x):
    text = fmt.money(x)
    assert MONEY_RE.match(text), text
    assert abs(_parse(text) - Decimal(repr(x))) <= Decimal("0.005")
    # The sign shown agrees with the value, and nothing that rounds to zero shows a sign.
    if _parse(text) != 0:
        assert text.startswith("-") == (x < 0)
    else:
        assert not text.startswith(("-", "+"))


@given(st.floats(min_value=-100, max_value=100, allow_nan=False))
def test_pct_reads_back(x):
    text = fmt.pct(x)
    assert re.match(r"^[+-]?\d{1,3}(,\d{3})*\.\d{2}%$", text), text
    assert abs(_parse(text) / 100 - Decimal(repr(x))) <= Decimal("0.00005")
    shown = _parse(text)
    assert text.startswith("+") == (shown > 0)
    assert text.startswith("-") == (shown < 0)


@given(st.floats(min_value=0, max_value=1e7, allow_nan=False))
def test_crypto_quantity_keeps_eight_decimals(q):
    text = fmt.quantity(q, "crypto")
    assert re.match(r"^\d{1,3}(,\d{3})*(\.\d{1,8})?$", text), text
    assert abs(_parse(text) - Decimal(repr(q))) <= Decimal("0.000000005")


@given(st.integers(min_value=0, max_value=10**12))
def test_equity_whole_shares(n):
    assert fmt.quantity(float(n), "equity") == f"{n:,}"


def test_figure_is_the_metrics_cell_of_every_report():
    assert fmt.figure(-0.12345, "pct") == "-12.35%" and fmt.figure(0.5, "pct") == "50.00%"
    assert fmt.figure(1.234, "ratio") == "1.23" and fmt.figure(2.5, "times") == "2.50x"
    assert fmt.figure(1234.0, "int") == "1,234" and fmt.figure(0.0345, "p") == "0.035"
    assert fmt.figure(12.25, "num") == "12.3"
    for undefined in (None, float("nan"), float("inf")):
        assert fmt.figure(undefined, "ratio") == fmt.NOT_AVAILABLE
    with pytest.raises(ValueError, match="unknown figure kind"):
        fmt.figure(1.0, "percent")


def test_significant_param_value_and_precise_prices():
    assert fmt.significant(0.012345) == "0.0123" and fmt.significant(None) == fmt.MISSING
    assert fmt.param_value(3.14159, 4) == "3.142" and fmt.param_value(20) == "20"
    assert fmt.param_value("etf") == "etf" and fmt.param_value(True) == "True"
    assert fmt.price(101.23456, symbol="", decimals=4, digits=6) == "101.2346"
    assert fmt.price(0.000123456, symbol="", decimals=4, digits=6) == "0.000123456"
    assert fmt.price(0.000123456) == "$0.0001235"  # the defaults are unchanged


def test_shortlist_quotes_the_first_names_and_says_when_there_are_more():
    names = [f"S{i}" for i in range(12)]
    assert fmt.shortlist(names) == "S0, S1, S2, S3, S4, S5, S6, S7, S8, S9 ..."
    assert fmt.shortlist(names[:10]) == "S0, S1, S2, S3, S4, S5, S6, S7, S8, S9"
    assert fmt.shortlist(names, 2) == "S0, S1 ..." and fmt.shortlist([]) == ""
