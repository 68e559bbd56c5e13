"""The rows of an export from a DuckDB base, computed and read in DuckDB, a batch at a time.

An export of a :class:`~segexplore.engines.duckdb.DuckDBBase` never holds its member rows in
pandas: :class:`MemberTable` puts a segment's members in a temporary DuckDB table with, for
each, the waterfall step that removed it (``excluded_at``, NULL while sendable), computed
by one SQL statement that runs the steps the pandas engine runs (a higher-priority
segment's claim, valid email, consent, suppression lists and erasures, de-duplication by
email in the contacts' order); :meth:`MemberTable.facts` gives the counts the waterfall's
numbers and reasons are made of, and :meth:`MemberTable.rows` the exported rows, fetched
as Arrow record batches of a bounded size and handed over as DataFrames, one batch at a
time, to the CSV writer every export uses (:mod:`segexplore.delivery.csv`).

The step names and what the counts mean are the waterfall's
(:mod:`segexplore.delivery.waterfall`); this module only says how DuckDB computes them.
"""

from __future__ import annotations

import contextlib
import itertools
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from segexplore.engines.duckdb import DuckDBBase, duckdb_kind
from segexplore.errors import ExportError, ParameterError
from segexplore.features.sql import POSITION

__all__ = ["Claims", "MemberFacts", "MemberTable", "MemberRows", "STEP_KEYS", "facts_of",
           "facts_query", "member_rows_sql", "steps_query"]

#: The steps a :class:`MemberTable` computes, in the waterfall's order; the caller names
#: each (the names are what ``excluded_at`` holds).
STEP_KEYS = ("priority", "email", "consent", "suppressed", "duplicate")

#: Numbers temporary tables, so that two exports on one connection never share one.
_NUMBERS = itertools.count(1)


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class MemberFacts:
    """What the waterfall is made of: the members, how many each step removed, and the
    values behind the reasons (all counted in DuckDB).

    ``removed`` maps each step name to the members it removed; ``consent`` the consent
    values (``"missing"`` for none) of those the consent step removed, or None when the
    contacts have no consent column; ``suppressed`` the suppression reasons of those the
    suppression step removed for being listed; ``erased`` those it removed only for being
    erased.
    """

    matched: int
    removed: Mapping[str, int]
    consent: Mapping[str, int] | None
    suppressed: Mapping[str, int]
    erased: int
    sendable: int


class Claims:
    """Who the earlier segments of a priority export took, kept in DuckDB: the contact ids
    they matched and the emails they export (see :class:`MemberTable`)."""

    def __init__(self, base: DuckDBBase) -> None:
        store = base._store
        self._connection = store.connection
        number = next(_NUMBERS)
        self.ids, self.emails = f"_claimed_ids_{number}", f"_claimed_emails_{number}"
        self._connection.execute(f"CREATE TEMP TABLE {self.ids} AS SELECT contact_id FROM "
                                 f"{store.contacts_table} WHERE false")
        self._connection.execute(f"CREATE TEMP TABLE {self.emails} (email VARCHAR)")

    def add(self, members: MemberTable) -> None:
        """Claim the contacts of ``members``, and the emails of its sendable ones."""
        self._connection.execute(f"INSERT INTO {self.ids} SELECT contact_id FROM "
                                 f"{members.table}")
        self._connection.execute(f"INSERT INTO {self.emails} SELECT email FROM "
                                 f"{members.table} WHERE excluded_at IS NULL")

    def close(self) -> None:
        """Drop the tables (the claimed contacts are personal data)."""
        with contextlib.suppress(Exception):  # the connection may be closed already
            for table in (self.ids, self.emails):
                self._connection.execute(f"DROP TABLE IF EXISTS {table}")


