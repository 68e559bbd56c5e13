"""One person's rows in a DuckDB base, for erasure and subject access.

:func:`segexplore.delivery.privacy.forget` and :func:`~segexplore.delivery.privacy.
subject_access` decide who the person is and what the report says, for both engines;
this module finds, counts and reads their rows in DuckDB and, for an erasure, replaces
the base's tables by views that leave them out (:class:`DuckDBPersonRows`).

The files are the user's and stay as they are: the new ``contacts`` is a temporary view
over the previous one without the person's rows, its ``position`` renumbered densely
(``0 .. n-1``, in the same order: every mask, ``POSITIONAL JOIN`` and scores table
relies on it), and ``events`` and ``orders`` are temporary views without the person's
contact ids (held in the views' text for as long as the connection lives, never in a
database file). Every view of the base follows, scored ones
(``with_contact_columns``) too; the features, saved segments' tables and the native
index of ids are dropped and made again from the new tables when next needed.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from segexplore.engines.duckdb import DuckDBBase, activity_types
from segexplore.features.sql import POSITION, as_pandas_features, id_literal

__all__ = ["DuckDBPersonRows", "candidate_contacts"]

_ACTIVITY = ("events", "orders")
#: The numbers of the views and tables one erasure makes (``_segexplore_erased_<n>``).
_erasure_numbers = itertools.count(1)


def _read_with(connection: Any, frame: pd.DataFrame, query: str,
               parameters: Sequence[Any] = ()) -> pd.DataFrame:
    """The rows of ``query``, which reads ``frame`` as ``_segexplore_given`` (the person's
    ids, positions or input rows: data goes in a table, not in the query's text)."""
    connection.register("_segexplore_given", frame)
    try:
        return connection.execute(query, list(parameters)).df()
    finally:
        connection.unregister("_segexplore_given")


def _id_type(base: DuckDBBase) -> str:
    """The DuckDB type of the contacts' ``contact_id``."""
    store = base._store
    return store.connection.execute(
        "SELECT data_type FROM information_schema.columns WHERE table_name = ? AND "
        "column_name = 'contact_id'", [store.contacts_table]).fetchall()[0][0]


def candidate_contacts(base: DuckDBBase, email: str | None,
                       id_texts: Iterable[str]) -> pd.DataFrame:
    """The contacts (with ``position``) whose email is ``email`` or whose id, as text, is
    one of ``id_texts``: the few rows the person can be, for the pandas engine's rules to
    pick from (as :func:`~segexplore.delivery.privacy._ids_isin` compares: whole numbers
    as numbers when the ids are, else the ids' text stripped)."""
    store = base._store
    texts = sorted(set(id_texts))
    integer = _id_type(base).upper() in ("TINYINT", "SMALLINT", "INTEGER", "BIGINT",
                                         "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER",
                                         "UBIGINT")
    if integer:  # "007" is the contact 7, as pandas' isin on integers has it
        wanted = pd.DataFrame({"id": pd.Series(
            [int(t) for t in texts if t.lstrip("-").isdigit()], dtype="int64")})
        by_id = "c.contact_id IN (SELECT id FROM _segexplore_given)"
    else:
        wanted = pd.DataFrame({"id": pd.Series(texts, dtype="object")})
        by_id = "trim(CAST(c.contact_id AS VARCHAR)) IN (SELECT id FROM _segexplore_given)"
    by_email = "c.email = ?" if "email" in store.kinds["contacts"] and email else "FALSE"
    return _read_with(store.connection, wanted,
                      f"SELECT * FROM {store.contacts_table} AS c WHERE {by_email} OR "
                      f"{by_id} ORDER BY c.{POSITION}", [email] if by_email != "FALSE" else [])


class DuckDBPersonRows:
    """One person's rows in a DuckDB base: their contact rows (by ``position``) and their
    activity (by contact id); counted, read, or left out of new tables (:meth:`erase`).

    Parameters
    ----------
    base : DuckDBBase
    positions : sequence of int
        The person's contact rows (``position`` in the contacts table).
    ids : sequence
        Their contact ids, as DuckDB gave them (the activity rows to find).
    """

    def __init__(self, base: DuckDBBase, positions: Sequence[int], ids: Sequence[Any]) -> None:
        self.base = base
        self.positions = np.sort(np.asarray(positions, dtype=np.int64))
        self.ids = list(ids)

    @property
    def tables(self) -> list[str]:
        """The tables the base holds (a table not given at opening is not one)."""
        absent = self.base._store.absent_tables
        return [t for t in ("contacts", *_ACTIVITY) if t not in absent]

    def size(self, table: str) -> int:
        """Rows of ``table`` in the base."""
        store = self.base._store
        if table == "contacts":
            return int(store.n_contacts)
        (count,), = store.connection.execute(
            f"SELECT count(*) FROM {store.activity_tables[table]}").fetchall()
        return int(count)

    def dropped(self, table: str) -> np.ndarray | None:
        """The person's rows' positions in ``table`` (None: the activity has none)."""
        return self.positions if table == "contacts" else None

    def count(self, table: str) -> int:
        """The person's rows in ``table``."""
        if table == "contacts":
            return len(self.positions)
        store = self.base._store
        counted = _read_with(store.connection, pd.DataFrame({"contact_id": self.ids}),
                             f"SELECT count(*) AS n FROM {store.activity_tables[table]} WHERE "
                             f"contact_id IN (SELECT contact_id FROM _segexplore_given)")
        return int(counted["n"].iloc[0])

    def contacts(self) -> pd.DataFrame:
        """Their contact rows, every column but ``position``, in the contacts' order."""
        store = self.base._store
        return self._at_positions(store.contacts_table).drop(columns=[POSITION])

    def features(self) -> pd.DataFrame:
        """Their behaviour features as of the base's date, as the pandas engine types them."""
        return as_pandas_features(self._at_positions(self.base._feature_table()))

    def activity(self, table: str, id_texts: Iterable[str]) -> pd.DataFrame | None:
        """The rows of ``events`` or ``orders`` whose contact id, as text, is one of
        ``id_texts`` (the records merged into the person's too), in the table's order;
        None for a table the base does not hold."""
        store = self.base._store
        if table not in self.tables:
            return None
        return _read_with(store.connection, pd.DataFrame(
            {"id": pd.Series(sorted(set(id_texts)), dtype="object")}),
            f"SELECT * FROM {store.activity_tables[table]} WHERE trim(CAST(contact_id AS "
            f"VARCHAR)) IN (SELECT id FROM _segexplore_given)")

    def erase(self, erased: Iterable[str], report_rows: Mapping[str, Sequence[Any]]) -> None:
        """Replace the base's tables, for every view of it, by views without the person.

        Parameters
        ----------
        erased : iterable of str
            The person's salted hashes, for the ledger.
        report_rows : mapping
            Per table, the input rows (``row``) the report no longer holds (the person's
            rejected and merged rows): deleted from the cleaning's tables in the database
            (``rejected_<table>``, ``merged_contacts``, ``clean_issues``) too.
        """
        store = self.base._store
        connection = store.connection
        number = next(_erasure_numbers)
        # The ids written into the views (never a database file: temporary views): a filter
        # keeps the files' order, where a join to a table of ids reorders the rows, and with
        # them the order DuckDB adds amounts in (the pandas engine's sums, to the last bit).
        ids = ", ".join(id_literal(i) for i in self.ids)
        activity = {}
        for table, source in store.activity_tables.items():
            activity[table] = f"_segexplore_{table}_{number}"
            connection.execute(
                f"CREATE TEMP VIEW {activity[table]} AS SELECT * FROM {source} WHERE "
                f"contact_id IS NULL OR contact_id NOT IN ({ids})")
        gone = ", ".join(str(int(p)) for p in self.positions)
        # the rows after each removed one move up by one: positions stay 0 .. n-1
        shift = " + ".join(f"CAST({POSITION} > {int(p)} AS BIGINT)" for p in self.positions)
        _prune_cleaning_tables(connection, report_rows)
        for index, member in enumerate(store.family):
            view = f"_segexplore_contacts_{number}_{index}"
            connection.execute(
                f"CREATE TEMP VIEW {view} AS SELECT * REPLACE ({POSITION} - ({shift}) AS "
                f"{POSITION}) FROM {member.contacts_table} WHERE {POSITION} NOT IN ({gone})")
            member.contacts_table = view
            member.activity_tables = dict(activity)
            member.n_contacts -= len(self.positions)
        _drop_computed(store)
        types, purchase_table = activity_types(connection, activity["events"],
                                               activity["orders"])
        for member in store.family:
            member.event_types, member.purchase_table = types, purchase_table
            member.contact_index = None
            member.version += 1
        store.erasures._add(erased)
        self.base._contact_index()  # the narrow index of ids, for rules on activity alone
        for member in store.family:
            member.contact_index = store.contact_index

    def _at_positions(self, table: str) -> pd.DataFrame:
        return _read_with(self.base._store.connection, pd.DataFrame({POSITION: self.positions}),
                          f"SELECT * FROM {table} WHERE {POSITION} IN (SELECT {POSITION} "
                          f"FROM _segexplore_given) ORDER BY {POSITION}")


def _drop_computed(store: Any) -> None:
    """Drop what was computed from the old tables (features, saved segments' members, the
    index of ids): they hold the person. Shared by every view, so emptied in place."""
    connection = store.connection
    for table in [*store.feature_tables.values(), *store.saved_tables.values()]:
        connection.execute(f'DROP TABLE IF EXISTS "{table}"')
    if store.contact_index is not None:
        connection.execute(f'DROP TABLE IF EXISTS "{store.contact_index}"')
    store.feature_tables.clear()
    store.saved_tables.clear()


def _prune_cleaning_tables(connection: Any, report_rows: Mapping[str, Sequence[Any]]) -> None:
    """Delete the erased input rows from the cleaning's tables, when cleaning made them."""
    present = {name for (name,) in connection.execute(
        "SELECT table_name FROM duckdb_tables() WHERE NOT temporary").fetchall()}
    for table, rows in report_rows.items():
        if not len(rows):
            continue
        connection.register("_segexplore_erased_rows",
                            pd.DataFrame({"row": pd.Series(list(rows), dtype="object")}))
        try:
            wanted = "CAST(row AS VARCHAR) IN (SELECT CAST(row AS VARCHAR) FROM " \
                     "_segexplore_erased_rows)"
            if f"rejected_{table}" in present:
                connection.execute(f'DELETE FROM "rejected_{table}" WHERE {wanted}')
            if table == "contacts" and "merged_contacts" in present:
                connection.execute(f"DELETE FROM merged_contacts WHERE {wanted}")
            if "clean_issues" in present:
                connection.execute(f'DELETE FROM clean_issues WHERE "table" = ? AND {wanted}',
                                   [table])
        finally:
            connection.unregister("_segexplore_erased_rows")
