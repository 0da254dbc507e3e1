"""Built-in notifiers, registered through the plugin manager like any plugin."""

from tsys.hookspecs import hookimpl


@hookimpl
def register_notifiers(register):
    from tsys.notifiers.file import FileNotifier

    register(FileNotifier)
