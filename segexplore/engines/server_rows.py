"""The rows of an export from a connected base (PostgreSQL, Spark, a DuckDB connection),
computed in the engine and read a batch at a time.

:class:`ServerMemberTable` keeps a segment's members in a table of the engine (temporary,
or in the base's ``scratch`` schema) with the waterfall step that removed each, computed by
the query the DuckDB engine runs (:func:`~segexplore.engines.duckdb_rows.steps_query`);
its facts are counted there, and its rows stream to the CSV writer through the engine's
cursor (a server-side cursor on PostgreSQL, ``toLocalIterator`` on Spark). Only the
suppression list travels the other way, uploaded as a table of ``email, reason``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from segexplore.engines.duckdb import duckdb_kind
from segexplore.engines.duckdb_rows import (
    STEP_KEYS,
    MemberFacts,
    facts_of,
    facts_query,
    member_rows_sql,
    steps_query,
)
from segexplore.errors import ExportError, ParameterError
from segexplore.features.sql import POSITION

__all__ = ["ServerClaims", "ServerMemberRows", "ServerMemberTable"]


class ServerClaims:
    """Who the earlier segments of a priority export took, kept in the engine: one table
    per segment of its contact ids and the emails it exports."""

    def __init__(self, base: Any) -> None:
        self.backend = base._store.backend
        self.tables: list[str] = []

    def add(self, members: ServerMemberTable) -> None:
        """Claim the contacts of ``members``, and the emails of its sendable ones."""
        self.tables.append(self.backend.keep(
            f"SELECT contact_id, CASE WHEN excluded_at IS NULL THEN email END AS email "
            f"FROM {members.table}"))

    def queries(self) -> tuple[str, str] | None:
        """The queries of the claimed ids and emails (None before the first claim)."""
        if not self.tables:
            return None
        return (" UNION ALL ".join(f"SELECT contact_id FROM {t}" for t in self.tables),
                " UNION ALL ".join(f"SELECT email FROM {t} WHERE email IS NOT NULL"
                                   for t in self.tables))

    def close(self) -> None:
        """Drop the tables (the claimed contacts are personal data)."""
        while self.tables:
            self.backend.release(self.tables.pop())


class ServerMemberTable:
    """A segment's members in a table of the engine: ``position, contact_id, email,
    consent, suppressed_reason, excluded_at``.

    The surface of :class:`~segexplore.engines.duckdb_rows.MemberTable` that exports,
    splits and plans read: ``facts``, ``rows``, the sendable members' positions and ids,
    ``narrowed`` copies, ``close``.

    Parameters
    ----------
    segment : ServerSegment
    steps : {key: step name}
        The name of each step of :data:`~segexplore.engines.duckdb_rows.STEP_KEYS`.
    suppressions : DataFrame
        ``email, reason``, one row per email: who is never exported, and why.
    claims : ServerClaims, optional
        What higher-priority segments took (a priority export).

    Examples
    --------
    >>> import duckdb, pandas as pd, segexplore as se
    >>> from segexplore.engines.duckdb_rows import STEP_KEYS
    >>> sample = se.load_sample()
    >>> db = duckdb.connect()
    >>> for name in ("contacts", "events", "orders"):
    ...     db.register(name, getattr(sample, name))
    <...>
    >>> base = se.connect(db, as_of=sample.as_of)
    >>> none = pd.DataFrame({"email": pd.Series([], dtype="str"),
    ...                      "reason": pd.Series([], dtype="str")})
    >>> members = ServerMemberTable(base.segment('country = "BE"'), steps=dict(zip(
    ...     STEP_KEYS, STEP_KEYS)), suppressions=none)
    >>> members.facts().matched == sample.segment('country = "BE"').size
    True
    >>> members.close(); base.close()
    """

    #: What a priority export keeps of this kind of member table.
    claims_type = ServerClaims

    def __init__(self, segment: Any, *, steps: Mapping[str, str], suppressions: pd.DataFrame,
                 claims: ServerClaims | None = None) -> None:
        missing = [k for k in STEP_KEYS if k not in steps]
        if missing:
            raise ParameterError(f"steps: no name for {missing}; give one for each of "
                                 f"{list(STEP_KEYS)}")
        base = segment.base
        self.base, self.steps = base, dict(steps)
        self.backend = backend = base._store.backend
        if claims is not None and claims.backend is not backend:
            raise ExportError("segments of one priority export must all be on one base")
        columns = base._store.kinds["contacts"]
        self._has_consent = "consent" in columns
        self._facts: MemberFacts | None = None
        self._sendable: np.ndarray | None = None
        self.table: str | None = None
        text, quote = backend.text_type, backend.quote
        email = f"c.{quote('email')}" if "email" in columns else "NULL"
        consent = f"c.{quote('consent')}" if self._has_consent else "NULL"
        valid = "false"
        if "email" in columns:
            valid = f"{email} IS NOT NULL"
            if "email_valid" in columns:
                valid += f" AND coalesce(CAST(c.{quote('email_valid')} AS BOOLEAN), false)"
        uploaded = []
        try:
            stage = backend.keep(
                f"SELECT c.{POSITION}, c.contact_id, CAST({email} AS {text}) AS email, "
                f"CAST({consent} AS {text}) AS consent, {valid} AS valid "
                f"FROM {base._positioned()} AS c WHERE c.contact_id IN ({segment.sql})")
            uploaded.append(stage)
            listed = suppressions[["email", "reason"]]
            suppressed = backend.upload(listed, {"email": "text", "reason": "text"})
            uploaded.append(suppressed)
            erased = backend.upload(self._erased(stage, base.erasures), {POSITION: "number"})
            uploaded.append(erased)
            names = {key: backend.literal(value) for key, value in self.steps.items()}
            self.table = backend.keep(steps_query(
                stage, suppressed, erased, names=names, has_consent=self._has_consent,
                claimed=claims.queries() if claims is not None else None))
        finally:
            for table in uploaded:
                backend.release(table)

    def _erased(self, stage: str, ledger: Any) -> pd.DataFrame:
        """The members an erasure removed (the ledger's salted hashes are checked in
        Python, a batch at a time): none while a connected base has no erasures."""
        found: list[np.ndarray] = []
        if ledger:
            for frame in self.backend.batches(
                    f"SELECT {POSITION}, contact_id, email FROM {stage}", 65_536):
                hit = (ledger.contains_emails(frame["email"])
                       | ledger.contains_ids(frame["contact_id"]))
                found.append(frame[POSITION].to_numpy()[hit])
        return pd.DataFrame({POSITION: np.concatenate(found) if found
                             else np.empty(0, dtype=np.int64)})

    def facts(self) -> MemberFacts:
        """The counts of the waterfall (computed once, in the engine)."""
        if self._facts is None:
            names = {key: self.backend.literal(value) for key, value in self.steps.items()}
            self._facts = facts_of(self.backend.rows(facts_query(self.table, names)),
                                   self.steps, self._has_consent)
        return self._facts

    def rows(self, columns: Sequence[str], *, audit: tuple[str, str] | None = None,
             sendable_only: bool = True) -> ServerMemberRows:
        """The rows an export writes: ``columns`` (contact columns or features) of the
        sendable members (every member with ``sendable_only=False``), in the contacts'
        order; with ``audit=(sendable, excluded_at)`` two more columns of those names."""
        select, source = member_rows_sql(
            self.table, columns, audit=audit, sendable_only=sendable_only,
            contact_columns=self.base._store.kinds["contacts"],
            contacts=self.base._positioned(), features=lambda: self.base.feature_table,
            quote=self.backend.quote)
        return ServerMemberRows(self.backend, source, select, [*columns, *(audit or ())])

    def _column(self, name: str, where: str = " WHERE excluded_at IS NULL") -> np.ndarray:
        """One column of the members (the sendable ones by default), in the contacts'
        order, as NumPy (the ids as the contacts' column would give them)."""
        frames = list(self.backend.batches(
            f"SELECT {name} FROM {self.table}{where} ORDER BY {POSITION}", 1_000_000))
        if not frames:
            return np.empty(0, dtype=np.int64 if name == POSITION else object)
        values = pd.concat(frames, ignore_index=True)[name]
        return values.to_numpy(dtype=np.int64) if name == POSITION else values.to_numpy()

    def sendable_positions(self) -> np.ndarray:
        """The positions of the sendable members, in increasing order (fetched once)."""
        if self._sendable is None:
            self._sendable = self._column(POSITION)
        return self._sendable

    def sendable_ids(self) -> np.ndarray:
        """The contact ids of the sendable members, in the contacts' order."""
        found = self._column("contact_id")
        if len(found) and all(isinstance(v, int) for v in found[:1000]):
            return found.astype(np.int64)
        return found

    def sendable_frame(self, columns: Sequence[str], rows_per_batch: int) -> pd.DataFrame:
        """``columns`` of the sendable members, in the contacts' order, as one DataFrame
        (a split's strata)."""
        rows = self.rows(list(columns))
        frames = list(rows.batches(rows_per_batch))
        return (pd.concat(frames, ignore_index=True) if frames
                else pd.DataFrame({c: pd.Series([], dtype=object) for c in columns}))

    def excluded_at(self) -> np.ndarray:
        """``excluded_at`` of every member, in the contacts' order (None while sendable)."""
        out = np.asarray(self._column("excluded_at", where=""), dtype=object)
        out[pd.isna(out)] = None
        return out

    def narrowed(self, keep: np.ndarray, step: str) -> ServerMemberTable:
        """A copy of the table in which, of the sendable members, those ``keep`` says not
        (aligned with :meth:`sendable_positions`) are removed at ``step``: a split's group,
        a plan's holdout. Close it too."""
        kept = self.sendable_positions()[np.asarray(keep, dtype=bool)]
        new = ServerMemberTable.__new__(ServerMemberTable)
        new.base, new.steps, new.backend = self.base, dict(self.steps), self.backend
        new._has_consent, new._facts, new._sendable = self._has_consent, None, None
        uploaded = self.backend.upload(pd.DataFrame({POSITION: kept}), {POSITION: "number"})
        try:
            new.table = self.backend.keep(
                f"SELECT m.{POSITION}, m.contact_id, m.email, m.consent, m.suppressed_reason, "
                f"CASE WHEN m.excluded_at IS NULL AND k.{POSITION} IS NULL THEN "
                f"{self.backend.literal(step)} ELSE m.excluded_at END AS excluded_at "
                f"FROM {self.table} AS m LEFT JOIN {uploaded} AS k "
                f"ON k.{POSITION} = m.{POSITION}")
        finally:
            self.backend.release(uploaded)
        return new

    def close(self) -> None:
        """Drop the table (the members are personal data); again is a no-op."""
        if self.table is not None:
            self.backend.release(self.table)
            self.table = None


class ServerMemberRows:
    """The rows of :meth:`ServerMemberTable.rows`: their ``columns``, which of them are
    dates written as dates, and DataFrames of a bounded size in the dtypes the DuckDB
    engine hands the CSV writer (nullable integers and booleans, datetimes, text)."""

    def __init__(self, backend: Any, source: str, select: str, columns: list[str]) -> None:
        self._backend = backend
        self._source = source
        self._select = select
        self.columns = columns
        self._types = list(backend.types(f"(SELECT {select} {source}) AS q").values())

    def whole_days(self) -> dict[str, bool]:
        """For each date or timestamp column, whether every value is at midnight."""
        quote = self._backend.quote
        dated = [c for c, t in zip(self.columns, self._types, strict=True)
                 if duckdb_kind(t) == "datetime"]
        if not dated:
            return {}
        checks = ", ".join(
            f"coalesce(bool_and(CAST(CAST(r.{quote(c)} AS DATE) AS TIMESTAMP) = "
            f"CAST(r.{quote(c)} AS TIMESTAMP)), true)" for c in dated)
        found, = self._backend.rows(f"SELECT {checks} FROM (SELECT {self._select} "
                                    f"{self._source}) AS r")
        return {c: bool(v) for c, v in zip(dated, found, strict=True)}

    def batches(self, rows_per_batch: int) -> Iterator[pd.DataFrame]:
        """The rows, ``rows_per_batch`` at a time, in the contacts' order."""
        if rows_per_batch < 1:
            raise ParameterError(f"rows_per_batch must be >= 1, not {rows_per_batch!r}")
        query = f"SELECT {self._select} {self._source} ORDER BY m.{POSITION}"
        for frame in self._backend.batches(query, rows_per_batch):
            frame.columns = self.columns
            yield pd.DataFrame({c: _typed(frame[c], t)
                                for c, t in zip(self.columns, self._types, strict=True)})


def _typed(values: pd.Series, duck_type: str) -> pd.Series:
    """A column read from an engine's cursor in the dtype the DuckDB engine gives it: one
    dtype whatever the batch holds (``3``, never ``3.0``; ``true``, never ``True``)."""
    text = duck_type.upper()
    values = values.reset_index(drop=True)
    if text == "BOOLEAN":
        return values.astype("boolean")
    if text in ("TINYINT", "SMALLINT", "INTEGER", "BIGINT"):
        return values.astype("Int64")
    if text in ("REAL", "FLOAT"):
        return values.astype("float32")
    if text.startswith(("DOUBLE", "DECIMAL")):
        return pd.to_numeric(values.astype(object), errors="raise").astype("float64")
    if text.startswith(("TIMESTAMP", "DATE")):
        return pd.to_datetime(values)
    return values.astype(object).where(values.notna(), None)
