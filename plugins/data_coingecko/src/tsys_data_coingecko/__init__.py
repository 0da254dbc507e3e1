"""CoinGecko for tsys: the crypto market-cap ranking, without stablecoins and wrapped tokens.

Registers the ``coingecko`` data source. Kept import-light: the source (pandas, requests) is
imported only when the registry asks for it.
"""

from tsys.api import hookimpl

__version__ = "0.1.0"


@hookimpl
def register_data_sources(register):
    from tsys_data_coingecko.source import CoinGeckoSource

    register(CoinGeckoSource)