class MemberTable:
    """A segment's members in a temporary DuckDB table: ``position, contact_id, email,
    consent, suppressed_reason, excluded_at``, in the contacts' order.

    Parameters
    ----------
    base : DuckDBBase
    positions : array of int
        The members' positions (``segment.mask``'s True places), in increasing order.
    steps : {key: step name}
        The name of each step of :data:`STEP_KEYS` (what ``excluded_at`` holds).
    suppressions : DataFrame
        ``email, reason``, one row per email: who is never exported, and why.
    claims : Claims, optional
        What higher-priority segments took (a priority export); the "priority" step is
        run only with them.

    Examples
    --------
    >>> import numpy as np, pandas as pd, segexplore as se
    >>> folder = se.sample_path()
    >>> big = se.read_base(folder / "contacts.parquet", engine="duckdb")
    >>> seg = big.segment('country = "BE"')
    >>> steps = dict(zip(STEP_KEYS, ["priority", "email", "consent", "suppressed", "dup"]))
    >>> none = pd.DataFrame({"email": pd.Series([], dtype="str"),
    ...                      "reason": pd.Series([], dtype="str")})
    >>> members = MemberTable(big, np.flatnonzero(seg.mask), steps=steps, suppressions=none)
    >>> members.facts().matched == seg.size
    True
    >>> members.close()
    """

    #: What a priority export keeps of this kind of member table.
    claims_type = Claims

    def __init__(self, base: DuckDBBase, positions: np.ndarray, *, steps: Mapping[str, str],
                 suppressions: pd.DataFrame, claims: Claims | None = None) -> None:
        missing = [k for k in STEP_KEYS if k not in steps]
        if missing:
            raise ParameterError(f"steps: no name for {missing}; give one for each of "
                                 f"{list(STEP_KEYS)}")
        if claims is not None and not isinstance(claims, Claims):
            raise ExportError("segments of one priority export must all be on one base")
        self._own(base, steps)
        store = base._store
        stage = f"{self.table}_stage"
        registered = [f"{self.table}_positions", f"{self.table}_suppressed",
                      f"{self.table}_erased"]
        try:
            self._connection.register(registered[0], pd.DataFrame(
                {POSITION: np.asarray(positions, dtype=np.int64)}))
            email = 'c."email"' if "email" in self._columns else "CAST(NULL AS VARCHAR)"
            consent = ('CAST(c."consent" AS VARCHAR)' if self._has_consent
                       else "CAST(NULL AS VARCHAR)")
            self._connection.execute(
                f"CREATE TEMP TABLE {stage} AS SELECT p.{POSITION} AS {POSITION}, c.contact_id, "
                f"CAST({email} AS VARCHAR) AS email, {consent} AS consent, "
                f"{self._valid_sql()} AS valid FROM {registered[0]} AS p "
                f"JOIN {store.contacts_table} AS c ON c.{POSITION} = p.{POSITION}")
            listed = suppressions[["email", "reason"]].astype("object")
            if len(listed):
                self._connection.register(registered[1], listed)
                suppressed = registered[1]
            else:  # an empty frame has no column types to give DuckDB
                suppressed = ("(SELECT CAST(NULL AS VARCHAR) AS email, CAST(NULL AS VARCHAR) "
                              "AS reason WHERE false)")
            erased = self._erased_positions(stage, base.erasures)
            self._connection.register(registered[2], pd.DataFrame(
                {POSITION: np.asarray(erased, dtype=np.int64)}))
            self._create(stage, suppressed, registered[2], claims)
        finally:
            with contextlib.suppress(Exception):
                self._connection.execute(f"DROP TABLE IF EXISTS {stage}")
            for name in registered:
                with contextlib.suppress(Exception):
                    self._connection.unregister(name)

    def _own(self, base: DuckDBBase, steps: Mapping[str, str]) -> None:
        """What every member table holds: its base, step names, a table name of its own,
        and the finalizer that drops the table."""
        self.base = base
        self.steps = dict(steps)
        self._connection = base._store.connection
        self._columns = base._store.kinds["contacts"]
        self.table = f"_export_members_{next(_NUMBERS)}"
        self._has_consent = "consent" in self._columns
        self._facts: MemberFacts | None = None
        self._sendable: np.ndarray | None = None
        # Drop the table when the selection is forgotten, if nobody closed it before.
        self._finalizer = weakref.finalize(self, _drop, self._connection, self.table)

    def narrowed(self, keep: np.ndarray, step: str) -> MemberTable:
        """A copy of the table in which, of the sendable members, those ``keep`` says not
        (aligned with :meth:`sendable_positions`) are removed at ``step``: a split's group,
        a plan's holdout. Close it too."""
        kept = self.sendable_positions()[np.asarray(keep, dtype=bool)]
        new = MemberTable.__new__(MemberTable)
        new._own(self.base, self.steps)
        registered = f"{new.table}_kept"
        self._connection.register(registered, pd.DataFrame({POSITION: kept}))
        try:
            self._connection.execute(
                f"CREATE TEMP TABLE {new.table} AS SELECT m.{POSITION}, m.contact_id, "
                f"m.email, m.consent, m.suppressed_reason, CASE WHEN m.excluded_at IS NULL "
                f"AND k.{POSITION} IS NULL THEN ? ELSE m.excluded_at END AS excluded_at "
                f"FROM {self.table} AS m LEFT JOIN {registered} AS k "
                f"ON k.{POSITION} = m.{POSITION} ORDER BY m.{POSITION}", [step])
        finally:
            with contextlib.suppress(Exception):
                self._connection.unregister(registered)
        return new

    def sendable_positions(self) -> np.ndarray:
        """The positions of the sendable members, in increasing order (fetched once)."""
        if self._sendable is None:
            found = self._connection.execute(
                f"SELECT {POSITION} FROM {self.table} WHERE excluded_at IS NULL "
                f"ORDER BY {POSITION}").fetchnumpy()
            self._sendable = np.asarray(found[POSITION], dtype=np.int64)
        return self._sendable

    def sendable_ids(self) -> np.ndarray:
        """The contact ids of the sendable members, in the contacts' order (NumPy, as
        the contacts' column would give them: int64 or object of str)."""
        found = self._connection.execute(
            f"SELECT contact_id FROM {self.table} WHERE excluded_at IS NULL "
            f"ORDER BY {POSITION}").fetchnumpy()["contact_id"]
        return np.asarray(found)

    def sendable_frame(self, columns: Sequence[str], rows_per_batch: int) -> pd.DataFrame:
        """``columns`` (contact columns or features) of the sendable members, in the
        contacts' order, as one DataFrame converted as the export's batches are (read
        ``rows_per_batch`` at a time): for callers that need them in memory (a split's
        contact ids and strata)."""
        rows = self.rows(list(columns))
        frames = list(rows.batches(rows_per_batch))
        if not frames:
            relation = self._connection.sql(rows._query() + " LIMIT 0")
            return relation.arrow().to_pandas(types_mapper=_nullable)
        return pd.concat(frames, ignore_index=True)

    def _valid_sql(self) -> str:
        """A member's email is valid: present, and not marked invalid at load."""
        if "email" not in self._columns:
            return "false"
        valid = 'c."email" IS NOT NULL'
        if "email_valid" in self._columns:
            valid += ' AND coalesce(CAST(c."email_valid" AS BOOLEAN), false)'
        return valid

    def _erased_positions(self, stage: str, ledger: Any) -> list[int]:
        """The members an erasure removed: the ledger's salted hashes are checked in Python,
        a batch of emails and ids at a time."""
        if not ledger:
            return []
        found: list[int] = []
        reader = self._connection.sql(
            f"SELECT {POSITION}, contact_id, email FROM {stage} ORDER BY {POSITION}"
        ).to_arrow_reader(65_536)
        for batch in reader:
            frame = batch.to_pandas()
            hit = (ledger.contains_emails(frame["email"])
                   | ledger.contains_ids(frame["contact_id"]))
            found.extend(frame[POSITION].to_numpy()[hit].tolist())
        return found

    def _create(self, stage: str, suppressed: str, erased: str, claims: Claims | None) -> None:
        names = {key: _literal(value) for key, value in self.steps.items()}
        self._connection.execute(f"CREATE TEMP TABLE {self.table} AS " + steps_query(
            stage, suppressed, erased, names=names, has_consent=self._has_consent,
            claimed=(f"SELECT contact_id FROM {claims.ids}",
                     f"SELECT email FROM {claims.emails}") if claims is not None else None))

    def facts(self) -> MemberFacts:
        """The counts of the waterfall (computed once)."""
        if self._facts is None:
            names = {key: _literal(value) for key, value in self.steps.items()}
            self._facts = facts_of(self._connection.execute(
                facts_query(self.table, names)).fetchall(), self.steps, self._has_consent)
        return self._facts

    def excluded_at(self) -> np.ndarray:
        """``excluded_at`` of every member, in the contacts' order (object: None while
        sendable): for callers that need the members in memory (a split)."""
        values = self._connection.execute(
            f"SELECT excluded_at FROM {self.table} ORDER BY {POSITION}").fetchnumpy()
        out = np.asarray(values["excluded_at"], dtype=object)
        out[pd.isna(out)] = None
        return out

    def rows(self, columns: Sequence[str], *, audit: tuple[str, str] | None = None,
             sendable_only: bool = True) -> MemberRows:
        """The rows an export writes: ``columns`` (contact columns or features) of the
        sendable members (every member with ``sendable_only=False``), in the contacts'
        order; with ``audit=(sendable, excluded_at)`` two more columns of those names."""
        store = self.base._store
        select, source = member_rows_sql(
            self.table, columns, audit=audit, sendable_only=sendable_only,
            contact_columns=store.kinds["contacts"], contacts=store.contacts_table,
            features=self.base._feature_table, quote=_identifier)
        return MemberRows(self._connection, source, select, [*columns, *(audit or ())])

    def close(self) -> None:
        """Drop the table (the members are personal data); again is a no-op."""
        self._finalizer()


