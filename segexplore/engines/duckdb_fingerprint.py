"""The data fingerprint of a DuckDB base: what an export's manifest records of the data.

Hashing every row (``sum(hash(row))``) of a base over Parquet files reads every byte of
them: 7.6 s for 40M events, ~45 s for 200M, more than the export it documents. A Parquet
file already carries a summary of its content in its footer, so a table that is a view
over Parquet files is fingerprinted from the files' identities and footers (milliseconds):
their absolute paths, sizes and modification times, and from ``parquet_file_metadata`` /
``parquet_metadata`` the row counts, the writer, and per row group and column the
statistics (min, max, nulls), encodings, page offsets and compressed sizes. Rewriting a
file changes its modification time, even when its size, row counts and statistics stay.
What DuckDB holds itself (CSV contacts copied in, the scores of ``with_contact_columns``,
cleaned tables, the small ``contact_files`` table) has no footer, and is hashed row by row
as before (small, or in DuckDB already).

A view is followed through its definition (``duckdb_views()``, parsed by DuckDB's
``json_serialize_sql``): each table it names is fingerprinted in turn (a table by its
rows, a view the same way, recursively) and each ``read_parquet`` by its files; the parse
tree, with those names and files replaced by their fingerprints, is hashed, so that a
view's own filter or join counts, while its name (``contacts_3``, numbered per session)
does not. A view over anything else (``read_csv``, a function) is hashed by its rows.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import re
from collections.abc import Sequence
from typing import Any

from segexplore.errors import ParameterError

__all__ = ["FOOTERS", "ROWS", "fingerprint_duckdb"]

#: The per-table ``method`` of a view reading Parquet files, fingerprinted from their
#: footers (the tables it joins, such as ``contact_files``, by their rows).
FOOTERS = "parquet footers"
#: The per-table ``method`` of a table hashed row by row in DuckDB.
ROWS = "rows"

METHOD = ("DuckDB, per table: views over Parquet files from the files' absolute paths, "
          "sizes and modification times and their footers (parquet_file_metadata: rows, "
          "row groups, writer; parquet_metadata: per row group and column the rows, "
          "statistics, encodings, offsets and compressed sizes) and the view's parsed "
          "definition; tables held in DuckDB, and views over other sources, by count(*) "
          "and sum(hash(row)); column names and kinds; through sha256")

#: The footer fields hashed, of those this DuckDB's ``parquet_metadata`` gives.
_FOOTER_COLUMNS = (
    "row_group_id", "row_group_num_rows", "row_group_num_columns", "row_group_bytes",
    "row_group_compressed_bytes", "column_id", "file_offset", "num_values", "path_in_schema",
    "type", "stats_min", "stats_max", "stats_null_count", "stats_distinct_count",
    "stats_min_value", "stats_max_value", "stats_nan_count", "compression", "encodings",
    "index_page_offset", "dictionary_page_offset", "data_page_offset",
    "total_compressed_size", "total_uncompressed_size", "column_index_offset",
    "column_index_length", "offset_index_offset", "offset_index_length")
_FILE_COLUMNS = ("created_by", "num_rows", "num_row_groups", "format_version",
                 "file_size_bytes", "footer_size")

_CREATE_VIEW = re.compile(
    r'^\s*CREATE\s+(?:OR\s+REPLACE\s+)?(?:TEMP(?:ORARY)?\s+)?VIEW\s+'
    r'(?:"(?:[^"]|"")*"|[^\s(]+)(?:\s*\((?:[^)]*)\))?\s+AS\s+', re.IGNORECASE | re.DOTALL)
_PARQUET_FUNCTIONS = {"read_parquet", "parquet_scan"}
_LOCATIONS = {"query_location", "query_location_length"}


def _sha256(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


def _identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class _Fingerprinter:
    """The fingerprints of the relations of one connection, each computed once per call."""

    def __init__(self, connection: Any, rows: bool) -> None:
        self.connection = connection
        self.rows = rows
        self.methods: dict[str, str] = {}
        self._digests: dict[str, str] = {}
        self._files: dict[str, Any] = {}
        #: Why the views being resolved cannot be read from their definitions (a source
        #: other than tables and Parquet files): those are hashed by their rows.
        self._blocked: list[str] = []
        listed = connection.execute(
            "SELECT view_name, sql FROM duckdb_views() WHERE NOT internal "
            "ORDER BY temporary").fetchall()  # a temporary view shadows: read last, kept
        self.views = {name: sql for name, sql in listed}
        self.tables = {name for (name,) in connection.execute(
            "SELECT table_name FROM duckdb_tables()").fetchall()}

    def relation(self, name: str, trail: Sequence[str] = ()) -> str:
        """The digest of the table or view ``name``; ``methods[name]`` says how."""
        held = self._digests.get(name)
        if held is not None:
            return held
        digest = None
        # (A view in its own trail cannot be; its rows are then the safe answer.)
        if name in self.views and not self.rows and name not in trail:
            mark = len(self._blocked)
            digest, footers = self._view(name, [*trail, name])
            if len(self._blocked) > mark:  # this view only: its rows, the others as they are
                del self._blocked[mark:]
                digest = None
            else:
                self.methods[name] = FOOTERS if footers else ROWS
        if digest is None:
            digest = self._rows(name)
            self.methods[name] = ROWS
        self._digests[name] = digest
        return digest

    def _rows(self, name: str) -> str:
        """Rows, and an order-insensitive hash of every row, in DuckDB."""
        rows, hashed = self.connection.execute(
            f"SELECT count(*), CAST(coalesce(sum(hash(t)), 0) AS VARCHAR) FROM "
            f"{_identifier(name)} AS t").fetchall()[0]
        return _sha256(["rows", int(rows), hashed])

    def _view(self, name: str, trail: list[str]) -> tuple[str | None, bool]:
        """The digest of a view's resolved definition, and whether it reads Parquet
        (None, and a reason in ``_blocked``, when it cannot be resolved)."""
        match = _CREATE_VIEW.match(self.views[name])
        if match is None:
            self._blocked.append(name)
            return None, False
        select = self.views[name][match.end():].rstrip().rstrip(";")
        try:
            parsed = json.loads(self.connection.execute(
                "SELECT json_serialize_sql(?)", [select]).fetchall()[0][0])
        except Exception:  # no json extension: the rows still say it
            parsed = {"error": True}
        if parsed.get("error"):
            self._blocked.append(name)
            return None, False
        found: list[bool] = []
        tree = self._resolve(parsed["statements"], trail, found)
        return _sha256(["view", tree]), any(found)

    def _resolve(self, node: Any, trail: list[str], found: list[bool]) -> Any:
        """The parse tree with the tables it names and the files it reads replaced by
        their fingerprints, and the text positions (which vary with names) left out."""
        if isinstance(node, list):
            return [self._resolve(item, trail, found) for item in node]
        if not isinstance(node, dict):
            return node
        kind = node.get("type")
        if kind == "BASE_TABLE":
            name = node.get("table_name", "")
            if name in self.views or name in self.tables:
                inner = self.relation(name, trail)
                found.append(self.methods.get(name) == FOOTERS)
                return {"relation": inner, "alias": node.get("alias", "")}
            return {k: v for k, v in node.items() if k not in _LOCATIONS}  # a CTE's name
        if kind == "TABLE_FUNCTION":
            function = node.get("function") or {}
            arguments = function.get("arguments") or []
            files = (self._paths(arguments[0]) if arguments and function.get(
                "function_name", "").lower() in _PARQUET_FUNCTIONS else None)
            if files is None:  # read_csv, another function: not known from the text
                self._blocked.append(function.get("function_name", ""))
                return None
            found.append(True)
            return {"parquet": self._parquet(files), "alias": node.get("alias", ""),
                    "options": self._resolve(arguments[1:], trail, found)}
        return {k: self._resolve(v, trail, found) for k, v in node.items()
                if k not in _LOCATIONS}

    @staticmethod
    def _paths(argument: Any) -> list[str] | None:
        """The files a ``read_parquet`` argument names (string constants; globs expanded
        as DuckDB does, in name order); None when the text does not tell them."""
        texts: list[str] = []
        unknown: list[Any] = []

        def walk(node: Any) -> None:
            if isinstance(node, list):
                for item in node:
                    walk(item)
            elif isinstance(node, dict):
                literal = node.get("literal")
                if node.get("class") == "CONSTANT" and isinstance(literal, dict):
                    if literal.get("kind") != "STRING":
                        unknown.append(literal)
                    texts.append(literal.get("text", ""))
                elif node.get("class") in ("COLUMN_REF", "PARAMETER", "SUBQUERY"):
                    unknown.append(node)  # not known from the text
                for value in node.values():
                    walk(value)

        walk(argument)
        if unknown or any("://" in text for text in texts):  # remote: no stat to read
            return None
        files: list[str] = []
        for text in texts:
            expanded = sorted(glob.glob(text, recursive=True)) if any(
                ch in text for ch in "*?[") else [text]
            files.extend(os.path.abspath(f) for f in expanded)
        return files or None

    def _parquet(self, files: list[str]) -> list[Any]:
        """Each file's identity and footer (each file read once per call)."""
        wanted = [f for f in dict.fromkeys(files) if f not in self._files]
        if wanted:
            self._read_footers(wanted)
        return [self._files[f] for f in files]

    def _read_footers(self, files: list[str]) -> None:
        connection = self.connection
        footer = set(connection.execute(
            "SELECT * FROM parquet_metadata(?) LIMIT 0", [files[:1]]).fetchnumpy())
        per_file = set(connection.execute(
            "SELECT * FROM parquet_file_metadata(?) LIMIT 0", [files[:1]]).fetchnumpy())
        groups = [c for c in _FOOTER_COLUMNS if c in footer]
        about = [c for c in _FILE_COLUMNS if c in per_file]
        listed = ", ".join(f"CAST({_identifier(c)} AS VARCHAR)" for c in groups)
        chunks: dict[str, list[Any]] = {f: [] for f in files}
        # Ordered so that the same footers always hash alike.
        for name, *values in connection.execute(
                f"SELECT file_name, {listed} FROM parquet_metadata(?) "
                f"ORDER BY file_name, row_group_id, column_id", [files]).fetchall():
            chunks.setdefault(name, []).append(values)
        described = {name: values for name, *values in connection.execute(
            "SELECT file_name, " + ", ".join(f"CAST({_identifier(c)} AS VARCHAR)"
                                            for c in about)
            + " FROM parquet_file_metadata(?)", [files]).fetchall()}
        for path in files:
            status = os.stat(path)
            self._files[path] = _sha256({
                "path": path, "bytes": status.st_size, "modified_ns": status.st_mtime_ns,
                "file": dict(zip(about, described.get(path, []), strict=False)),
                "columns": groups, "row_groups": chunks.get(path, [])})


