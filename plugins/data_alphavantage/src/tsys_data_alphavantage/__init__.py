"""Alpha Vantage for tsys: news sentiment, earnings calendar, company overview (float).

Registers the ``alphavantage`` data source. Kept import-light: the source (pandas, requests) is
imported only when the registry asks for it.
"""

from tsys.api import hookimpl

__version__ = "0.1.0"


@hookimpl
def register_data_sources(register):
    from tsys_data_alphavantage.source import AlphaVantageSource

    register(AlphaVantageSource)
