"""The one exception tree of tsys.

Every error a user can cause or meet is a :class:`TsysError`. The CLI turns them into a clean
message and a distinct exit code in one place (``tsys.cli``); nothing else catches them broadly.
"""

from __future__ import annotations


class TsysError(Exception):
    """Base of every error tsys raises on purpose.

    ``exit_code`` is what the CLI exits with; subclasses set their own so that a scheduler can
    tell a data failure from a configuration error.
    """

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message}\n  hint: {self.hint}"
        return self.message


class ConfigError(TsysError):
    """The configuration (file, environment or command-line options) is invalid."""

    exit_code = 3


class ContractError(TsysError):
    """A payload does not match a data contract (wrong type, missing field, broken invariant)."""

    exit_code = 3


class DataError(TsysError):
    """Market data could not be loaded, or failed validation in strict mode."""

    exit_code = 4


class PluginError(TsysError):
    """A plugin failed to load, registered something invalid, or raised inside a hook."""

    exit_code = 5


class StrategyError(TsysError):
    """A bucket could not compute its signals."""

    exit_code = 6


class StoreError(TsysError):
    """The local database refused an operation (missing row, conflicting write, bad migration)."""

    exit_code = 7


class WriteError(StoreError):
    """A file in the data dir could not be written (a read-only folder, a full disk)."""


class BrokerError(TsysError):
    """A broker call failed."""

    exit_code = 8


class TemporaryBrokerError(BrokerError):
    """A broker call failed in a way that may succeed when retried (timeouts, 429, 5xx)."""


class OrderRejected(BrokerError):
    """The broker permanently refused an order (rejected, insufficient funds, unknown symbol)."""


class NotifierError(TsysError):
    """A notifier could not deliver the newsletter."""

    exit_code = 9


#: Exit codes a scheduler can act on. ``tsys run-daily --help`` prints this table.
EXIT_CODES: dict[int, str] = {
    0: "success",
    1: "unexpected error (a bug: please report it with --debug output)",
    2: "usage error (unknown option or argument, unknown bucket or data source name)",
    3: "configuration error",
    4: "data failure (nothing was produced)",
    5: "plugin failure",
    6: "strategy failure",
    7: "store failure (the database, or a file in the data dir that cannot be written)",
    8: "broker failure",
    9: "notifier failure",
    10: "partial failure (artifacts written, but a bucket or a later stage failed; rerun)",
}

PARTIAL_FAILURE_EXIT = 10
