"""Static segments and lists: members fixed at a moment, usable in rules.

A dynamic segment is a rule, evaluated again on every date and every new load. A static
segment keeps the members it had: :meth:`Segment.freeze <segexplore.model.segments.
Segment.freeze>` fixes a segment's members, :func:`read_list` makes one from a file of
emails or ids (a salon's visitors, a partner's opt-outs), and
:meth:`StaticSegment.with_contacts` / :meth:`~StaticSegment.without_contacts` add or remove
contacts by hand. Each is saved on the base under its name, so rules use it as
``segment("name")`` or ``in_list("name")`` (the latter refuses a rule segment), and
``not in_list("name")`` excludes it.

How it works: a static segment's rule is ``contact_id in (...)`` over its ids, so every
engine (pandas, DuckDB) evaluates, compiles and explains it as any condition, and a
DuckDB base materialises it once per date like every saved segment. Its ids stay its
definition when the data change: someone no longer in the base is no longer a member.

A static segment written to a folder (``freeze(name, folder=...)``) is one Parquet file,
``<folder>/<name>.static.parquet``: the ids, and in the file's metadata when and from what
it was frozen, its size then, its history of manual changes and a sha256 of the ids, which
:func:`read_static` checks, so a file edited since is refused. Emails never go in it.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timezone
from html import escape
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from segexplore.engines.server import ServerBase, ServerSegment
from segexplore.errors import FileFormatError, ParameterError, ParameterTypeError, SchemaError
from segexplore.features.sql import POSITION
from segexplore.io.atomic import atomic_write
from segexplore.io.clean.contacts import email_problems, normalise_emails
from segexplore.io.read import read_table
from segexplore.io.schema import ALIASES, header_key
from segexplore.model import hooks
from segexplore.model.segments import Segment
from segexplore.rules.nodes import InList, IsMissing, Rule

__all__ = ["Frozen", "StaticSegment", "ServerStaticSegment", "member_ids", "read_list",
           "read_static", "freeze"]

#: The Parquet metadata key holding a static segment's record.
_METADATA_KEY = b"segexplore.static"


def _utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def member_ids(base: Any, segment: Any) -> pd.Series:
    """The contact ids of ``segment``'s members, whichever engine holds the base: a pandas
    base's column, a DuckDB base's ids under the mask, a connected base's streamed from
    the engine."""
    if isinstance(base, ServerBase):  # no mask in memory
        return base.segment_ids(segment).reset_index(drop=True)
    mask = segment.mask.to_numpy(dtype=bool)
    if base.engine == "pandas":
        return base.contacts["contact_id"][mask].reset_index(drop=True)
    return pd.Series(base.contact_ids[mask], name="contact_id")


def _checksum(ids: pd.Series) -> str:
    """sha256 of the ids' text, sorted and one per line (order-free)."""
    text = "\n".join(sorted(str(i) for i in ids))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _plain(value: Any) -> Any:
    """An id as a rule literal: a Python int or str."""
    if isinstance(value, (np.integer, int)) and not isinstance(value, bool):
        return int(value)
    return str(value)


def _ids_rule(ids: pd.Series) -> Rule:
    """``contact_id in (...)``; nobody (``contact_id is missing``) for no id."""
    values = tuple(dict.fromkeys(_plain(v) for v in ids))
    return InList("contact_id", values) if values else IsMissing("contact_id")


@dataclass(frozen=True)
class Frozen:
    """What a static segment records about its members."""

    at: str             # when it was frozen (UTC, ISO)
    as_of: str          # the base's date then
    size: int           # its members then
    source: str         # the rule it was frozen from, or the list's file
    checksum: str       # sha256 of the ids (see _checksum)
    #: Manual changes since: ``{"time", "action" ("added"/"removed"), "contacts", "size"}``.
    history: tuple[dict[str, Any], ...] = ()


