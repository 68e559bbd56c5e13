"""Personal data: erasure (right to be forgotten), subject access, stale consent.

- :func:`forget` removes a person from every table of a base and from what the load
  report kept about them, logs the erasure without the email or name (a salted hash), and
  remembers a salted hash so no later export of this base can contain them.
- :func:`subject_access` gathers everything the base holds about one person, as
  JSON-serialisable data.
- :func:`stale_consent` flags consents older than N months with no engagement since.
- Masking personal data for stakeholders is :mod:`segexplore.model.pii` (frames, text)
  and :func:`segexplore.rules.mask.mask_rule` (rule texts).

What is *not* touched: files already written (exports, refresh snapshots, the input
files). ``docs/export.md`` lists them.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from segexplore.engines.duckdb_privacy import DuckDBPersonRows, candidate_contacts
from segexplore.engines.server import ServerBase
from segexplore.engines.server_privacy import ServerPersonRows, server_candidates
from segexplore.errors import NotFoundError, SegexploreError
from segexplore.features.sql import POSITION
from segexplore.io.clean.contacts import normalise_emails
from segexplore.model import hooks
from segexplore.model.erasures import identifier_hash
from segexplore.model.report import CleanReport

if TYPE_CHECKING:
    from segexplore.model.base import ContactBase

__all__ = ["ErasureReport", "forget",
           "subject_access", "subject_access_json", "stale_consent"]

_ENGAGEMENT_FEATURES = ("last_open_date", "last_click_date", "last_visit_date",
                        "last_purchase_date")


# ------------------------------------------------------------------------ locating

@dataclass
class _Person:
    kind: str              # "email" or "contact_id"
    key: str               # the normalised email or the id as text
    ids: list[Any]         # contact_id of their rows in base.contacts
    emails: set[str]       # their normalised emails
    merged_ids: set[str]   # ids of records merged into theirs (as text)
    positions: np.ndarray  # their rows' positions in base.contacts

    @property
    def id_texts(self) -> set[str]:
        return {str(i) for i in self.ids} | self.merged_ids


def _ids_isin(values: pd.Series, id_texts: Iterable[str]) -> np.ndarray:
    """``values.isin(ids)`` with ids given as text, without converting 400k ids to text."""
    texts = list(id_texts)
    if pd.api.types.is_integer_dtype(values.dtype):
        return values.isin([int(t) for t in texts if re.fullmatch(r"-?\d+", t)]).to_numpy(
            dtype=bool)
    return values.astype("str").str.strip().isin(texts).to_numpy(dtype=bool)


def _report(base: ContactBase) -> CleanReport:
    """The base's load report; a DuckDB base read without cleaning and a connected base
    have none, and are then reported on as a pandas base read without cleaning is (no
    reject, no merge)."""
    if base.report is not None:
        return base.report
    tables = _rows_of_ids(base, [], []).tables
    empty = pd.DataFrame(columns=["row", "reason", "table", "file"])
    return CleanReport(rejects={table: empty for table in tables})


def _locate(base: ContactBase, email_or_id: object) -> _Person:
    """The person behind an email or an id: their live rows and what merged into them.

    An id names a live contact when one has it; only an id that no live contact holds
    any more leads through the merge table to the contact it was merged into. The ids of
    merged records that another live contact holds (the duplicate reused someone else's
    id) are left out: activity under that id is the other person's.
    """
    merges = _report(base).merges
    is_email = isinstance(email_or_id, str) and "@" in email_or_id
    if base.engine == "pandas":
        contacts = base.contacts
        positions = np.arange(len(contacts))
    else:  # the rows the person can be, read from the engine; the same rules pick from them
        ids = set() if is_email else {str(email_or_id).strip()}
        if len(merges):
            ids |= set(merges["contact_id"].astype("str")) | set(
                merges["merged_into"].astype("str"))
        email = normalise_emails(pd.Series([email_or_id])).iloc[0] if is_email else None
        if isinstance(base, ServerBase):  # no order of rows: none of them has a position
            contacts = server_candidates(base, email, ids)
            positions = np.zeros(len(contacts), dtype=np.int64)
        else:
            contacts = candidate_contacts(base, email, ids)
            positions = contacts.pop(POSITION).to_numpy(dtype=np.int64)
    live_ids = contacts["contact_id"]
    if is_email:
        key = normalise_emails(pd.Series([email_or_id])).iloc[0]
        hit = (contacts["email"] == key).fillna(False).to_numpy(dtype=bool)
        via_merge = merges["merged_into"][merges["email"] == key] if len(merges) else []
        kind = "email"
    else:
        key = str(email_or_id).strip()
        hit = _ids_isin(live_ids, [key])
        via_merge = (merges["merged_into"][merges["contact_id"].astype("str") == key]
                     if len(merges) and not hit.any() else [])
        kind = "contact_id"
    hit = hit | _ids_isin(live_ids, [str(i) for i in via_merge])
    ids = live_ids[hit].tolist()
    emails = set(contacts["email"][hit].dropna())
    if kind == "email":
        emails.add(key)
    merged = set()
    if len(merges):
        into = merges["merged_into"].astype("str").isin([str(i) for i in ids])
        held_by_others = _ids_isin(merges["contact_id"], {str(i) for i in live_ids[~hit]})
        merged = set(merges["contact_id"][into & ~held_by_others].astype("str"))
    return _Person(kind, key, ids, emails, merged, positions[hit])


def _rows_of(frame: pd.DataFrame, person: _Person, *, by_id: bool) -> np.ndarray:
    """Rows of a raw/reject frame that belong to ``person`` (by email, else by id)."""
    found = np.zeros(len(frame), dtype=bool)
    has_email = np.zeros(len(frame), dtype=bool)
    if "email" in frame.columns and len(frame):
        emails = normalise_emails(frame["email"])
        found = found | emails.isin(list(person.emails)).to_numpy(dtype=bool)
        has_email = emails.notna().to_numpy(dtype=bool)
    if "contact_id" in frame.columns and len(frame):
        same_id = _ids_isin(frame["contact_id"], person.id_texts)
        # A contacts row with the person's id but another email is someone else (id reuse).
        found = found | same_id & (True if by_id else ~has_email)
    return found


# ------------------------------------------------------------------------- erasure

@dataclass(frozen=True)
class ErasureReport:
    """What :func:`forget` removed, per table; nothing in it identifies the person."""

    identifier_hash: str
    identifier_kind: str
    removed: dict[str, int]
    time: str
    log_path: Path | None = None
    already_forgotten: bool = False
    #: Saved segments whose rule text names the person's email: the rules are the
    #: team's to change, so they are reported, not edited.
    segments_naming_person: tuple[str, ...] = ()
    #: The user's tables that still hold the person's rows: a connected base's
    #: (``se.connect``), read only to segexplore; the deletion there is the data team's.
    kept_in_source: tuple[str, ...] = ()

    @property
    def total(self) -> int:
        """Rows removed in all."""
        return sum(self.removed.values())

    def to_dict(self) -> dict[str, Any]:
        """The log record: time, salted hash, kind and counts per table."""
        record = {"time": self.time, "identifier_sha256": self.identifier_hash,
                  "identifier_kind": self.identifier_kind, "removed": dict(self.removed),
                  "already_forgotten": self.already_forgotten}
        if self.kept_in_source:
            record["kept_in_source"] = list(self.kept_in_source)
        return record

    def __repr__(self) -> str:
        counts = ", ".join(f"{k} {v:,}" for k, v in self.removed.items() if v) or "nothing"
        state = " (already forgotten)" if self.already_forgotten else ""
        naming = (f"; saved segments naming them: {', '.join(self.segments_naming_person)}"
                  if self.segments_naming_person else "")
        source = (f"; still in the source tables {', '.join(self.kept_in_source)}: delete "
                  "them there" if self.kept_in_source else "")
        return (f"ErasureReport{state}: removed {counts}; logged as "
                f"{self.identifier_hash[:12]}{naming}{source}")

    def _repr_html_(self) -> str:
        rows = "".join(f"<tr><td>{escape(k)}</td><td>{v:,}</td></tr>"
                       for k, v in self.removed.items())
        return (f"<div><strong>Erasure</strong> {escape(self.time)} &middot; "
                f"<code>{self.identifier_hash[:12]}</code><table>{rows}</table></div>")


def _prune_lineage(report, table: str, clean_removed: np.ndarray | None, n_removed: int,
                   n_clean: int, labels_removed: Sequence[Any]) -> int:
    """Drop erased input rows from the report's lineage and issues; returns issues dropped.

    ``clean_removed`` are the positions of the erased rows in the clean table (None when
    the engine does not know them: a DuckDB base's activity), ``n_removed`` how many
    there are; ``labels_removed`` the input rows erased from the rejects and merges.
    Without a lineage (a report of cleaning in DuckDB) the issues of those input rows go.
    """
    gone = np.asarray(list(labels_removed), dtype=object)
    if table in report.row_labels and table in report.kept:
        labels = np.asarray(report.row_labels[table])
        kept = np.asarray(report.kept[table], dtype=bool)
        kept_positions = np.flatnonzero(kept)
        drop = np.zeros(len(labels), dtype=bool)
        if clean_removed is not None and len(kept_positions) == n_clean:
            drop[kept_positions[clean_removed]] = True  # clean row i is input row kept[i]
        if len(labels_removed):
            drop = drop | pd.Series(labels).isin(list(labels_removed)).to_numpy(dtype=bool)
        gone = labels[drop]
        report.row_labels[table] = labels[~drop]
        report.kept[table] = kept[~drop]
        if table in report.inputs:
            report.inputs[table] -= int(drop.sum())
    elif table in report.inputs:  # no lineage: the kept rows erased are counted, not named
        report.inputs[table] -= n_removed + len(labels_removed)
    if table in report.outputs:
        report.outputs[table] -= n_removed
    issues = report.issues
    if not len(issues) or not len(gone):
        return 0
    hit = ((issues["table"] == table) & issues["row"].isin(list(gone))).to_numpy(dtype=bool)
    report.issues = issues[~hit].reset_index(drop=True)
    return int(hit.sum())


def _utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


@hooks.implements("forget")
def forget(base: ContactBase, email_or_id: object, *, log_path: Any = None,
           salt: str | None = None) -> ErasureReport:
    """Erase one person from ``base``: contacts, events, orders and the load report.

    Removed: their contact row(s) and the records merged into them, their events and
    orders, their rejected rows, cell-level issues and unreadable lines, and their email
    in registered suppression lists. Nobody else is touched: a duplicate that reused
    another contact's id leaves that contact and their activity alone. Category lists are
    cut to the values still present, so none of the person's values is written out with
    a table. Saved segments whose rule text names their email are listed in the result
    (``segments_naming_person``), not edited. A salted hash of their email and id stays in
    the base's erasure ledger (``base.erasures``) so that no later export or suppression
    list of it can contain them. The tables are replaced (never edited in place) for
    every view of the base (``base.at(...)``, ``base.with_suppressions(...)``); what was
    computed from them is dropped.

    Parameters
    ----------
    base : ContactBase
        Modified: this is the point of the function.
    email_or_id : str or int
        An email (any case/spacing) or a contact_id.
    log_path : str or path, optional
        Append one JSON line (time, salted hash, counts per table) to this file.
    salt : str, optional
        Salt of the hash in the log. Keep it secret and reuse it to be able to tell later
        whether an email was erased; default: a random salt kept with the base.

    Returns
    -------
    ErasureReport

    Raises
    ------
    NotFoundError
        Nobody matches (and they were not erased from this base before).

    Examples
    --------
    >>> import segexplore as se
    >>> base = se.load_sample()
    >>> email = base.contacts["email"].iloc[0]
    >>> report = forget(base, email)
    >>> report.removed["contacts"], bool((base.contacts["email"] == email).any())
    (1, False)
    """
    person = _locate(base, email_or_id)
    ledger = base.erasures
    log_salt = ledger.salt if salt is None else salt
    key_kind = "email" if person.kind == "email" or person.emails else "id"
    key = person.key if person.kind == "email" else (
        sorted(person.emails)[0] if person.emails else person.key)
    record_hash = identifier_hash(key, log_salt, key_kind)
    if not person.ids:
        if ledger.hash(person.key, "email" if person.kind == "email" else "id") in ledger:
            report = ErasureReport(record_hash, key_kind, {}, _utc_now(),
                                   Path(log_path) if log_path else None, True)
            _append_log(log_path, report, salt is not None)
            return report
        raise NotFoundError(f"forget: no contact with {person.kind} {person.key!r} in the base")

    removed: dict[str, int] = {}
    report = _report(base)
    ids_text = person.id_texts
    rows = _person_rows(base, person)
    merges = report.merges
    merged_rows = (merges["merged_into"].astype("str").isin(list(ids_text))
                   | merges["email"].isin(list(person.emails))).to_numpy(dtype=bool) \
        if len(merges) else np.zeros(0, dtype=bool)
    issues_removed = 0
    report_rows: dict[str, list[Any]] = {}  # per table, the input rows the report loses
    for table in rows.tables:
        n_removed = rows.count(table)
        rejects = report.rejects.get(table)
        reject_rows = (_rows_of(rejects, person, by_id=table != "contacts")
                       if rejects is not None else np.zeros(0, dtype=bool))
        labels = list(rejects["row"][reject_rows]) if rejects is not None else []
        if table == "contacts" and len(merges):
            labels += list(merges["row"][merged_rows])
        issues_removed += _prune_lineage(report, table, rows.dropped(table), n_removed,
                                         rows.size(table), labels)
        report_rows[table] = labels
        removed[table] = n_removed
        if rejects is not None:
            report.rejects[table] = rejects[~reject_rows].reset_index(drop=True)
            removed[f"rejected {table}"] = int(reject_rows.sum())
    if len(merges):
        report.merges = merges[~merged_rows].reset_index(drop=True)
    removed["merged records"] = int(merged_rows.sum())
    removed["cleaning issues"] = issues_removed
    removed["unreadable lines"] = _prune_read_info(report, person.emails)
    listed = base.suppressions
    if len(listed):  # the ledger keeps them out of base.suppressions from now on
        removed["suppression lists"] = int(listed["email"].isin(list(person.emails)).sum())
    rows.erase([*(ledger.hash(e) for e in person.emails),
                *(ledger.hash(i, "id") for i in ids_text)], report_rows)
    kept = (tuple(base._store.source_tables[t] for t in rows.tables if removed.get(t))
            if isinstance(rows, ServerPersonRows) else ())
    result = ErasureReport(record_hash, key_kind, removed, _utc_now(),
                           Path(log_path) if log_path else None,
                           segments_naming_person=_segments_naming(base, person.emails),
                           kept_in_source=kept)
    _append_log(log_path, result, salt is not None)
    return result


class _PandasPersonRows:
    """One person's rows in a pandas base's tables, and the tables without them (the
    pandas side of :class:`~segexplore.engines.duckdb_privacy.DuckDBPersonRows`)."""

    def __init__(self, base: ContactBase, ids: Iterable[Any]) -> None:
        self.base = base
        live_ids_text = {str(i) for i in ids}
        self.frames = {table: frame for table in ("contacts", "events", "orders")
                       if (frame := getattr(base, table)) is not None}
        self.drops = {table: _ids_isin(frame["contact_id"], live_ids_text)
                      for table, frame in self.frames.items()}

    @property
    def tables(self) -> list[str]:
        return list(self.frames)

    def size(self, table: str) -> int:
        return len(self.frames[table])

    def dropped(self, table: str) -> np.ndarray:
        return np.flatnonzero(self.drops[table])

    def count(self, table: str) -> int:
        return int(self.drops[table].sum())

    @property
    def positions(self) -> np.ndarray:
        return np.flatnonzero(self.drops["contacts"])

    def contacts(self) -> pd.DataFrame:
        return self.base.contacts.iloc[self.positions]

    def features(self) -> pd.DataFrame:
        return self.base.features.iloc[self.positions]

    def activity(self, table: str, id_texts: Iterable[str]) -> pd.DataFrame | None:
        frame = self.frames.get(table)
        return frame[_ids_isin(frame["contact_id"], id_texts)] if frame is not None else None

    def erase(self, erased: Iterable[str], report_rows: Any) -> None:
        # the report's frames are the only record of report_rows: pruned already
        self.base._replace_tables(erased=erased, **{
            table: _without_unused_categories(frame[~self.drops[table]].reset_index(drop=True))
            for table, frame in self.frames.items()})


_PersonRows = _PandasPersonRows | DuckDBPersonRows | ServerPersonRows


def _person_rows(base: ContactBase, person: _Person) -> _PersonRows:
    """The person's rows in the base's tables, by engine."""
    return _rows_of_ids(base, person.ids, person.positions)


def _rows_of_ids(base: ContactBase, ids: Sequence[Any], positions: Sequence[int]
                 ) -> _PersonRows:
    if isinstance(base, ServerBase):
        return ServerPersonRows(base, ids)
    if base.engine == "pandas":
        return _PandasPersonRows(base, ids)
    return DuckDBPersonRows(base, positions, ids)


def _without_unused_categories(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with every category list cut to the values still present: a category
    list is written out with the column (Parquet, pickles), so an erased person's phone
    or city must not survive in it."""
    categorical = [c for c in frame.columns if isinstance(frame[c].dtype, pd.CategoricalDtype)]
    if not categorical:
        return frame
    return frame.assign(**{c: frame[c].cat.remove_unused_categories() for c in categorical})


def _segments_naming(base: ContactBase, emails: Iterable[str]) -> tuple[str, ...]:
    """Names of the saved segments whose rule text contains one of ``emails``."""
    wanted = [e.lower() for e in emails if e]
    return tuple(name for name, segment in base.segments.items()
                 if any(e in str(getattr(segment, "text", "")).lower() for e in wanted))


def _prune_read_info(report, emails: Iterable[str]) -> int:
    """Drop unreadable CSV lines that hold the person's email (ReadInfo.rejected_lines)."""
    count = 0
    patterns = [re.escape(e) for e in emails if e]
    if not patterns:
        return 0
    pattern = "|".join(patterns)
    for table, info in list(report.reads.items()):
        lines = getattr(info, "rejected_lines", None)
        if lines is None or not len(lines):
            continue
        hit = lines["text"].astype("str").str.lower().str.contains(pattern, regex=True)
        hit = hit.fillna(False).to_numpy(dtype=bool)
        if hit.any():
            report.reads[table] = dataclasses.replace(
                info, rejected_lines=lines[~hit].reset_index(drop=True))
            count += int(hit.sum())
    return count


def _append_log(log_path: Any, report: ErasureReport, own_salt: bool) -> None:
    if log_path is None:
        return
    from segexplore._version import __version__

    record = {**report.to_dict(), "salt": "yours" if own_salt else "random, kept with the base",
              "segexplore_version": __version__}
    with open(log_path, "a", encoding="utf-8") as handle:  # an append-only journal
        handle.write(json.dumps(record, ensure_ascii=False) + "\n")


# ------------------------------------------------------------------ subject access

def _jsonable(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, (list, tuple, set)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    if isinstance(value, (pd.Timestamp, datetime)):
        return value.isoformat()
    if isinstance(value, pd.Timedelta):
        return str(value)
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def _records(frame: pd.DataFrame | None) -> list[dict[str, Any]]:
    if frame is None or not len(frame):
        return []
    return [{str(k): _jsonable(v) for k, v in row.items()}
            for row in frame.astype("object").to_dict("records")]


def _in_time_order(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Activity records by time, then by their content: one order whatever the engine
    (a server keeps no order of rows), and the order a person reads a history in."""
    return sorted(records, key=lambda r: (r.get("timestamp") is None,
                                          str(r.get("timestamp") or ""),
                                          json.dumps(r, sort_keys=True, default=str)))


@hooks.implements("subject_access")
def subject_access(base: ContactBase, email_or_id: object) -> dict[str, Any]:
    """Everything ``base`` holds about one person, as JSON-serialisable data.

    Keys: ``contacts`` (their row(s), with ``email_original``), ``merged_records``
    (duplicates merged into them), ``rejected_records`` (per table), ``events`` and
    ``orders`` (in time order), ``features`` (as of ``as_of``), ``segments`` (saved segments they belong
    to), ``consent_history`` (sign-up, consent status and date, suppressions, merges, in
    date order) and ``suppressions``.

    Raises
    ------
    NotFoundError
        Nobody matches.

    Examples
    --------
    >>> import segexplore as se
    >>> base = se.load_sample()
    >>> data = subject_access(base, base.contacts["email"].iloc[0])
    >>> data["contacts"][0]["email"] == base.contacts["email"].iloc[0]
    True
    """
    person = _locate(base, email_or_id)
    if not person.ids:
        raise NotFoundError(f"subject_access: no contact with {person.kind} {person.key!r}")
    held = _person_rows(base, person)
    positions = held.positions
    rows = held.contacts()
    ids_text = list(person.id_texts)
    tables = {table: held.activity(table, ids_text) for table in ("events", "orders")}
    report = _report(base)
    merges = report.merges
    merged = merges[merges["merged_into"].astype("str").isin(ids_text)
                    | merges["email"].isin(list(person.emails))] if len(merges) else merges
    rejected = {}
    for table, frame in report.rejects.items():
        hit = _rows_of(frame, person, by_id=table != "contacts")
        if hit.any():
            rejected[table] = _records(frame[hit])
    features = held.features()
    segments = _segments_holding(base, held, positions)
    suppressed = base.suppressions
    suppressed = suppressed[suppressed["email"].isin(list(person.emails))]
    return {
        "identifier": {"kind": person.kind, "value": person.key},
        "generated_at": _utc_now(),
        "as_of": base.as_of.isoformat(),
        "contacts": _records(rows),
        "merged_records": _records(merged.drop(columns=["_position"], errors="ignore")),
        "rejected_records": rejected,
        "events": _in_time_order(_records(tables["events"])),
        "orders": _in_time_order(_records(tables["orders"])),
        "features": {str(cid): {str(k): _jsonable(v) for k, v in row.items()}
                     for cid, (_, row) in zip(rows["contact_id"], features.iterrows(), strict=True)},
        "segments": segments,
        "consent_history": _consent_history(rows, merged, suppressed),
        "suppressions": _records(suppressed),
    }


def _segments_holding(base: ContactBase, held: _PersonRows, positions: np.ndarray
                      ) -> list[str]:
    """The saved segments the person (at ``positions``) is a member of."""
    if isinstance(held, ServerPersonRows):  # no mask in memory: asked of the engine
        return held.segments_holding()
    segments = []
    for name, segment in base.segments.items():
        try:
            if segment.mask.to_numpy(dtype=bool)[positions].any():
                segments.append(name)
        except SegexploreError:
            continue  # a saved segment that no longer evaluates says nothing about them
    return segments


def _consent_history(rows: pd.DataFrame, merged: pd.DataFrame,
                     suppressed: pd.DataFrame) -> list[dict[str, Any]]:
    history = []
    for row in rows.to_dict("records"):
        if pd.notna(row.get("signup_date")):
            history.append({"date": row["signup_date"], "event": "signed up",
                            "detail": row.get("signup_source")})
        if "consent" in row:
            history.append({"date": row.get("consent_date"),
                            "event": f"consent {row['consent']}", "detail": None})
    for row in merged.to_dict("records"):
        history.append({"date": None, "event": "duplicate record merged",
                        "detail": f"row {row['row']} (contact_id {row['contact_id']})"})
    for row in suppressed.to_dict("records"):
        history.append({"date": row["date"], "event": f"suppressed: {row['reason']}",
                        "detail": None})
    history.sort(key=lambda h: (pd.isna(h["date"]), pd.Timestamp(h["date"])
                                if pd.notna(h["date"]) else pd.Timestamp(0)))
    return [{k: _jsonable(v) for k, v in h.items()} for h in history]


def subject_access_json(base: ContactBase, email_or_id: object, *, indent: int = 2) -> str:
    """:func:`subject_access` as a JSON document (UTF-8 text, accents kept)."""
    return json.dumps(subject_access(base, email_or_id), indent=indent, ensure_ascii=False)


# ------------------------------------------------------------------- stale consent

@hooks.implements("stale_consent")
def stale_consent(base: ContactBase, months: int = 24) -> pd.Series:
    """Contacts whose consent is older than ``months`` with no engagement since.

    A contact is flagged when ``consent == "given"``, its ``consent_date`` (or, when
    missing, its ``signup_date``) is more than ``months`` before ``as_of``, and it has no
    open, click, visit or purchase after that date. Contacts without any date are not
    flagged (nothing says their consent is old).

    Returns
    -------
    Series of bool, named ``stale_consent``, on the contacts' index.

    Examples
    --------
    >>> import segexplore as se
    >>> base = se.load_sample()
    >>> stale = stale_consent(base, months=24)
    >>> stale.dtype == bool and 0 < int(stale.sum()) < len(stale)
    True
    """
    contacts = base.contacts
    missing = pd.Series(pd.NaT, index=contacts.index, dtype="datetime64[ns]")
    date = contacts["consent_date"] if "consent_date" in contacts.columns else missing
    if "signup_date" in contacts.columns:
        date = date.fillna(contacts["signup_date"])
    features = base.features
    last = features[[c for c in _ENGAGEMENT_FEATURES if c in features.columns]].max(axis=1)
    engaged = (last.to_numpy() > date.to_numpy())
    cutoff = base.as_of - pd.DateOffset(months=months)
    old = (date < cutoff).to_numpy(dtype=bool)
    given = (contacts["consent"].astype("object") == "given").to_numpy(dtype=bool) \
        if "consent" in contacts.columns else np.zeros(len(contacts), dtype=bool)
    return pd.Series(given & old & ~engaged, index=contacts.index, name="stale_consent")