def fingerprint_duckdb(base: Any, *, rows: bool = False) -> dict[str, Any]:
    """The data fingerprint of a :class:`~segexplore.engines.duckdb.DuckDBBase`.

    Parameters
    ----------
    base : DuckDBBase
    rows : bool, default False
        Hash every row of every table in DuckDB (``count(*)`` and ``sum(hash(row))``),
        views over Parquet files too: exact whatever was done to the files, and slow
        (reads them all). Default: Parquet files by their identities and footers.

    Returns
    -------
    dict
        ``method`` (how, in words), then per table (``contacts``, ``events``, ``orders``)
        ``rows``, ``columns``, ``method`` (``"parquet footers"`` or ``"rows"``) and
        ``sha256``; ``sha256`` combines the three and ``as_of``.

    Raises
    ------
    ParameterError
        ``rows`` is not True or False.

    Examples
    --------
    >>> import segexplore as se
    >>> folder = se.sample_path()
    >>> big = se.read_base(*(folder / f"{t}.parquet" for t in ("contacts", "events")),
    ...                    engine="duckdb")
    >>> found = fingerprint_duckdb(big)
    >>> found["events"]["method"], found["contacts"]["rows"] == big.contact_count
    ('parquet footers', True)
    >>> found["sha256"] == fingerprint_duckdb(big.at(big.as_of))["sha256"]
    True
    """
    if not isinstance(rows, bool):
        raise ParameterError(f"rows must be True or False, not {rows!r}")
    store = base._store
    connection = store.connection
    hasher = _Fingerprinter(connection, rows)
    out: dict[str, Any] = {"method": METHOD if not rows else
                           "DuckDB: count(*) and sum(hash(row)) per table, column names "
                           "and kinds, through sha256"}
    combined = hashlib.sha256()
    for name in ("contacts", "events", "orders"):
        table = store.contacts_table if name == "contacts" else store.activity_tables[name]
        content = hasher.relation(table)
        (count,) = connection.execute(
            f"SELECT count(*) FROM {_identifier(table)}").fetchall()[0]  # footers: fast
        kinds = list(store.kinds[name].items())
        digest = _sha256([kinds, int(count), content])
        out[name] = {"rows": int(count), "columns": len(kinds),
                     "method": hasher.methods[table], "sha256": digest}
        combined.update(digest.encode())
    combined.update(str(base.as_of).encode())
    out["sha256"] = combined.hexdigest()
    return out