def member_rows_sql(table: str, columns: Sequence[str], *, audit: tuple[str, str] | None,
                    sendable_only: bool, contact_columns: Mapping[str, Any], contacts: str,
                    features: Callable[[], str], quote: Callable[[str], str]
                    ) -> tuple[str, str]:
    """``(select list, FROM ... WHERE ...)`` of the rows an export writes from the member
    table ``table`` (alias ``m``): ``columns`` from the contacts (``c``, joined by
    position) or the features (``f``, the table ``features()`` names, joined only when a
    column is one); ``audit`` adds ``sendable`` and ``excluded_at`` under those names."""
    select, joined = [], False
    for column in columns:
        alias = "c" if column in contact_columns else "f"
        joined = joined or alias == "f"
        select.append(f"{alias}.{quote(column)} AS {quote(column)}")
    if audit is not None:
        select += [f"m.excluded_at IS NULL AS {quote(audit[0])}",
                   f"m.excluded_at AS {quote(audit[1])}"]
    joins = f" JOIN {contacts} AS c ON c.{POSITION} = m.{POSITION}"
    if joined:
        joins += f" JOIN {features()} AS f ON f.{POSITION} = m.{POSITION}"
    where = " WHERE m.excluded_at IS NULL" if sendable_only else ""
    return ", ".join(select), f"FROM {table} AS m{joins}{where}"