class _Static:
    """What every static segment holds and does, whichever engine's segment it is."""

    static = True
    ids: pd.Series
    frozen: Frozen
    unmatched: pd.DataFrame
    path: Path | None

    def _hold(self, ids: pd.Series, frozen: Frozen, unmatched: pd.DataFrame | None,
              path: Path | None) -> None:
        set_ = object.__setattr__  # a model Segment refuses plain assignment
        set_(self, "ids", ids)
        set_(self, "frozen", frozen)
        set_(self, "unmatched", unmatched if unmatched is not None else _no_unmatched())
        set_(self, "path", path)

    def with_contacts(self, contacts: Any) -> _Static:
        """A new static segment with ``contacts`` (emails or ids, a list or a Series) added,
        saved under the same name (and written over its file, when it has one); the
        change is recorded in ``frozen.history``, and the contacts that matched nobody in
        ``unmatched``."""
        found, unmatched = _match_values(self.base, pd.Series(list(contacts), dtype="object"),
                                         "the contacts added")
        ids = pd.concat([self.ids, found], ignore_index=True).drop_duplicates()
        return self._changed(ids, "added", int(len(ids) - len(self.ids)), unmatched)

    def without_contacts(self, contacts: Any) -> _Static:
        """A new static segment without ``contacts`` (emails or ids), as
        :meth:`with_contacts`."""
        found, unmatched = _match_values(self.base, pd.Series(list(contacts), dtype="object"),
                                         "the contacts removed")
        gone = set(map(str, found))
        ids = self.ids[~self.ids.astype(str).isin(gone)]
        return self._changed(ids, "removed", int(len(self.ids) - len(ids)), unmatched)

    def _changed(self, ids: pd.Series, action: str, count: int,
                 unmatched: pd.DataFrame) -> _Static:
        change = {"time": _utc_now(), "action": action, "contacts": count, "size": len(ids)}
        frozen = replace(self.frozen, checksum=_checksum(ids),
                         history=(*self.frozen.history, change))
        changed = _static(self.base, ids, name=self.name, frozen=frozen,
                          description=self.description, unmatched=unmatched, path=self.path)
        return _saved(changed, self.path.parent if self.path is not None else None)

    def to_dict(self) -> dict[str, Any]:
        """Name, description, what ``frozen`` records and the size now (not the ids)."""
        return {"name": self.name, "description": self.description, "static": True,
                "frozen": asdict(self.frozen), "size": self.size,
                "file": str(self.path) if self.path is not None else None}

    def __repr__(self) -> str:
        frozen = self.frozen
        changes = (f", {len(frozen.history)} manual change(s) since"
                   if frozen.history else "")
        unmatched = (f"\n  {len(self.unmatched):,} row(s) matched nobody: see .unmatched"
                     if len(self.unmatched) else "")
        return (f"Segment({self.name!r}, static: {self.size:,} contacts now, "
                f"{self.share:.1%} of the base as of {self.base.as_of:%Y-%m-%d})\n"
                f"  frozen {frozen.at} at {frozen.size:,} contacts (data as of "
                f"{frozen.as_of[:10]}){changes}\n  from: {frozen.source}{unmatched}")

    def _repr_html_(self) -> str:
        frozen = self.frozen
        return (f"<div><strong>{escape(self.name)}</strong> &middot; static<br>"
                f"<span style='font-size:1.4em'>{self.size:,}</span> contacts now; frozen "
                f"{escape(frozen.at)} at {frozen.size:,}<br><code>{escape(frozen.source)}"
                "</code></div>")


class StaticSegment(_Static, Segment):
    """A saved segment whose members are fixed ids (see the module's docs).

    Made by :meth:`Segment.freeze <segexplore.model.segments.Segment.freeze>`,
    :func:`read_list` or :func:`read_static`; ``frozen`` says when, from what and at which
    size, ``ids`` are its members' ids, ``unmatched`` the list's rows that matched nobody
    (``row, value, reason``), ``path`` its file when written.

    Examples
    --------
    >>> import segexplore as se
    >>> base = se.load_sample()
    >>> buyers = base.segment("count(purchase, last 90 days) >= 1").freeze("Buyers, summer")
    >>> later = base.at("2026-12-31")
    >>> buyers.on(later).size == buyers.size == buyers.frozen.size
    True
    >>> later.count('segment("Buyers, summer")') == buyers.size
    True
    """

    _hinted = False  # its ids are no typos to warn about

    def __init__(self, base: Any, ids: pd.Series, *, name: str, frozen: Frozen,
                 description: str = "", unmatched: pd.DataFrame | None = None,
                 path: Path | None = None) -> None:
        Segment.__init__(self, base, _ids_rule(ids), name=name, description=description)
        self._hold(ids, frozen, unmatched, path)


class ServerStaticSegment(_Static, ServerSegment):
    """A static segment of a connected base (``se.connect``): its ids are compiled into the
    engine's queries (see :class:`StaticSegment`)."""

    def __init__(self, base: Any, ids: pd.Series, *, name: str, frozen: Frozen,
                 description: str = "", unmatched: pd.DataFrame | None = None,
                 path: Path | None = None) -> None:
        rule = _ids_rule(ids)
        ServerSegment.__init__(self, base, rule, name=name, description=description,
                               text=str(rule))
        self._hold(ids, frozen, unmatched, path)


