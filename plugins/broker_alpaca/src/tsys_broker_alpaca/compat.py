"""The alpaca-py internals this plugin relies on, set only where they exist.

alpaca-py has no public switch for its 429/504 retry loop (``_retry``, ``_retry_wait``) nor for
an HTTP timeout (its ``requests`` session is ``_session``). These are private attributes: the
plugin pins alpaca-py to the minor version whose internals its tests exercise
(``pyproject.toml``: ``alpaca-py>=0.44,<0.45``). Setting an attribute that a later version
renamed would silently do nothing (Python just adds a new attribute), so :func:`set_private`
refuses instead, naming the attribute and the tested version.
"""

from __future__ import annotations

from typing import Any

from tsys.api import ConfigError

#: The alpaca-py minor version whose private attributes the tests exercise.
TESTED_MINOR = "0.44"


def installed_version() -> str:
    from importlib.metadata import version

    return version("alpaca-py")


def require_private(client: Any, name: str) -> Any:
    """``client.<name>``, or a :class:`ConfigError` when this alpaca-py has no such attribute."""
    if name not in vars(client):
        raise ConfigError(
            f"alpaca-py {installed_version()} has no {type(client).__name__}.{name}, which tsys "
            f"sets (tested with alpaca-py {TESTED_MINOR}.x)",
            hint=f'install the tested version: uv pip install "alpaca-py>={TESTED_MINOR},<0.45"',
        )
    return getattr(client, name)


def set_private(client: Any, name: str, value: Any) -> None:
    """Set ``client.<name>`` after checking that alpaca-py really has that attribute."""
    require_private(client, name)
    setattr(client, name, value)
