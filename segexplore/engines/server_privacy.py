"""One person's rows in a connected base (PostgreSQL, Spark, a DuckDB connection), for
erasure and subject access.

:func:`segexplore.delivery.privacy.forget` and :func:`~segexplore.delivery.privacy.
subject_access` decide who the person is and what the report says, for every engine; this
module finds, counts and reads their rows in the engine and, for an erasure, replaces the
base's tables by views that leave them out (:class:`ServerPersonRows`).

The user's tables are read only to segexplore (see :func:`segexplore.engines.server.
connect`): an erasure cannot delete the person there. What it can, it does: every query
of this base from then on (counts, features, profiles, exports, dashboards) reads
temporary views of the session without the person's contact and activity rows, the
features and counts computed before are dropped, and the erasure ledger keeps their
salted hashes, so no export of this base can hold them. The report names the tables of
the source that still hold them (``ErasureReport.kept_in_source``): the deletion there is
the data team's, and a base connected again afterwards reads the source as it is.

The person's ids reach the engine in a small uploaded table, not in the views' text.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from segexplore.engines.duckdb import activity_types
from segexplore.engines.server import ServerBase
from segexplore.features.sql import POSITION, as_pandas_features
from segexplore.io.clean.contacts import normalise_emails

__all__ = ["ServerPersonRows", "server_candidates"]


def _given(base: ServerBase, values: Iterable[Any], kind: str) -> str:
    """``values`` uploaded as the one column ``value`` (``kind``: ``"text"`` or
    ``"number"``) of a new kept table: what a query compares the person with."""
    frame = pd.DataFrame({"value": pd.Series(list(values), dtype="object")})
    return base._store.backend.upload(frame, {"value": kind})


def _by_id(base: ServerBase, table: str, ids_table: str, kind: str, alias: str = "t") -> str:
    """The condition that a row of ``table`` (as ``alias``) has one of the ids of
    ``ids_table`` (of ``kind``): compared as numbers when both are numbers (``"007"`` is
    the contact 7, as the pandas engine's ``isin`` has it), else as their text stripped."""
    column = f"{alias}.contact_id"
    if kind == "number" and base._store.kinds[table]["contact_id"] == "number":
        return f"{column} IN (SELECT value FROM {ids_table})"
    text = base._store.backend.text_type
    return (f"trim(CAST({column} AS {text})) IN "
            f"(SELECT trim(CAST(value AS {text})) FROM {ids_table})")


def server_candidates(base: ServerBase, email: str | None,
                      id_texts: Iterable[str]) -> pd.DataFrame:
    """The contacts whose email (normalised, as loading normalises it) is ``email`` or
    whose id, as text, is one of ``id_texts``: the few rows the person can be, for the
    pandas engine's rules to pick from; ``email`` in them normalised."""
    store = base._store
    backend = store.backend
    texts = sorted({str(t).strip() for t in id_texts})
    numeric = store.kinds["contacts"]["contact_id"] == "number"
    numbers = [int(t) for t in texts if t.lstrip("-").isdigit()]
    uploaded = []
    try:
        ids_table = _given(base, numbers if numeric else texts,
                           "number" if numeric else "text")
        uploaded.append(ids_table)
        conditions = [_by_id(base, "contacts", ids_table, "number" if numeric else "text",
                             alias="c")]
        if email and "email" in store.kinds["contacts"]:
            email_table = _given(base, [email], "text")
            uploaded.append(email_table)
            conditions.append(f"lower(trim(c.email)) IN (SELECT value FROM {email_table})")
        found = backend.frame(f"SELECT c.* FROM {store.tables['contacts']} AS c WHERE "
                              f"{' OR '.join(conditions)} ORDER BY c.contact_id")
    finally:
        for table in uploaded:
            backend.release(table)
    if "email" in found.columns:
        found["email"] = normalise_emails(found["email"].astype("object"))
    return found


class ServerPersonRows:
    """One person's rows in a connected base, by contact id: counted, read, or left out
    of the views that replace the base's tables (:meth:`erase`).

    Parameters
    ----------
    base : ServerBase
    ids : sequence
        Their contact ids, as the engine gave them.

    Examples
    --------
    >>> import duckdb, segexplore as se
    >>> sample = se.load_sample()
    >>> db = duckdb.connect()
    >>> for name in ("contacts", "events", "orders"):
    ...     db.register(name, getattr(sample, name))
    <...>
    >>> base = se.connect(db, as_of=sample.as_of)
    >>> email = sample.contacts["email"].iloc[0]
    >>> report = se.forget(base, email)
    >>> report.removed["contacts"], base.contact_count, report.kept_in_source[0]
    (1, 19999, '"contacts"')
    >>> db.execute("SELECT count(*) FROM contacts").fetchall()  # the source is untouched
    [(20000,)]
    """

    def __init__(self, base: ServerBase, ids: Sequence[Any]) -> None:
        self.base = base
        self.ids = list(ids)
        self.positions = np.zeros(0, dtype=np.int64)  # a server keeps no order of rows
        self._ids_table: str | None = None

    @property
    def tables(self) -> list[str]:
        """The tables the base holds (contacts, events, orders when connected)."""
        return list(self.base._store.tables)

    def size(self, table: str) -> int:
        """Rows of ``table`` in the base."""
        store = self.base._store
        if table == "contacts":
            return int(store.n_contacts)
        (count,), = store.backend.rows(f"SELECT count(*) FROM {store.tables[table]}")
        return int(count)

    def dropped(self, table: str) -> None:
        """No position of the person's rows is known (a connected base has no lineage)."""
        return None

    def count(self, table: str) -> int:
        """The person's rows in ``table``."""
        store = self.base._store
        (count,), = store.backend.rows(
            f"SELECT count(*) FROM {store.tables[table]} AS t WHERE {self._has_id(table)}")
        return int(count)

    def contacts(self) -> pd.DataFrame:
        """Their contact rows, in ``contact_id`` order."""
        store = self.base._store
        return store.backend.frame(f"SELECT * FROM {store.tables['contacts']} AS t WHERE "
                                   f"{self._has_id('contacts')} ORDER BY t.contact_id")

    def features(self) -> pd.DataFrame:
        """Their behaviour features as of the base's date, as the pandas engine types them,
        in the order of :meth:`contacts`."""
        raw = self.base._store.backend.frame(
            f"SELECT * FROM {self.base.feature_table} AS t WHERE {self._has_id('contacts')} "
            f"ORDER BY t.{POSITION}")
        return as_pandas_features(raw)

    def activity(self, table: str, id_texts: Iterable[str]) -> pd.DataFrame | None:
        """The rows of ``events`` or ``orders`` whose contact id, as text, is one of
        ``id_texts``; None for a table the base does not hold."""
        store = self.base._store
        if table not in store.tables:
            return None
        backend = store.backend
        given = _given(self.base, sorted(set(id_texts)), "text")
        try:
            return backend.frame(f"SELECT * FROM {store.tables[table]} AS t WHERE "
                                 f"{_by_id(self.base, table, given, 'text')}")
        finally:
            backend.release(given)

    def segments_holding(self) -> list[str]:
        """The saved segments the person is a member of (asked of the engine)."""
        found = []
        for name, segment in self.base.segments.items():
            (count,), = self.base._store.backend.rows(
                f"SELECT count(*) FROM ({segment.sql}) AS t WHERE {self._has_id('contacts')}")
            if count:
                found.append(name)
        return found

    def erase(self, erased: Iterable[str], report_rows: Mapping[str, Sequence[Any]]) -> None:
        """Replace the base's tables, for every view of it, by temporary views without the
        person; drop what was computed from the old ones; add their salted hashes
        (``erased``) to the ledger. ``report_rows`` is empty: a connected base keeps no
        cleaning report."""
        store = self.base._store
        backend = store.backend
        replaced = {table: backend.view(f"SELECT * FROM {source} AS t WHERE t.contact_id IS "
                                        f"NULL OR NOT ({self._has_id(table)})")
                    for table, source in store.tables.items()}
        for table in (store.positioned, *store.feature_tables.values()):
            if table is not None:
                backend.release(table)  # they hold the person
        store.positioned = None
        store.feature_tables.clear()
        store.counts.clear()
        store.tables = replaced
        store.n_contacts -= len(self.ids)
        store.event_types, store.purchase_table = activity_types(
            None, replaced["events"], replaced.get("orders"), rows=backend.rows)
        store.erasures._add(erased)

    def _has_id(self, table: str) -> str:
        """The condition that a row ``t`` of ``table`` is the person's (their ids are
        uploaded once, and kept for as long as the views that read them)."""
        kind = self._id_kind
        if self._ids_table is None:
            values = self.ids if kind == "number" else [str(i).strip() for i in self.ids]
            self._ids_table = _given(self.base, values, kind)
        return _by_id(self.base, table, self._ids_table, kind)

    @property
    def _id_kind(self) -> str:
        return "number" if self.base._store.kinds["contacts"]["contact_id"] == "number" \
            else "text"