def _static(base: Any, ids: Any, **options: Any) -> _Static:
    """The static segment of ``ids`` for ``base``'s engine."""
    ids = pd.Series(ids, name="contact_id").drop_duplicates().reset_index(drop=True)
    kind = ServerStaticSegment if isinstance(base, ServerBase) else StaticSegment
    return kind(base, ids, **options)


def _no_unmatched() -> pd.DataFrame:
    return pd.DataFrame({"row": pd.Series(dtype="int64"), "value": pd.Series(dtype="str"),
                         "reason": pd.Series(dtype="str")})


def _check_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip():
        raise ParameterError(f"name: a non-empty text, not {name!r}")
    return name


def _file_name(name: str) -> str:
    """The file of a static segment: its name with anything but letters, digits, ``-``
    and ``_`` as ``_`` (``Buyers, summer`` -> ``Buyers__summer.static.parquet``)."""
    return re.sub(r"[^\w-]", "_", name, flags=re.UNICODE) + ".static.parquet"


def _saved(segment: _Static, folder: Any) -> _Static:
    """``segment`` saved on its base under its name, and written to ``folder`` (if any)."""
    if folder is not None:
        path = Path(folder) / _file_name(segment.name)
        path.parent.mkdir(parents=True, exist_ok=True)
        _write(segment, path)
        object.__setattr__(segment, "path", path)
    segment.base.segments[segment.name] = segment
    return segment


