"""What the DuckDB cleaning of each table needs from the connection: the shared vocabulary
tables, text rules in SQL with their pandas side tables, the issue log and reject tables
(:class:`Sql`); used by :mod:`segexplore.engines.duckdb_clean`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from segexplore.io.clean.activity import EVENT_ALIASES
from segexplore.io.clean.contacts import (
    CONSENT_ALIASES,
    COUNTRY_ALIASES,
    POSTAL_DIGITS,
    email_problems,
    normalise_emails,
    text_key,
)
from segexplore.model.report import ISSUE_COLUMNS

__all__ = ["Sql", "TextOp", "quoted", "literal", "ASCII_SPACE", "ASCII_SPACE_CLASS",
           "STRIP", "EMAIL", "KEY", "missing"]

#: The ASCII characters Python's ``str.strip()`` and ``re``'s ``\s`` take for whitespace
#: (and pandas' string methods with them): ``\t \n \v \f \r``, ``\x1c``-``\x1f``, space.
ASCII_SPACE = "".join(ch for ch in map(chr, range(128)) if ch.isspace())
#: The same as the inside of an RE2 class: RE2's own ``\s`` lacks ``\v`` and ``\x1c-\x1f``.
ASCII_SPACE_CLASS = "".join(f"\\x{ord(ch):02x}" for ch in ASCII_SPACE)

#: Vocabulary tables, loaded from the pandas cleaning's own dictionaries.
_VOCABULARIES = {
    "se_consent_aliases": ("alias", "status", CONSENT_ALIASES),
    "se_country_aliases": ("alias", "code", COUNTRY_ALIASES),
    "se_postal_digits": ("country", "digits", POSTAL_DIGITS),
    "se_event_aliases": ("alias", "type", EVENT_ALIASES),
}


def missing(expr: str, kind: str) -> str:
    """SQL: the value is missing as pandas sees it (NaN too, in floating columns)."""
    if kind in ("DOUBLE", "FLOAT"):
        return f"({expr} IS NULL OR isnan({expr}))"
    return f"({expr} IS NULL)"


def quoted(name: object) -> str:
    """A column or table name as a SQL identifier (headers may hold any character)."""
    return '"' + str(name).replace('"', '""') + '"'


def literal(text: str) -> str:
    """A SQL string literal of a constant of the code (never of data: data goes in tables)."""
    return "'" + text.replace("'", "''") + "'"


@dataclass(frozen=True)
class TextOp:
    """One text rule: SQL for ASCII-only text, the pandas function for any other text.

    ``pandas`` takes the distinct non-ASCII values (a ``str`` Series) and returns a frame
    with ``result`` (and the ``extra`` columns), the pandas cleaning's own answers.
    """

    name: str
    ascii_sql: Callable[[str], str]
    pandas: Callable[[pd.Series], pd.DataFrame]
    extra: tuple[str, ...] = ()


def _email_side(values: pd.Series) -> pd.DataFrame:
    normalised = normalise_emails(values)
    return pd.DataFrame({"result": normalised, "problem": email_problems(normalised)})


#: Ids trimmed (``contact_id`` text).
STRIP = TextOp("strip", lambda v: f"se_strip({v})",
               lambda s: pd.DataFrame({"result": s.astype("string").str.strip()}))
#: Emails as :func:`~segexplore.io.clean.contacts.normalise_emails` makes them (and, for
#: the side table, their problem).
EMAIL = TextOp("email", lambda v: f"nullif(lower(se_strip({v})), '')", _email_side,
               extra=("problem",))
#: Words looked up in a vocabulary (:func:`~segexplore.io.clean.contacts.text_key`).
KEY = TextOp("key", lambda v: f"lower(se_strip({v}))",
             lambda s: pd.DataFrame({"result": text_key(s.astype("string"))}))


class Sql:
    """The connection while cleaning: temporary tables named ``se_*``, dropped at the end."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection
        self._sides: dict[tuple[str, str, str], str | None] = {}
        self._issue_block = 0

    # --- plain access -----------------------------------------------------------------
    def execute(self, query: str, parameters: Sequence[Any] | None = None) -> Any:
        return self.connection.execute(query, parameters or [])

    def scalar(self, query: str) -> Any:
        value = self.execute(query).fetchall()[0][0]
        return int(value) if isinstance(value, (int, bool)) and not isinstance(
            value, bool) else value

    def frame(self, query: str) -> pd.DataFrame:
        return self.execute(query).df()

    def count(self, table: str) -> int:
        return int(self.scalar(f"SELECT count(*) FROM {quoted(table)}"))

    def types(self, table: str) -> dict[str, str]:
        return dict(self.execute(f"SELECT column_name, column_type FROM (DESCRIBE "
                                 f"{quoted(table)})").fetchall())

    def columns(self, table: str) -> list[str]:
        return list(self.types(table))

    def column_type(self, table: str, column: str) -> str:
        return self.types(table)[column]

    def table(self, name: str, frame: pd.DataFrame) -> None:
        """A temporary table of a DataFrame (text as Python strings, missing as NULL)."""
        plain = frame.copy()
        for column in plain.columns:
            if pd.api.types.is_string_dtype(plain[column].dtype) or \
                    plain[column].dtype == object:
                plain[column] = plain[column].astype(object).where(plain[column].notna(), None)
        self.connection.register("se_frame", plain)
        try:
            self.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM se_frame")
        finally:
            self.connection.unregister("se_frame")

    # --- the run ----------------------------------------------------------------------
    def start(self) -> None:
        """The strip macro and the vocabulary tables; an empty issue log."""
        space = " || ".join(f"chr({ord(ch)})" for ch in ASCII_SPACE)
        self.execute(f"CREATE OR REPLACE TEMP MACRO se_strip(s) AS trim(s, {space})")
        for name, (key, value, mapping) in _VOCABULARIES.items():
            self.table(name, pd.DataFrame({key: list(mapping), value: list(mapping.values())}))
        self.execute("CREATE OR REPLACE TEMP TABLE se_issues (se_block INTEGER, "
                     "\"table\" VARCHAR, file VARCHAR, row BIGINT, \"column\" VARCHAR, "
                     "value VARCHAR, problem VARCHAR, action VARCHAR)")

    def finish(self) -> None:
        """The issue log as ``clean_issues``; the temporary tables dropped."""
        self.execute("CREATE OR REPLACE TABLE clean_issues AS SELECT * EXCLUDE (se_block) "
                     "FROM se_issues ORDER BY se_block, row")
        temporary = self.execute("SELECT table_name, table_type FROM "
                                 "information_schema.tables WHERE table_catalog = 'temp' AND "
                                 "table_name LIKE 'se\\_%' ESCAPE '\\'").fetchall()
        for name, kind in temporary:
            self.execute(f"DROP {'VIEW' if kind == 'VIEW' else 'TABLE'} IF EXISTS temp.{name}")
        self.execute("DROP MACRO IF EXISTS se_strip")

    def copy_input(self, source: str, name: str) -> dict[str, str]:
        """The raw rows in a temporary table whose ``rowid`` is their file order."""
        self.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM {quoted(source)}")
        return self.types(name)

    # --- text rules -------------------------------------------------------------------
    def text_expr(self, value_sql: str, op: TextOp, joins: list[str], *, source: str,
                  column: str, output: str = "result", ascii_sql: str | None = None) -> str:
        """SQL of ``op`` on a column: in SQL for ASCII text (and NULL), from a side table
        of the distinct other values cleaned by pandas (joined once, in ``joins``)."""
        text = f"CAST({value_sql} AS VARCHAR)"
        key = (source, column, op.name)
        if key not in self._sides:
            self._sides[key] = self._side_table(source, column, op, len(self._sides))
            if self._sides[key] is not None:
                joins.append(f"LEFT JOIN {self._sides[key]} ON {self._sides[key]}.value = "
                             f"{text}")
        ascii_part = ascii_sql if ascii_sql is not None else op.ascii_sql(text)
        alias = self._sides[key]
        if alias is None:  # every value is ASCII
            return f"({ascii_part})"
        return (f"(CASE WHEN {text} IS NULL OR strlen({text}) = length({text}) THEN "
                f"{ascii_part} ELSE {alias}.{output} END)")

    def _side_table(self, source: str, column: str, op: TextOp, number: int) -> str | None:
        text = f"CAST({quoted(column)} AS VARCHAR)"
        values = self.frame(f"SELECT DISTINCT {text} AS value FROM {source} WHERE {text} IS "
                            f"NOT NULL AND strlen({text}) <> length({text}) ORDER BY 1")["value"]
        if values.empty:
            return None
        values = pd.Series(values.tolist(), dtype="str")
        done = op.pandas(values).reset_index(drop=True)
        name = f"se_side_{number}"
        self.table(name, pd.DataFrame({"value": values, **{c: done[c] for c in done}}))
        return name

    # --- issues and rejects -----------------------------------------------------------
    def issue(self, table: str, file: str, column: str, from_sql: str, where: str,
              row: str, value: str, problem: str, action: str) -> None:
        """Log one problem per row matching ``where``: a block, as the pandas log keeps."""
        self._issue_block += 1
        self.execute(f"INSERT INTO se_issues SELECT {self._issue_block}, ?, ?, {row}, ?, "
                     f"CAST({value} AS VARCHAR), {problem}, ? FROM {from_sql} WHERE {where}",
                     [table, file, column, action])

    def issues_frame(self) -> pd.DataFrame:
        frame = self.frame("SELECT * EXCLUDE (se_block) FROM se_issues ORDER BY se_block, row")
        return frame[ISSUE_COLUMNS]

    def rejects(self, table: str, file: str, raw: str, cleaned: str,
                reasons: Sequence[str], *, grouped: bool) -> None:
        """``rejected_<table>``: the raw values of the rejected rows after ``table, file,
        row, reason``, in file order, first grouped by reason in ``reasons`` order if
        ``grouped`` (the pandas contacts' rejects are blocks by reason)."""
        self.table("se_reasons", pd.DataFrame({"reason": list(reasons),
                                               "se_rank": range(len(reasons))}))
        raw_columns = ", ".join(f"i.{quoted(c)}" for c in self.columns(raw))
        self.execute(
            f"CREATE OR REPLACE TABLE {quoted('rejected_' + table)} AS SELECT ? AS "
            f"\"table\", ? AS file, c.se_row AS row, c.se_reason AS reason"
            f"{', ' if raw_columns else ''}{raw_columns} FROM {raw} AS i JOIN {cleaned} AS c "
            f"ON c.se_pos = i.rowid JOIN se_reasons AS r ON r.reason = c.se_reason "
            f"ORDER BY {'r.se_rank, ' if grouped else ''}c.se_pos", [table, file])

    def reason_counts(self, table: str) -> list[tuple[str, int]]:
        """Rejects per reason, most first, ties in the order the reasons came (as
        ``value_counts`` orders them)."""
        rows = self.execute(f"SELECT reason, count(*), min(rowid) FROM "
                            f"{quoted('rejected_' + table)} GROUP BY reason ORDER BY 2 DESC, "
                            f"3").fetchall()
        return [(reason, int(n)) for reason, n, _ in rows]
