"""Market data: the Bars panel, the data-source interface, built-in sources, validation."""

from tsys.data.bars import FIELDS, Bars
from tsys.data.source import DataHub, DataSource, Fundamentals, SourceContext

__all__ = ["FIELDS", "Bars", "DataHub", "DataSource", "Fundamentals", "SourceContext"]