def _write(segment: _Static, path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    ids = segment.ids
    table = pa.table({"contact_id": pa.array(ids.tolist())})
    record = {"name": segment.name, "description": segment.description,
              "frozen": asdict(segment.frozen)}
    table = table.replace_schema_metadata({_METADATA_KEY: json.dumps(record).encode()})
    with atomic_write(path, "wb") as handle:
        pq.write_table(table, handle)


@hooks.implements("freeze")
def freeze(segment: Any, name: str, *, folder: Any = None, description: str = ""
           ) -> _Static:
    """Fix ``segment``'s members now, as the static segment ``name`` saved on its base
    (and written to ``folder`` when given: see :func:`read_static`).

    Examples
    --------
    >>> import segexplore as se
    >>> base = se.load_sample()
    >>> frozen = base.segment('city = "Lyon"').freeze("Lyon, December")
    >>> frozen.frozen.size == base.count('city = "Lyon"') == frozen.size
    True
    """
    name = _check_name(name)
    base = segment.base
    ids = member_ids(base, segment)
    frozen = Frozen(at=_utc_now(), as_of=base.as_of.isoformat(), size=len(ids),
                    source=segment.text, checksum=_checksum(ids))
    static = _static(base, ids, name=name, frozen=frozen,
                     description=description or segment.description)
    return _saved(static, folder)


def read_static(path: Any, base: Any) -> _Static:
    """A static segment written by ``freeze(..., folder=...)``, saved on ``base`` under
    its name (``segment("name")``, ``in_list("name")``); its ids that ``base`` no longer
    holds are in ``unmatched`` (``"no longer in the base"``).

    Raises
    ------
    FileFormatError
        Not a static segment's file, or its ids changed since it was written (the
        checksum in its metadata differs).
    """
    import pyarrow.parquet as pq

    path = Path(path)
    try:
        table = pq.read_table(path)
    except (OSError, ValueError) as error:
        raise FileFormatError(f"{path}: cannot read the static segment ({error})",
                              path=path) from None
    raw = (table.schema.metadata or {}).get(_METADATA_KEY)
    if raw is None or "contact_id" not in table.column_names:
        raise FileFormatError(f"{path}: not a segexplore static segment (no "
                              f"{_METADATA_KEY.decode()} metadata or contact_id column)",
                              path=path)
    record = json.loads(raw)
    frozen = Frozen(**{**record["frozen"],
                       "history": tuple(record["frozen"].get("history", ()))})
    ids = table.column("contact_id").to_pandas()
    if _checksum(ids) != frozen.checksum:
        raise FileFormatError(f"{path}: its ids were changed since it was written (the "
                              "checksum differs): freeze the segment again", path=path)
    present, absent = _present(base, ids)
    unmatched = pd.DataFrame({"row": np.flatnonzero(~present) + 1,
                              "value": ids[~present].astype(str).to_numpy(),
                              "reason": "no longer in the base"})
    static = _static(base, ids, name=record["name"], frozen=frozen,
                     description=record.get("description", ""),
                     unmatched=unmatched.astype({"value": "str", "reason": "str"}), path=path)
    base.segments[static.name] = static
    return static


def read_list(source: Any, base: Any, *, name: str, column: str | None = None,
              description: str = "", folder: Any = None, **read_options: Any
              ) -> _Static:
    """A list of emails or contact ids as a static segment ``name`` saved on ``base``:
    ``in_list("name")`` in rules (``not in_list("name")`` to exclude it).

    Emails are matched after the same normalisation as loading (trimmed, lower-cased),
    ids as text (``"007"`` is the contact 7 when ids are whole numbers). Every row that
    matches nobody is kept in ``unmatched`` with its 1-based row number and why: an invalid
    email (as loading says it), a missing value, a repeat of an earlier row, or no such
    contact. Nothing is dropped in silence.

    Parameters
    ----------
    source : path, DataFrame or list
        A CSV, Excel or Parquet file (read by :func:`~segexplore.io.read.read_table`, with
        ``read_options``), a DataFrame, or plain emails or ids.
    base : ContactBase or DuckDBBase
    name : str
    column : str, optional
        The column holding the emails or ids; default: the first whose header reads as an
        email (``email``, ``E-mail``, ``courriel``...) or a contact id (``contact_id``,
        ``id``, ``N° client``...).
    folder : path, optional
        Also write it there (see :func:`read_static`).

    Examples
    --------
    >>> import segexplore as se
    >>> base = se.load_sample()
    >>> emails = base.contacts["email"].head(3).tolist()
    >>> vip = read_list([emails[0].upper(), emails[1], "nobody@example.com", "bad"], base,
    ...                 name="VIP")
    >>> vip.size, vip.unmatched["reason"].tolist()
    (2, ['no contact with this email', 'invalid email (no @)'])
    >>> base.count('in_list("VIP") or email = "' + emails[2] + '"')
    3
    """
    name = _check_name(name)
    if not isinstance(source, (str, Path, pd.DataFrame)):
        try:
            source = pd.DataFrame({"value": list(source)})
        except TypeError:
            raise ParameterTypeError(f"source: a file, a DataFrame or a list of emails or "
                                     f"ids, not {type(source).__name__}") from None
        column = column or "value"
    frame, _ = read_table(source, **read_options)
    where = "the list" if isinstance(source, pd.DataFrame) else str(source)
    chosen = _list_column(frame, column, where)
    found, unmatched = _match_values(base, frame[chosen].reset_index(drop=True), where)
    frozen = Frozen(at=_utc_now(), as_of=base.as_of.isoformat(), size=len(found),
                    source=where if where != "the list" else f"a list of {len(frame):,} rows",
                    checksum=_checksum(found))
    static = _static(base, found, name=name, frozen=frozen, description=description,
                     unmatched=unmatched)
    return _saved(static, folder)


def _list_column(frame: pd.DataFrame, column: str | None, where: str) -> str:
    if column is not None:
        if column not in frame.columns:
            raise SchemaError(f"{where}: no column {column!r} (columns: "
                              f"{list(map(str, frame.columns))})")
        return column
    keys = {header_key(c): c for c in reversed(list(frame.columns))}
    for role in ("email", "contact_id"):
        for alias in ALIASES["contacts"][role]:
            if header_key(alias) in keys:
                return keys[header_key(alias)]
    if len(frame.columns) == 1:
        return frame.columns[0]
    raise SchemaError(f"{where}: no column of emails or contact ids (columns: "
                      f"{list(map(str, frame.columns))}); name it with column=")


def _integer_ids(base: Any) -> bool:
    if isinstance(base, ServerBase):
        return base._store.kinds["contacts"]["contact_id"] == "number"
    if base.engine == "pandas":
        return pd.api.types.is_integer_dtype(base.contacts["contact_id"].dtype)
    store = base._store
    (kind,), = store.connection.execute(
        f"SELECT typeof(contact_id) FROM {store.contacts_table} LIMIT 1").fetchall() or [("",)]
    return "INT" in str(kind).upper()


def _contacts_by(base: Any, key: str, values: pd.Series) -> pd.DataFrame:
    """``(i, contact_id)``: the contacts whose ``key`` (``"email"``: normalised, or
    ``"id"``: the id as text) is ``values[i]``; several per value when emails repeat."""
    wanted = pd.DataFrame({"i": np.arange(len(values)), "k": values.astype("object")})
    wanted = wanted[wanted["k"].notna()]
    if isinstance(base, ServerBase):
        return _server_contacts_by(base, key, wanted)
    if base.engine == "pandas":
        contacts = base.contacts
        keys = (normalise_emails(contacts["email"]) if key == "email"
                else contacts["contact_id"].astype(str))
        table = pd.DataFrame({"k": keys.astype("object").to_numpy(),
                              "contact_id": contacts["contact_id"].to_numpy()})
        return wanted.merge(table, on="k")[["i", "contact_id"]]
    store = base._store
    column = ("lower(trim(CAST(c.email AS VARCHAR)))" if key == "email"
              else "CAST(c.contact_id AS VARCHAR)")
    store.connection.register("_segexplore_list", wanted)
    try:
        return store.connection.execute(
            f"SELECT l.i, c.contact_id FROM _segexplore_list AS l JOIN "
            f"{store.contacts_table} AS c ON {column} = l.k ORDER BY l.i, c.{POSITION}"
        ).df()
    finally:
        store.connection.unregister("_segexplore_list")


def _server_contacts_by(base: ServerBase, key: str, wanted: pd.DataFrame) -> pd.DataFrame:
    """:func:`_contacts_by` in a connected engine: the values uploaded, joined there."""
    store = base._store
    backend = store.backend
    text = backend.text_type
    column = (f"lower(trim(CAST(c.email AS {text})))" if key == "email"
              else f"CAST(c.contact_id AS {text})")
    given = backend.upload(wanted.astype({"k": "str"}), {"i": "number", "k": "text"})
    try:
        found = backend.frame(f"SELECT l.i, c.contact_id FROM {given} AS l JOIN "
                              f"{store.tables['contacts']} AS c ON {column} = l.k "
                              f"ORDER BY l.i, c.contact_id")
    finally:
        backend.release(given)
    return found.astype({"i": "int64"})


def _present(base: Any, ids: pd.Series) -> tuple[np.ndarray, pd.Series]:
    """Which of ``ids`` the base holds, and the ids it does not."""
    found = _contacts_by(base, "id", ids.astype(str))
    present = np.zeros(len(ids), dtype=bool)
    present[found["i"].to_numpy(dtype=np.int64)] = True
    return present, ids[~present]


def _match_values(base: Any, values: pd.Series, where: str) -> tuple[pd.Series, pd.DataFrame]:
    """The contact ids ``values`` (emails, or ids) name, and the rows that named nobody:
    ``row`` (1-based), ``value``, ``reason``."""
    text = values.astype("string").str.strip()
    is_email = text.str.contains("@", regex=False).fillna(False)
    looks_like_emails = bool(is_email.mean() >= 0.5) if len(text) else True
    reason = pd.Series(pd.NA, index=values.index, dtype="object")
    reason[text.isna() | (text == "")] = "missing"
    if looks_like_emails:
        keys = normalise_emails(text.astype("object"))
        problems = email_problems(keys)
        bad = problems.notna() & reason.isna()
        reason[bad] = "invalid email (" + problems[bad].astype(str) + ")"
        kind, nobody = "email", "no contact with this email"
    else:
        integer = _integer_ids(base)
        keys = text.astype("object").map(
            lambda t: str(int(t)) if integer and isinstance(t, str) and
            re.fullmatch(r"[+-]?\d+", t) else t)
        kind, nobody = "id", "no contact with this id"
    usable = reason.isna()
    first = ~keys.duplicated() | ~usable
    repeats = usable & ~first
    if repeats.any():
        first_row = {k: i for i, k in reversed(list(keys[usable].items()))}
        reason[repeats] = [f"repeats row {first_row[k] + 1}" for k in keys[repeats]]
    candidates = keys.where(reason.isna())
    found = _contacts_by(base, kind, candidates)
    matched = np.zeros(len(values), dtype=bool)
    matched[found["i"].to_numpy(dtype=np.int64)] = True
    reason[reason.isna() & ~matched] = nobody
    gone = reason.notna()
    shown = values.astype("object").where(values.notna(), "").map(str)  # missing: ""
    unmatched = pd.DataFrame({"row": np.flatnonzero(gone.to_numpy()) + 1,
                              "value": shown[gone].to_numpy(),
                              "reason": reason[gone].astype(str).to_numpy()})
    return pd.Series(found["contact_id"].to_numpy(), name="contact_id"), unmatched
