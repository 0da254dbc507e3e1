"""Built-in data sources (demo, csv), registered through the plugin manager like any plugin."""

from tsys.hookspecs import hookimpl


@hookimpl
def register_data_sources(register):
    from tsys.data.csv import CsvSource
    from tsys.data.demo import DemoSource

    register(DemoSource)
    register(CsvSource)
