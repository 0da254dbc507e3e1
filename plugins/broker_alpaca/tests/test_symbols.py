from hypothesis import given
from hypothesis import strategies as st
from tsys_broker_alpaca import symbols as sym


def test_three_spellings_map_both_ways():
    assert sym.to_alpaca("BTC-USD", "crypto") == "BTC/USD"
    assert sym.to_position("BTC-USD", "crypto") == "BTCUSD"
    assert sym.from_alpaca("BTC/USD", "crypto") == "BTC-USD"
    assert sym.from_alpaca("BTCUSD", "crypto") == "BTC-USD"
    assert sym.from_alpaca("USDTUSD", "crypto") == "USDT-USD"
    assert sym.from_alpaca("ETHUSDT", "crypto") == "ETH-USDT"
    assert sym.from_alpaca("ETHBTC", "crypto") == "ETH-BTC"
    assert sym.to_alpaca("BRK.B", "equity") == "BRK.B"
    assert sym.from_alpaca("BRK.B", "equity") == "BRK.B"


@given(
    st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1, max_size=6),
    st.sampled_from(["USD", "USDT", "USDC", "BTC"]),
)
def test_round_trips(base, quote):
    tsys_sym = f"{base}-{quote}"
    assert sym.from_alpaca(sym.to_alpaca(tsys_sym, "crypto"), "crypto") == tsys_sym
    # Longest quote first makes the slash-less position spelling unambiguous for these quotes.
    assert sym.from_alpaca(sym.to_position(tsys_sym, "crypto"), "crypto") == tsys_sym
