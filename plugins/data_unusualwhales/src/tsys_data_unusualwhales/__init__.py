"""Unusual Whales for tsys: options-flow alerts kept as a recorded history, and share float.

Registers the ``unusualwhales`` data source (``options_flow`` from the recorded alerts,
``fundamentals`` with the share float) and the ``tsys options`` commands (``sync``, ``import``,
``status``). Kept import-light: requests, pandas and the store load only when used.
"""

from tsys.api import hookimpl

__version__ = "0.1.0"


@hookimpl
def register_data_sources(register):
    from tsys_data_unusualwhales.source import UnusualWhalesSource

    register(UnusualWhalesSource)


@hookimpl
def register_commands(cli):
    from tsys_data_unusualwhales.cli import options

    cli.add_command(options)
