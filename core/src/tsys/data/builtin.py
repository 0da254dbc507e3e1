"""Built-in data sources (demo, csv, sp500-members), registered through the plugin manager like any plugin."""

from tsys.hookspecs import hookimpl


@hookimpl
def register_data_sources(register):
    from tsys.data.csv import CsvSource
    from tsys.data.demo import DemoSource
    from tsys.data.membership import MembershipSource

    register(DemoSource)
    register(CsvSource)
    register(MembershipSource)
