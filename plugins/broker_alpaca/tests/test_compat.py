"""Issue 14.6: alpaca-py is pinned to the minor version whose private attributes are tested."""

import tomllib
from pathlib import Path

import pytest
from fake_alpaca import KEY, SECRET
from packaging.specifiers import SpecifierSet
from tsys_broker_alpaca import compat

from tsys.errors import ConfigError

PLUGIN = Path(__file__).resolve().parents[1]


def _pin() -> SpecifierSet:
    deps = tomllib.loads((PLUGIN / "pyproject.toml").read_text())["project"]["dependencies"]
    (spec,) = [d for d in deps if d.startswith("alpaca-py")]
    return SpecifierSet(spec.removeprefix("alpaca-py"))


def test_alpaca_py_pin_is_the_tested_minor_version():
    pin = _pin()
    assert compat.installed_version() in pin
    assert f"{compat.TESTED_MINOR}.0" in pin and f"{compat.TESTED_MINOR}.99" in pin
    major, minor = (int(x) for x in compat.TESTED_MINOR.split("."))
    assert f"{major}.{minor + 1}.0" not in pin, "the pin must stop before the next minor version"
    assert f"{major}.{minor - 1}.99" not in pin


def test_alpaca_py_pin_uv_lock_agrees():
    lock = tomllib.loads((PLUGIN.parents[1] / "uv.lock").read_text())
    pkgs = {p["name"]: p for p in lock["package"]}
    assert pkgs["alpaca-py"]["version"] in _pin()
    (req,) = [
        r
        for r in pkgs["tsys-broker-alpaca"]["metadata"]["requires-dist"]
        if r["name"] == "alpaca-py"
    ]
    assert SpecifierSet(req["specifier"]) == _pin()


@pytest.mark.parametrize(
    ("factory", "names"),
    [
        ("trading", ("_retry", "_retry_wait", "_retry_codes", "_session")),
        ("stock", ("_retry_wait", "_session")),
        ("crypto", ("_retry_wait", "_session")),
    ],
)
def test_alpaca_py_private_attributes_tsys_sets_exist(factory, names):
    from alpaca.data.historical.crypto import CryptoHistoricalDataClient
    from alpaca.data.historical.stock import StockHistoricalDataClient
    from alpaca.trading.client import TradingClient

    client = {
        "trading": lambda: TradingClient(KEY, SECRET, url_override="http://127.0.0.1:9"),
        "stock": lambda: StockHistoricalDataClient(KEY, SECRET, url_override="http://127.0.0.1:9"),
        "crypto": lambda: CryptoHistoricalDataClient(url_override="http://127.0.0.1:9"),
    }[factory]()
    for name in names:
        compat.require_private(client, name)
    if factory == "trading":  # the codes alpaca-py re-sends blindly: why _retry is set to 0
        assert sorted(client._retry_codes) == [429, 504]
    assert hasattr(compat.require_private(client, "_session"), "request")


def test_alpaca_py_private_attribute_renamed_is_refused_not_silently_added():
    class Renamed:
        def __init__(self):
            self._retries = 3

    c = Renamed()
    with pytest.raises(ConfigError, match=r"no Renamed\._retry, which tsys sets") as ei:
        compat.set_private(c, "_retry", 0)
    assert "0.44" in ei.value.hint
    assert not hasattr(c, "_retry")
    compat.set_private(c, "_retries", 0)
    assert c._retries == 0
