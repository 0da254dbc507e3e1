"""Market data: the Bars panel, the data-source interface, built-in sources, validation.

Names are resolved lazily so that importing a submodule (the built-in plugin registration, for
one) does not pull pandas into ``tsys --help``.
"""

from typing import Any

__all__ = [
    "FIELDS",
    "Bars",
    "BarsRequest",
    "DataHub",
    "DataSource",
    "Fundamentals",
    "SourceContext",
    "VolumeUnit",
    "open_hub",
    "open_source",
]

_LAZY = {
    "FIELDS": "tsys.data.bars",
    "Bars": "tsys.data.bars",
    "BarsRequest": "tsys.data.source",
    "DataHub": "tsys.data.source",
    "DataSource": "tsys.data.source",
    "Fundamentals": "tsys.data.source",
    "SourceContext": "tsys.data.source",
    "VolumeUnit": "tsys.data.bars",
    "open_source": "tsys.data.sources",
    "open_hub": "tsys.data.sources",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(name)
