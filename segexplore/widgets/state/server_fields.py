"""What the explorer's widgets ask of a connected base (PostgreSQL, Spark, a DuckDB
connection: :func:`segexplore.connect`), answered by small queries in that engine.

:class:`ServerFields` asks the questions of
:class:`~segexplore.widgets.state.duckdb_fields.DuckDBFields` (fields, value lists, ranges,
event values, hints, sizes, a segment's counts per attribute) with the engine's spelling of
the few expressions that differ (tags of a multi-valued column, NaN, dates as numbers) and
the members as ``contact_id IN (the rule's query)``; only counts reach Python.

Examples
--------
>>> import duckdb, segexplore as se
>>> sample = se.load_sample()
>>> db = duckdb.connect()
>>> for name in ("contacts", "events", "orders"):
...     db.register(name, getattr(sample, name))
<...>
>>> base = se.connect(db, as_of=sample.as_of)
>>> fields = ServerFields(base)
>>> dict(fields.value_choices("device"))["iOS"] == sample.count('device = "iOS"')
True
>>> base.close()
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from segexplore.engines.duckdb_counts import ColumnInfo
from segexplore.engines.server_counts import ServerCounts
from segexplore.features.sql import POSITION
from segexplore.widgets.state.duckdb_fields import DuckDBFields

if TYPE_CHECKING:
    from segexplore.engines.server import ServerBase
    from segexplore.model.segments import Segment

__all__ = ["ServerFields"]


class _Described(ServerCounts):
    """:class:`ServerCounts` that leaves out the behaviour features until one is asked
    for (the engine's feature query is the slow one). Never entered: no membership."""

    def __init__(self, base: ServerBase) -> None:
        super().__init__(base)
        self.features_wanted = False

    def columns(self, include_features: bool = True) -> dict[str, ColumnInfo]:
        return super().columns(include_features and self.features_wanted)


class ServerFields(DuckDBFields):
    """The explorer's questions about a connected base, each answered by a query (kept).

    Parameters
    ----------
    base : ServerBase
    """

    def __init__(self, base: ServerBase) -> None:
        self.backend = base._store.backend
        super().__init__(base)

    def _describer(self, base: Any) -> Any:
        return _Described(base)

    def _rows(self, sql: str) -> list[tuple[Any, ...]]:
        return self.backend.rows(sql)

    def _numpy(self, sql: str) -> dict[str, Any]:
        frame = self.backend.frame(sql)
        return {name: np.ma.masked_array(frame[name].to_numpy(dtype=object),
                                         mask=frame[name].isna().to_numpy())
                for name in frame.columns}

    def _quote(self, name: str) -> str:
        return self.backend.quote(name)

    def _literal(self, text: str) -> str:
        return self.backend.literal(text)

    def _text(self, expression: str) -> str:
        return f"CAST({expression} AS {self.backend.text_type})"

    def _not_nan(self, column: str) -> str:
        return self.backend.not_nan(column)

    def _tags(self, column: str, separator: str, table: str, known: str) -> str:
        return (f"SELECT trim(tag) AS v FROM (SELECT {self.backend.split_tags(self._text(column), separator)} "
                f"AS tag FROM {table} WHERE {known}) AS tags WHERE trim(tag) <> ''")

    def _event_table(self, event_type: str) -> tuple[str, bool]:
        table = self.base.event_table(event_type)
        return table, table == self.base._store.tables["events"]

    # --- sizes and counts --------------------------------------------------------------
    def members_sql(self, segment: Segment) -> str:
        """The query selecting the members' ``position``."""
        return (f"SELECT p.{POSITION} FROM {self.base._positioned()} AS p "
                f"WHERE p.contact_id IN ({self.base.sql(segment.effective_rule)})")

    def size(self, segment: Segment | None) -> int:
        """Members of ``segment`` (None: the whole base), counted in the engine."""
        if segment is None:
            return self.n_contacts
        return self.base.count(segment.effective_rule)

    def _members_values(self, segment: Segment, table: str,
                        expressions: list[str]) -> str | None:
        return None  # the members are read by position, in the engine's own join