def steps_query(stage: str, suppressed: str, erased: str, *, names: Mapping[str, str],
                has_consent: bool, claimed: tuple[str, str] | None) -> str:
    """The members of ``stage`` (``position, contact_id, email, consent, valid``) with the
    step that removed each, ``excluded_at`` (NULL while sendable), in one query any of the
    engines runs (DuckDB, PostgreSQL, Spark): the first step that removes a member names
    it; de-duplication ranks, by email in the contacts' order, only the members no earlier
    step removed.

    ``names`` holds each step's name as an SQL literal; ``suppressed`` is a relation of
    ``email, reason``, ``erased`` one of ``position``; ``claimed`` the queries of the
    contact ids and the emails higher-priority segments took (a priority export).
    """
    given = "coalesce(m.consent = 'given', false)" if has_consent else "false"
    taken = f"m.contact_id IN ({claimed[0]})" if claimed is not None else "false"
    claimed_email = f" OR m.email IN ({claimed[1]})" if claimed is not None else ""
    return f"""
        WITH m AS (
            SELECT m.{POSITION}, m.contact_id, m.email, m.consent,
                   s.reason AS suppressed_reason,
                   CASE WHEN {taken} THEN {names['priority']}
                        WHEN NOT m.valid THEN {names['email']}
                        WHEN NOT {given} THEN {names['consent']}
                        WHEN s.reason IS NOT NULL OR e.{POSITION} IS NOT NULL
                            THEN {names['suppressed']} END AS earlier
            FROM {stage} AS m
            LEFT JOIN {suppressed} AS s ON s.email = m.email
            LEFT JOIN {erased} AS e ON e.{POSITION} = m.{POSITION})
        SELECT {POSITION}, contact_id, email, consent, suppressed_reason,
               coalesce(earlier, CASE WHEN row_number() OVER (PARTITION BY email,
                   earlier IS NULL ORDER BY {POSITION}) > 1{claimed_email}
                   THEN {names['duplicate']} END) AS excluded_at
        FROM m"""


