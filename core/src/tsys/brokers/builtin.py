"""Built-in brokers, registered through the plugin manager like any plugin."""

from tsys.hookspecs import hookimpl


@hookimpl
def register_brokers(register):
    from tsys.brokers.local import LocalPaperBroker

    register(LocalPaperBroker)
