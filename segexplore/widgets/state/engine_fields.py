"""Which object answers the explorer's questions about a base held in an engine: a
:class:`~segexplore.widgets.state.duckdb_fields.DuckDBFields` for a DuckDB base, a
:class:`~segexplore.widgets.state.server_fields.ServerFields` for a connected one (one
per base, its answers kept while it lives).

Examples
--------
>>> import segexplore as se
>>> big = se.read_base(se.sample_path() / "contacts.parquet", engine="duckdb")
>>> is_duckdb(big), is_duckdb(se.load_sample())
(True, False)
>>> fields_of(big) is fields_of(big)
True
"""

from __future__ import annotations

import weakref
from typing import Any

from segexplore.engines.server import ServerBase
from segexplore.widgets.state.duckdb_fields import DuckDBFields
from segexplore.widgets.state.server_fields import ServerFields

__all__ = ["fields_of", "is_duckdb"]

_FIELDS: weakref.WeakKeyDictionary[Any, DuckDBFields] = weakref.WeakKeyDictionary()


def is_duckdb(base: Any) -> bool:
    """True for a base whose tables stay in an engine: DuckDB (``read_base(...,
    engine="duckdb")``) or a connected one (``se.connect``: PostgreSQL, Spark, a DuckDB
    connection); False for a pandas base."""
    return getattr(base, "engine", "pandas") != "pandas"


def fields_of(base: Any) -> DuckDBFields:
    """The one :class:`DuckDBFields` of ``base`` (a
    :class:`~segexplore.widgets.state.server_fields.ServerFields` for a connected base);
    its answers are kept while it lives."""
    fields = _FIELDS.get(base)
    if fields is None:
        if isinstance(base, ServerBase):
            fields = _FIELDS[base] = ServerFields(base)
        else:
            fields = _FIELDS[base] = DuckDBFields(base)
    return fields