def facts_query(table: str, names: Mapping[str, str]) -> str:
    """The counts :func:`facts_of` reads, grouped in the engine (``names``: each step's
    name as an SQL literal)."""
    return (f"SELECT excluded_at, CASE WHEN excluded_at = {names['consent']} THEN "
            f"coalesce(consent, 'missing') END AS consent_value, CASE WHEN excluded_at = "
            f"{names['suppressed']} THEN suppressed_reason END AS suppressed_value, "
            f"count(*) AS n FROM {table} GROUP BY 1, 2, 3")


def facts_of(rows: Sequence[tuple[Any, ...]], steps: Mapping[str, str],
             has_consent: bool) -> MemberFacts:
    """The waterfall's counts from the rows of :func:`facts_query`."""
    consent_step, suppressed_step = steps["consent"], steps["suppressed"]
    removed = dict.fromkeys(steps.values(), 0)
    consent: dict[str, int] = {}
    suppressed: dict[str, int] = {}
    erased = sendable = 0
    for step, value, reason, count in rows:
        count = int(count)
        if step is None:
            sendable += count
            continue
        removed[step] = removed.get(step, 0) + count  # a narrowing's step too
        if step == consent_step:
            consent[value] = consent.get(value, 0) + count
        elif step == suppressed_step and reason is not None:
            suppressed[reason] = suppressed.get(reason, 0) + count
        elif step == suppressed_step:
            erased += count
    return MemberFacts(sum(removed.values()) + sendable, removed,
                       consent if has_consent else None, suppressed, erased, sendable)


def _drop(connection: Any, table: str) -> None:
    with contextlib.suppress(Exception):  # the connection may be closed at exit
        connection.execute(f"DROP TABLE IF EXISTS {table}")


def _nullable(kind: pa.DataType) -> Any:
    """Integers and booleans as pandas' nullable dtypes, whether or not a batch holds a
    missing value: every batch of a column then converts alike (``3``, never ``3.0``)."""
    if pa.types.is_unsigned_integer(kind):
        return pd.UInt64Dtype()
    if pa.types.is_integer(kind):
        return pd.Int64Dtype()
    if pa.types.is_boolean(kind):
        return pd.BooleanDtype()
    return None


class MemberRows:
    """The rows of :meth:`MemberTable.rows`: their ``columns``, which of them are dates
    and times written as dates, and the rows themselves as DataFrames of a bounded size."""

    def __init__(self, connection: Any, source: str, select: str, columns: list[str]) -> None:
        self._connection = connection
        self._source = source
        self._select = select
        self.columns = columns

    def _query(self) -> str:
        return f"SELECT {self._select} {self._source} ORDER BY m.{POSITION}"

    def whole_days(self) -> dict[str, bool]:
        """For each date or timestamp column, whether every value is at midnight."""
        relation = self._connection.sql(f"SELECT {self._select} {self._source} LIMIT 0")
        dated = [c for c, t in zip(self.columns, relation.types, strict=True)
                 if duckdb_kind(str(t)) == "datetime"]
        if not dated:
            return {}
        checks = ", ".join(
            f"coalesce(bool_and(CAST(CAST(r.{_identifier(c)} AS DATE) AS TIMESTAMP_NS) = "
            f"CAST(r.{_identifier(c)} AS TIMESTAMP_NS)), true)" for c in dated)
        found = self._connection.execute(
            f"SELECT {checks} FROM (SELECT {self._select} {self._source}) AS r").fetchall()[0]
        return {c: bool(v) for c, v in zip(dated, found, strict=True)}

    def batches(self, rows_per_batch: int) -> Iterator[pd.DataFrame]:
        """The rows, ``rows_per_batch`` at a time (Arrow record batches from DuckDB)."""
        if rows_per_batch < 1:
            raise ParameterError(f"rows_per_batch must be >= 1, not {rows_per_batch!r}")
        reader = self._connection.sql(self._query()).to_arrow_reader(rows_per_batch)
        try:
            for batch in reader:
                yield batch.to_pandas(date_as_object=False, types_mapper=_nullable)
        finally:  # a write stopped half way: the pending query would hold the members' table
            reader.close()
