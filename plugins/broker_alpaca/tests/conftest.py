import datetime as dt
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from fake_alpaca import KEY, SECRET, FakeAlpaca

NOW = dt.datetime(2024, 5, 1, 20, 0, tzinfo=dt.UTC)


@pytest.fixture
def fake():
    f = FakeAlpaca(hang_seconds=0.6).start()
    f.prices.update({"AAPL": 190.0, "MSFT": 400.0, "BTC/USD": 60_000.0, "ETH/USD": 3_000.0})
    yield f
    f.stop()


@pytest.fixture
def make_broker(fake):
    from tsys_broker_alpaca.broker import AlpacaBroker

    def make(**kw):
        opts = {
            "api_key": KEY,
            "secret_key": SECRET,
            "base_url": fake.url,
            "timeout": 0.3,
            "attempts": 4,
            "backoff": 0.0,
            "sleep": lambda s: None,
        }
        opts.update(kw)
        return AlpacaBroker(**opts)

    return make
