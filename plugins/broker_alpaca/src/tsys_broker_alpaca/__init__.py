"""tsys-broker-alpaca: Alpaca paper (or, explicitly, live) trading and Alpaca market data.

Registers the broker ``alpaca`` and the data source ``alpaca``. Imports of ``alpaca-py`` happen
inside the hooks' classes' modules, which are only imported when a hook runs, so ``tsys --help``
stays fast.
"""

from tsys.api import hookimpl

__version__ = "0.1.0"


@hookimpl
def register_brokers(register):
    from tsys_broker_alpaca.broker import AlpacaBroker

    register(AlpacaBroker)


@hookimpl
def register_data_sources(register):
    from tsys_broker_alpaca.data import AlpacaDataSource

    register(AlpacaDataSource)
