"""Normalise, validate and de-duplicate the three tables of a contact base.

Policy (documented in the README, tested in ``tests/test_clean.py``):

- **Emails** are trimmed and lower-cased; the original is kept in ``email_original``.
  Syntax is checked with a vectorised pattern (no network look-ups: 1M contacts in well
  under a second, where a per-row validator takes tens of seconds). Invalid emails are
  *flagged* (``email_valid``, ``email_problem``), never deleted.
- **Duplicates** share a normalised, valid email. They merge into the record with the earliest
  signup date (then the first in the file), whose ``contact_id`` survives. For every other
  column the latest non-missing value wins, "latest" meaning later in the file (exports
  append) unless an ``updated_at`` column says otherwise. Interests are united, the
  earliest signup date is kept, and a withdrawn consent is never turned back into consent
  (withdrawn > given > pending > unknown). Events and orders of merged contacts move to the
  surviving contact.
- **Rejected**: contacts without any identifier, a ``contact_id`` reused by a different
  email; events and orders whose contact is unknown, whose date is missing, unparseable
  or in the future, whose amount is not a number or negative; orders whose ``order_id``
  repeats. Rejected rows are kept with their reason in ``report.rejects``.
- Cell-level problems (an unparseable birth date, a postal code of the wrong length...)
  set the value missing or leave it as is, and are listed in ``report.issues``.
- **Ids** keep their values and type: ``"00001"`` stays ``"00001"``, UUIDs stay text, a
  64-bit integer stays that integer. A column mixing numbers and text (or integers too
  large for 64 bits) becomes text. Event ids meet contact ids in the contacts' type:
  integer ``10003`` finds text ``"10003"``, but ``1`` never finds ``"00001"``.
- **Lists and dicts** in a cell (Parquet ``list<string>`` or struct columns): flat lists
  become a multi-valued column in the canonical ``a|b`` form (``has any`` rules work);
  dicts and nested lists become JSON text with sorted keys. Both are listed in
  ``report.steps``; lists in ``contact_id``, ``email``, ``timestamp``, ``amount``... are a
  :class:`~segexplore.errors.SchemaError`.
- **Orders without an order_id column** that repeat an earlier order in every column are
  kept (two identical orders may be real) and each is listed in ``report.issues`` with
  the row it repeats.
- **Postal codes without a country** (no column, or an empty cell) are never padded: a
  4-digit code may be Belgian as well as French without its zero. One is reported when
  at least 80% of the contacts' codes (those of known countries, else the codes
  themselves) have another length; when lengths are mixed a step says they were not
  checked.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd

from segexplore.errors import SchemaError
from segexplore.io.parsing import DEFAULT_TZ
from segexplore.io.read import parse_datetimes, parse_numbers
from segexplore.model.columns import CONSENT_VALUES, EVENT_TYPES, MULTI_VALUE_SEPARATOR
from segexplore.model.report import REJECT_COLUMNS, FileRows, ProblemLog
from segexplore.model.roles import looks_categorical

__all__ = ["EMAIL_PATTERN", "clean_contacts", "clean_activity", "ContactsCleaned",
           "normalise_emails", "CONSENT_ALIASES", "flatten_nested", "NestedColumns"]

_NON_ASCII = r"[^\x00-\x7F]"
_LOCAL_CHAR = rf"(?:[a-z0-9!#$%&'*+/=?^_`{{|}}~-]|{_NON_ASCII})"
_LABEL_CHAR = rf"(?:[a-z0-9]|{_NON_ASCII})"
_LABEL = rf"{_LABEL_CHAR}(?:(?:[a-z0-9-]|{_NON_ASCII}){{0,61}}{_LABEL_CHAR})?"
#: The syntax an email must match after trimming and lower-casing (RE2- and re-compatible).
EMAIL_PATTERN = rf"{_LOCAL_CHAR}+(?:\.{_LOCAL_CHAR}+)*@(?:{_LABEL}\.)+(?:[a-z]{{2,63}}|xn--[a-z0-9-]+)"

#: Consent values recognised (after lower-casing and trimming) and their canonical status.
CONSENT_ALIASES = {
    **dict.fromkeys(["given", "yes", "oui", "ja", "true", "1", "opt-in", "optin", "opt_in",
                     "subscribed", "granted", "accepted", "consented", "abonné", "abonne",
                     "inscrit", "double opt-in", "confirmed"], "given"),
    **dict.fromkeys(["withdrawn", "no", "non", "nee", "false", "0", "opt-out", "optout",
                     "opt_out", "unsubscribed", "revoked", "retiré", "retire", "désabonné",
                     "desabonne", "désinscrit", "desinscrit", "refused"], "withdrawn"),
    **dict.fromkeys(["pending", "en attente", "unconfirmed", "waiting", "to confirm"],
                    "pending"),
}
CONSENT_CATEGORIES = (*CONSENT_VALUES, "unknown")
_CONSENT_RANK = {"unknown": 0, "pending": 1, "given": 2, "withdrawn": 3}

_COUNTRY_ALIASES = {
    **dict.fromkeys(["fr", "fra", "france"], "FR"),
    **dict.fromkeys(["be", "bel", "belgique", "belgie", "belgië", "belgium", "belgien"], "BE"),
    **dict.fromkeys(["lu", "lux", "luxembourg"], "LU"),
    **dict.fromkeys(["ch", "che", "suisse", "switzerland", "schweiz"], "CH"),
    **dict.fromkeys(["nl", "nld", "pays-bas", "nederland", "netherlands"], "NL"),
    **dict.fromkeys(["de", "deu", "allemagne", "germany", "deutschland"], "DE"),
}
_POSTAL_DIGITS = {"FR": 5, "BE": 4, "LU": 4, "CH": 4, "NL": 4, "DE": 5}

_EVENT_ALIASES = {
    **dict.fromkeys(["open", "opened", "email_open", "email_opened", "ouverture"], "open"),
    **dict.fromkeys(["click", "clicked", "email_click", "email_clicked", "clic"], "click"),
    **dict.fromkeys(["visit", "visited", "page_view", "pageview", "view", "session",
                     "visite"], "visit"),
    **dict.fromkeys(["add_to_cart", "addtocart", "add to cart", "cart_add", "added_to_cart",
                     "ajout_panier", "cart"], "add_to_cart"),
    **dict.fromkeys(["purchase", "purchased", "order", "buy", "achat", "commande"], "purchase"),
}

_DATE_HINT = "expected a date such as 2024-03-15 or 15/03/2024"


@dataclass
class ContactsCleaned:
    """Result of :func:`clean_contacts`."""

    contacts: pd.DataFrame
    merges: pd.DataFrame          # row, contact_id, email, merged_into
    rejects: pd.DataFrame
    id_map: pd.Series             # every input contact_id and email -> surviving contact_id
    given_email_map: pd.Series | None  # built on first use: few event files key by email
    steps: list[tuple[str, int, str]]
    kept: np.ndarray | None = None  # per input row: True if it is a row of `contacts`

    @property
    def email_map(self) -> pd.Series:
        """Normalised email (of any input row, merged ones included) -> surviving contact_id."""
        if self.given_email_map is None:
            contacts, merges = self.contacts, self.merges
            if "email" not in contacts.columns:
                self.given_email_map = pd.Series(dtype=contacts["contact_id"].dtype)
                return self.given_email_map
            # Normalised again: with clean=False the contacts' emails are as typed.
            email_map = pd.Series(contacts["contact_id"].to_numpy(),
                                  index=normalise_emails(contacts["email"]).to_numpy())
            if len(merges):
                email_map = pd.concat([email_map, pd.Series(merges["merged_into"].to_numpy(),
                                                            index=merges["email"].to_numpy())])
            email_map = email_map[email_map.index.notna()]
            self.given_email_map = email_map[~email_map.index.duplicated(keep="first")]
        return self.given_email_map


def normalise_emails(values: pd.Series) -> pd.Series:
    """Trim and lower-case emails; empty strings become missing.

    Examples
    --------
    >>> normalise_emails(pd.Series(["  Jean.Dupont@Gmail.COM ", ""])).tolist()
    ['jean.dupont@gmail.com', nan]
    """
    text = values.astype("string").str.strip().str.lower()
    return text.mask(text == "").astype("str")


def _email_problems(normalised: pd.Series) -> pd.Series:
    """A short reason per invalid email (missing where valid)."""
    valid = normalised.str.fullmatch(EMAIL_PATTERN).fillna(False).astype(bool)
    problem = pd.Series(pd.NA, index=normalised.index, dtype="object")
    invalid = ~valid
    if not invalid.any():
        return problem
    sub = normalised[invalid]
    reason = np.select(
        [sub.isna().to_numpy(),
         sub.str.contains(r"\s", regex=True).fillna(False).to_numpy(dtype=bool),
         ~sub.str.contains("@", regex=False).fillna(False).to_numpy(dtype=bool),
         (sub.str.count("@") > 1).fillna(False).to_numpy(dtype=bool),
         ~sub.str.contains(r"@.+\..+", regex=True).fillna(False).to_numpy(dtype=bool)],
        ["missing", "contains a space", "no @", "more than one @", "domain has no dot"],
        default="invalid syntax",
    )
    problem[invalid] = reason
    return problem


def _by_categories(values: pd.Series, transform) -> pd.Series:
    """Apply a string transform on the distinct values only; returns a categorical Series.

    Cleaning 20M event types costs as much as cleaning the five distinct ones this way.
    Values the transform maps to missing become missing.
    """
    as_cat = values if isinstance(values.dtype, pd.CategoricalDtype) else values.astype("category")
    categories = pd.Series(as_cat.cat.categories.astype("object"))
    mapped = pd.Series(transform(categories.astype("string")), dtype="object")
    # Several raw values may map to one clean value ("Clicked", "click"): merge their codes.
    new_codes, new_categories = pd.factorize(mapped, use_na_sentinel=True)
    if isinstance(values.dtype, pd.CategoricalDtype) and len(new_categories) == len(categories) \
            and (np.asarray(new_categories, dtype=object) == categories.to_numpy()).all():
        return values  # already clean: skip re-encoding millions of codes
    lookup = np.append(new_codes, -1)  # old code -1 (missing) stays missing
    codes = lookup[as_cat.cat.codes.to_numpy()]
    result = pd.Categorical.from_codes(codes, categories=pd.Index(new_categories, dtype="object"))
    return pd.Series(result, index=values.index)


#: Columns that hold one value per row: a list there is an error, not something to flatten.
SINGLE_VALUE_COLUMNS = ("contact_id", "email", "order_id", "timestamp", "event_type",
                        "amount", "items")
_CONTAINERS = (list, tuple, set, frozenset, np.ndarray, dict)
# infer_dtype answers for object columns that cannot hold a list or a dict.
_SCALAR_KINDS = frozenset({"string", "bytes", "integer", "floating", "decimal", "boolean",
                           "datetime", "datetime64", "date", "time", "timedelta",
                           "timedelta64", "period", "interval", "complex", "empty",
                           "mixed-integer-float"})


@dataclass
class NestedColumns:
    """What :func:`flatten_nested` did: the converted columns and a report step for each."""

    tags: list[str]   # list cells joined into the canonical ``a|b`` multi-valued form
    json: list[str]   # dict (or nested list) cells written as JSON text
    steps: list[tuple[str, int, str]]


def _is_missing(value: object) -> bool:
    return value is None or value is pd.NA or value is pd.NaT or (
        isinstance(value, float) and np.isnan(value))


def _json_default(value: object) -> object:
    """What json cannot write itself: numpy values and arrays, timestamps, bytes."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if hasattr(value, "isoformat"):  # datetime, date, Timestamp
        return value.isoformat()
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=str)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _as_json(value: object) -> str | None:
    if _is_missing(value):
        return None
    if isinstance(value, str):
        return value
    if not isinstance(value, _CONTAINERS):
        return str(value)
    if isinstance(value, np.ndarray):
        value = value.tolist()
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=_json_default)


def _as_tags(value: object) -> str | None:
    """``["sport", "running", "sport"]`` -> ``"running|sport"`` (a lone string is one tag)."""
    if _is_missing(value):
        return None
    items = [value] if not isinstance(value, _CONTAINERS) else list(value)
    tags = sorted({str(item).strip() for item in items if not _is_missing(item)} - {""})
    return MULTI_VALUE_SEPARATOR.join(tags) if tags else None


def _nested_kind(values: pd.Series) -> tuple[str | None, list]:
    """``("tags" | "json" | None, python values)`` of a column that may hold lists or dicts."""
    dtype = values.dtype
    if isinstance(dtype, pd.ArrowDtype):
        import pyarrow as pa

        if not pa.types.is_nested(dtype.pyarrow_dtype):
            return None, []
        items = values.tolist()  # arrow lists and structs as Python lists and dicts
    elif pd.api.types.is_object_dtype(dtype):
        if pd.api.types.infer_dtype(values, skipna=True) in _SCALAR_KINDS:
            return None, []  # one C pass; the Python loop below runs on odd columns only
        items = values.tolist()
    else:
        return None, []
    containers = [v for v in items if isinstance(v, _CONTAINERS)]
    if not containers:
        return None, []
    flat = all(not isinstance(v, dict) and not any(isinstance(i, _CONTAINERS) for i in v)
               for v in containers)
    return ("tags" if flat else "json"), items


def flatten_nested(frame: pd.DataFrame, *, file: str, table: str
                   ) -> tuple[pd.DataFrame, NestedColumns]:
    """Columns of lists or dicts (Parquet ``list<string>``, structs) as text; not mutated.

    A column whose cells are flat lists becomes a multi-valued column in the canonical form
    (``["sport", "running"]`` -> ``"running|sport"``, like ``interests``), so ``has any``
    rules work on it. Dicts and nested lists become JSON text (keys sorted). Either way a
    report step names the file and column. Lists in a column that holds one value per row
    (``contact_id``, ``email``, ``timestamp``, ``amount``...) are a :class:`SchemaError`.

    Examples
    --------
    >>> frame = pd.DataFrame({"contact_id": [1, 2], "tags": [["b", "a"], None],
    ...                       "meta": [{"k": 1}, {"k": 2}]})
    >>> flat, done = flatten_nested(frame, file="c.parquet", table="contacts")
    >>> flat["tags"].tolist(), flat["meta"].tolist(), done.tags, done.json
    (['a|b', None], ['{"k": 1}', '{"k": 2}'], ['tags'], ['meta'])
    """
    converted: dict[str, pd.Series] = {}
    done = NestedColumns([], [], [])
    for column in frame.columns:
        kind, items = _nested_kind(frame[column])
        if kind is None:
            continue
        example = next(v for v in items if isinstance(v, _CONTAINERS))
        shown = _as_json(example)
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        if str(column) in SINGLE_VALUE_COLUMNS:
            raise SchemaError(
                f"{file}: column {str(column)!r} of the {table} holds lists or records "
                f"(e.g. {shown}); expected one value per row")
        convert = _as_tags if kind == "tags" else _as_json
        values = pd.Series([convert(v) for v in items], index=frame.index, dtype=object)
        converted[column] = values
        filled = int(values.notna().sum())
        if kind == "tags":
            done.tags.append(str(column))
            done.steps.append(("list values joined as tags", filled,
                               f"{column} in {file}: lists such as {shown} -> "
                               f"{_as_tags(example)!r} (multi-valued, use 'has any')"))
        else:
            done.json.append(str(column))
            done.steps.append(("nested values kept as JSON text", filled,
                               f"{column} in {file}: records such as {shown} kept as text"))
    if not converted:
        return frame, done
    flat = frame.copy(deep=False)  # copy-on-write: the caller's frame stays as it was
    for column, values in converted.items():
        flat[column] = values
    return flat, done


def _parse_date_column(frame: pd.DataFrame, column: str, *, dayfirst, file: str, table: str,
                       rows: np.ndarray, problems: ProblemLog,
                       tz: str = DEFAULT_TZ,
                       steps: list[tuple[str, int, str]] | None = None) -> pd.Series:
    """The column as naive datetimes; failures go to ``problems``, and a step says what
    was converted (offsets, zones) so that no conversion goes unreported."""
    values = frame[column]
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        return values.astype("datetime64[ns]")
    # Parse each distinct value once: birth and signup dates repeat a lot.
    as_cat = values.astype("category")
    parsed_categories, info = parse_datetimes(
        pd.Series(as_cat.cat.categories), dayfirst=dayfirst, column=column, path=file, tz=tz)
    codes = as_cat.cat.codes.to_numpy()
    parsed = np.asarray(parsed_categories.to_numpy(dtype="datetime64[ns]"))
    out = np.where(codes >= 0, parsed[np.maximum(codes, 0)], np.datetime64("NaT"))
    result = pd.Series(out.astype("datetime64[ns]"), index=values.index)
    failed = (codes >= 0) & np.isnat(out)
    if failed.any():
        problems.add(table=table, file=file, rows=rows[failed], column=column,
                     values=values[failed], problem=f"not a date ({_DATE_HINT})",
                     action="set missing")
    if steps is not None and info.notes:
        steps.append((f"{column} parsed", int((codes >= 0).sum()), "; ".join(info.notes)))
    return result


def _reject_frame(frame: pd.DataFrame, positions: np.ndarray, reasons, *, table: str,
                  file: str, rows: np.ndarray) -> pd.DataFrame:
    picked = frame.iloc[positions].reset_index(drop=True).astype("object")
    head = pd.DataFrame({"table": table, "file": file, "row": rows[positions],
                         "reason": reasons})
    return pd.concat([head, picked], axis=1)


def _empty_rejects() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="object") for c in REJECT_COLUMNS})


def clean_contacts(raw: pd.DataFrame, *, file: str, rows: np.ndarray, problems: ProblemLog,
                   dayfirst: bool | None = None, separators: dict | None = None,
                   now: pd.Timestamp | None = None, tz: str = DEFAULT_TZ) -> ContactsCleaned:
    """Clean the contacts table (canonical column names already applied).

    Parameters
    ----------
    raw : DataFrame
        Contacts as read, canonical names. Not mutated.
    file : str
        Name used in problem reports.
    rows : ndarray
        Row label of each input row for reports (file line, or DataFrame index label).
    problems : ProblemLog
        Receives cell-level problems.
    dayfirst : bool, optional
        Forwarded to date parsing; detected when None.
    separators : dict, optional
        Separator of each multi-valued column in the input (default ``|``; ``;`` and ``,``
        are detected).
    now : Timestamp, optional
        Dates after ``now`` are "in the future" (default: the current time).
    tz : str, default "UTC"
        Zone that dates written with an offset are converted to (see ``parse_datetimes``).
    """
    now = pd.Timestamp.now() if now is None else now
    frame = raw.reset_index(drop=True)
    n = len(frame)
    steps: list[tuple[str, int, str]] = []
    reject_blocks: list[pd.DataFrame] = []
    alive = np.ones(n, dtype=bool)

    if "contact_id" not in frame.columns:
        frame["contact_id"] = np.arange(1, n + 1, dtype="int64")
        steps.append(("contact_id assigned", n, "no contact_id column: ids 1..n in file order"))
    elif pd.api.types.is_string_dtype(frame["contact_id"].dtype) or \
            frame["contact_id"].dtype == object:
        frame["contact_id"] = frame["contact_id"].astype("string").str.strip().astype("str")

    # Emails.
    if "email" in frame.columns:
        frame["email_original"] = frame["email"]
        frame["email"] = normalise_emails(frame["email"])
    else:
        frame["email"] = pd.Series(np.nan, index=frame.index, dtype="str")
        frame["email_original"] = frame["email"]
    changed = (frame["email"].fillna("") != frame["email_original"].astype("string").fillna(""))
    steps.append(("email trimmed / lower-cased", int(changed.sum()), "original kept in email_original"))

    no_identifier = frame["contact_id"].isna().to_numpy() & frame["email"].isna().to_numpy()
    if no_identifier.any():
        positions = np.flatnonzero(no_identifier)
        reject_blocks.append(_reject_frame(raw, positions, "no contact_id and no email",
                                           table="contacts", file=file, rows=rows))
        alive[positions] = False
    missing_id = frame["contact_id"].isna().to_numpy() & alive
    if missing_id.any():
        positions = np.flatnonzero(missing_id)
        reject_blocks.append(_reject_frame(raw, positions, "contact_id is missing",
                                           table="contacts", file=file, rows=rows))
        alive[positions] = False
    frame["contact_id"] = _integer_ids(frame["contact_id"], alive)

    # Dates first: the merge keeps the earliest signup date.
    for column in ("birth_date", "signup_date", "consent_date", "updated_at"):
        if column in frame.columns:
            frame[column] = _parse_date_column(frame, column, dayfirst=dayfirst, file=file,
                                               table="contacts", rows=rows, problems=problems,
                                               tz=tz, steps=steps)
            future = (frame[column] > now).to_numpy()
            if future.any():
                problems.add(table="contacts", file=file, rows=rows[future], column=column,
                             values=frame.loc[future, column], problem="date in the future",
                             action="set missing")
                frame.loc[future, column] = pd.NaT
    if "birth_date" in frame.columns:
        too_old = (frame["birth_date"] < pd.Timestamp("1900-01-01")).to_numpy()
        if too_old.any():
            problems.add(table="contacts", file=file, rows=rows[too_old], column="birth_date",
                         values=frame.loc[too_old, "birth_date"], problem="before 1900",
                         action="set missing")
            frame.loc[too_old, "birth_date"] = pd.NaT

    if "consent" in frame.columns:
        frame["consent"] = _normalise_consent(frame["consent"], file=file, rows=rows,
                                              problems=problems)
    if "country" in frame.columns:
        frame["country"] = _by_categories(
            frame["country"], lambda s: s.str.strip().str.lower().map(_COUNTRY_ALIASES)
            .fillna(s.str.strip().str.upper()))
    if "postal_code" in frame.columns:
        frame["postal_code"] = _normalise_postal_codes(frame, file=file, rows=rows,
                                                       problems=problems, steps=steps)
    for column, sep in (separators or {}).items():
        if column in frame.columns:
            frame[column] = _normalise_multi(frame[column], sep)
    if "interests" in frame.columns and "interests" not in (separators or {}):
        frame["interests"] = _normalise_multi(frame["interests"], None)

    # Duplicates by normalised email; only valid emails identify a person ("no-email"
    # typed into several records does not make them one person).
    problem = _email_problems(frame["email"])
    valid = problem.isna().to_numpy()
    frame["_position"] = np.arange(n)
    merges, id_updates = _merge_duplicates(frame, alive & valid, rows=rows, steps=steps)
    merged_positions = merges.pop("_position").to_numpy(dtype=int) if len(merges) else np.array([], int)
    alive[merged_positions] = False
    if id_updates is not None:
        for column, values in id_updates.items():
            current = frame[column]
            if isinstance(current.dtype, pd.CategoricalDtype):
                new = pd.Index(values.dropna().unique()).difference(current.cat.categories)
                if len(new):  # e.g. united interests make new combinations
                    frame[column] = current.cat.add_categories(new)
            frame.loc[values.index, column] = values.to_numpy()

    # A contact_id reused by a different person: keep the first, reject the others.
    reused = alive & frame["contact_id"].duplicated(keep=False).to_numpy()
    if reused.any():
        later = reused & frame["contact_id"].where(alive).duplicated(keep="first").to_numpy()
        positions = np.flatnonzero(later)
        if len(positions):
            reject_blocks.append(_reject_frame(
                raw, positions, "contact_id reused by a different email (first row kept)",
                table="contacts", file=file, rows=rows))
            alive[positions] = False

    frame["email_valid"] = valid
    frame["email_problem"] = pd.Categorical(problem)
    invalid = alive & ~frame["email_valid"].to_numpy()
    if invalid.any():
        problems.add(table="contacts", file=file, rows=rows[invalid], column="email",
                     values=frame.loc[invalid, "email_original"],
                     problem=frame.loc[invalid, "email_problem"].astype("object"),
                     action="flagged (email_valid = False)")
    steps.append(("invalid email flagged", int(invalid.sum()), "kept, email_valid = False"))

    contacts = frame.loc[alive].drop(columns="_position").reset_index(drop=True)
    contacts = _to_categories(contacts)
    rejects = (pd.concat(reject_blocks, ignore_index=True) if reject_blocks else _empty_rejects())
    for reason, count in rejects["reason"].value_counts().items():
        steps.append((f"rejected: {reason}", int(count), ""))

    # Every input id and email leads to the surviving contact.
    survivors = contacts["contact_id"]
    id_map = pd.Series(survivors.to_numpy(), index=survivors.to_numpy())
    if len(merges):
        id_map = pd.concat([id_map, pd.Series(merges["merged_into"].to_numpy(),
                                              index=merges["contact_id"].to_numpy())])
    id_map = id_map[~id_map.index.duplicated(keep="first")]
    return ContactsCleaned(contacts, merges, rejects, id_map, None, steps, alive)


def _integer_ids(ids: pd.Series, alive: np.ndarray) -> pd.Series:
    """Float ids that are all whole numbers back to integers (rows not alive set to 0).

    pandas reads an integer column with one blank cell as float (``1`` -> ``1.0``); once
    the rows without an id are rejected, the others get their integer ids back.
    """
    if not pd.api.types.is_float_dtype(ids.dtype):
        return ids
    kept = ids[alive]
    if kept.isna().any() or not (kept == np.floor(kept)).all() or \
            (len(kept) and kept.abs().max() >= 2.0**63):
        return ids
    return ids.where(alive, 0).astype("int64")


def _normalise_consent(values: pd.Series, *, file, rows, problems) -> pd.Categorical:
    if pd.api.types.is_bool_dtype(values.dtype):
        mapped = values.map({True: "given", False: "withdrawn"})
    else:
        mapped = _by_categories(values, lambda s: s.str.strip().str.lower().map(CONSENT_ALIASES))
    unknown = (values.notna() & mapped.isna()).to_numpy()
    if unknown.any():
        problems.add(table="contacts", file=file, rows=rows[unknown], column="consent",
                     values=values[unknown],
                     problem=f"unrecognised consent value (expected one of {list(CONSENT_VALUES)})",
                     action="set to 'unknown'")
    return pd.Categorical(mapped.astype("object").fillna("unknown"), categories=CONSENT_CATEGORIES)


def _normalise_postal_codes(frame, *, file, rows, problems, steps) -> pd.Series:
    """Tidy codes and restore lost leading zeros, working on distinct (code, country) pairs:
    a million contacts share a few thousand of them."""
    country = (frame["country"] if "country" in frame.columns
               else pd.Series(pd.NA, index=frame.index, dtype="object"))
    code_ids, code_values = pd.factorize(frame["postal_code"], use_na_sentinel=False)
    country_ids, country_values = pd.factorize(country, use_na_sentinel=False)
    width = len(country_values) + 1
    pair_codes, pair_keys = pd.factorize(code_ids.astype(np.int64) * width + country_ids)
    distinct = pd.DataFrame({
        "code": np.asarray(code_values, dtype=object)[pair_keys // width],
        "country": np.asarray(country_values, dtype=object)[pair_keys % width]})
    text = distinct["code"].astype("string").str.strip().str.replace(r"\.0$", "", regex=True)
    codes = text.str.replace(r"[\s.\-]", "", regex=True).str.upper()
    expected = distinct["country"].map(_POSTAL_DIGITS).astype("Float64")
    digits = codes.str.fullmatch(r"\d+").fillna(False).astype(bool)
    short = (digits & (codes.str.len().astype("Float64") < expected)).fillna(False)
    short = short.astype(bool).to_numpy()
    if short.any():
        widths = expected[short].astype(int).to_numpy()
        codes[short] = [c.zfill(w) for c, w in zip(codes[short], widths, strict=True)]
        padded = int(np.isin(pair_codes, np.flatnonzero(short)).sum())
        steps.append(("postal code zero-padded", padded,
                      "leading zeros restored (e.g. 1000 -> 01000 in France)"))
    lengths = codes.str.len().astype("Float64")
    wrong = (codes.notna() & expected.notna() & ((lengths != expected) | ~digits))
    wrong_rows = np.isin(pair_codes, np.flatnonzero(wrong.fillna(False).astype(bool).to_numpy()))
    if wrong_rows.any():
        problems.add(table="contacts", file=file, rows=rows[wrong_rows], column="postal_code",
                     values=frame.loc[wrong_rows, "postal_code"],
                     problem="not a postal code of the contact's country "
                             "(FR: 5 digits, BE: 4 digits)", action="kept as is")
    weights = np.bincount(pair_codes, minlength=len(distinct))
    unusual, step = _codes_without_country(codes, distinct["country"].isna().to_numpy(),
                                           expected, weights)
    if step is not None:
        steps.append(step)
    if unusual.notna().any():
        flagged = np.flatnonzero(unusual.notna().to_numpy())
        at = np.isin(pair_codes, flagged)
        problems.add(table="contacts", file=file, rows=rows[at], column="postal_code",
                     values=frame.loc[at, "postal_code"],
                     problem=unusual.to_numpy(dtype=object)[pair_codes[at]],
                     action="kept as is (not padded)")
    result_codes, categories = pd.factorize(codes.astype("object"), use_na_sentinel=True)
    return pd.Series(pd.Categorical.from_codes(result_codes[pair_codes], categories=categories),
                     index=frame.index)


#: Share of contacts one postal code length must reach to call other lengths unusual.
_USUAL_LENGTH_SHARE = 0.8


def _codes_without_country(codes: pd.Series, no_country: np.ndarray, expected: pd.Series,
                           weights: np.ndarray) -> tuple[pd.Series, tuple | None]:
    """Check postal codes that have no country to say how many digits they need.

    Works on distinct (code, country) pairs, ``weights`` being the rows of each. Nothing
    is padded: a 4-digit code may be Belgian as well as a French code that lost its zero.
    A code is reported when most contacts' codes (at least 80%) have another number of
    digits: measured on the contacts whose country is known when there are any, else on
    the codes themselves. Returns the problem text per pair (missing where fine) and a
    report step.
    """
    problem = pd.Series(pd.NA, index=codes.index, dtype="object")
    without = no_country & codes.notna().to_numpy()
    if not without.any():
        return problem, None
    n_rows = int(weights[without].sum())
    digits = codes.str.fullmatch(r"\d+").fillna(False).to_numpy(dtype=bool)
    lengths = codes.str.len().fillna(0).to_numpy(dtype=int)
    known = expected.notna().to_numpy()
    # The lengths the base usually has: its known countries' lengths, else its own codes'.
    if known.any():
        usual = pd.Series(weights[known]).groupby(expected[known].astype(int).to_numpy()).sum()
    else:
        picked = without & digits
        usual = pd.Series(weights[picked]).groupby(lengths[picked]).sum()
    if usual.empty or usual.max() < _USUAL_LENGTH_SHARE * usual.sum():
        mix = ", ".join(f"{length} digits: {int(count):,}"
                        for length, count in usual.sort_index().items())
        return problem, ("postal codes without country", n_rows,
                         f"no country and lengths mixed ({mix or 'no digit codes'}): not "
                         "checked, not padded; add a country column to check them")
    length = int(usual.idxmax())
    odd = without & (~digits | (lengths != length))
    for position in np.flatnonzero(odd):
        code = codes.iloc[position]
        shape = f"has {lengths[position]} digits" if digits[position] else "is not all digits"
        problem.iloc[position] = (f"postal code {code} {shape} where most codes have "
                                  f"{length}; no country to tell how many are expected")
    n_odd = int(weights[odd].sum())
    detail = (f"no country: not padded; {n_odd:,} of another length than the usual "
              f"{length} digits reported" if n_odd else
              f"no country: not padded; all have the usual {length} digits")
    return problem, ("postal codes without country", n_rows, detail)


def _canonical_tags(text: pd.Series, separator: str | None) -> pd.Series:
    """Canonical multi-value strings: stripped, de-duplicated, sorted, joined with ``|``.

    ``separator`` None: the first of ``|``, ``;``, ``,`` found in the values.
    """
    if separator is None:
        sample = text.dropna()
        separator = next((s for s in ("|", ";", ",")
                          if sample.str.contains(s, regex=False).any()), MULTI_VALUE_SEPARATOR)
    out = []
    for item in text:
        if item is None or item is pd.NA or (isinstance(item, float) and np.isnan(item)):
            out.append(None)
            continue
        tags = sorted({t.strip() for t in str(item).split(separator) if t.strip()})
        out.append(MULTI_VALUE_SEPARATOR.join(tags) if tags else None)
    return pd.Series(out, index=text.index, dtype="object")


def _normalise_multi(values: pd.Series, separator: str | None) -> pd.Series:
    # Loop over distinct values only: a few thousand combinations at most.
    result = _by_categories(values.astype("string"),
                            lambda text: _canonical_tags(text, separator))
    return result.astype("category")


def _merge_duplicates(frame: pd.DataFrame, alive: np.ndarray, *, rows, steps):
    """Merge rows sharing a normalised email; returns (merges, {column: updated values})."""
    key = frame["email"].where(alive)
    dup = (key.notna() & key.duplicated(keep=False)).to_numpy()
    empty = pd.DataFrame({"row": [], "contact_id": [], "email": [], "merged_into": [],
                          "_position": []})
    if not dup.any():
        steps.append(("duplicates merged", 0, "same valid email after normalisation"))
        return empty, None
    group = frame.loc[dup].copy()
    recency = "updated_at" if "updated_at" in group.columns else "_position"
    group = group.sort_values(["email", recency, "_position"], kind="stable")
    grouped = group.groupby("email", sort=False, observed=True)

    # Survivor: earliest signup, then first in the file.
    if "signup_date" in group.columns:
        order = group.sort_values(["email", "signup_date", "_position"], na_position="last",
                                  kind="stable")
    else:
        order = group.sort_values(["email", "_position"], kind="stable")
    survivor = order.groupby("email", sort=False, observed=True).head(1).set_index("email")

    skip = {"email", "_position", "contact_id", "email_original", "signup_date", "consent",
            "consent_date", "interests"}
    columns = [c for c in group.columns if c not in skip]
    latest = grouped[columns].last() if columns else pd.DataFrame(index=survivor.index)
    merged = latest.reindex(survivor.index)
    if "signup_date" in group.columns:
        merged["signup_date"] = grouped["signup_date"].min()
    if "interests" in group.columns:
        tags = group[["email", "interests"]].dropna()
        united = (tags.assign(tag=tags["interests"].astype(str).str.split(MULTI_VALUE_SEPARATOR))
                  .explode("tag").groupby("email", observed=True)["tag"]
                  .agg(lambda t: MULTI_VALUE_SEPARATOR.join(sorted(set(t)))))
        merged["interests"] = united.reindex(survivor.index)
    if "consent" in group.columns:
        rank = group["consent"].astype("object").map(_CONSENT_RANK).fillna(0)
        best = rank.groupby(group["email"]).transform("max")
        winners = group[rank == best]
        by_email = winners.groupby("email", sort=False, observed=True)
        merged["consent"] = by_email["consent"].first().astype("object")
        if "consent_date" in group.columns:
            merged["consent_date"] = by_email["consent_date"].max()
    merged["contact_id"] = survivor["contact_id"]
    merged["email_original"] = survivor["email_original"]

    survivor_positions = survivor["_position"].to_numpy()
    updates = {}
    for column in merged.columns:
        updates[column] = pd.Series(merged[column].to_numpy(), index=survivor_positions)

    losers = group[~group["_position"].isin(survivor_positions)]
    survivor_id = survivor["contact_id"]
    merges = pd.DataFrame({
        "row": rows[losers["_position"].to_numpy()],
        "contact_id": losers["contact_id"].to_numpy(),
        "email": losers["email"].to_numpy(),
        "merged_into": survivor_id.reindex(losers["email"]).to_numpy(),
        "_position": losers["_position"].to_numpy(),
    })
    steps.append(("duplicates merged", len(merges),
                  f"{len(survivor):,} contacts had several rows with the same valid email"))
    return merges, updates


def _to_categories(frame: pd.DataFrame) -> pd.DataFrame:
    """Low-cardinality text columns become ``category`` (5-10x faster rule evaluation)."""
    converted = {}
    for column in frame.columns:
        values = frame[column]
        if column in ("email", "email_original", "contact_id", "order_id"):
            continue
        if (pd.api.types.is_string_dtype(values.dtype) or values.dtype == object) and \
                not isinstance(values.dtype, pd.CategoricalDtype) and looks_categorical(values):
            converted[column] = values.astype("category")
    return frame.assign(**converted) if converted else frame


def _compact_int_keys(keys: np.ndarray, ids: np.ndarray) -> int | None:
    """The largest key when integer ids fit a direct look-up table, else None."""
    if len(keys) and keys.dtype.kind in "iu" and ids.dtype.kind in "iu" and keys.min() >= 0 \
            and keys.max() <= 20 * len(keys) + 1000:
        return int(keys.max())
    return None


def known_ids(ids: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Whether each id is one of ``keys`` (which may repeat: one per event).

    Integer ids go through a 1-byte-per-id table that stays in cache (20M look-ups in a
    few tens of milliseconds); other ids (text, UUIDs, large integers) through a hash set.

    Examples
    --------
    >>> known_ids(np.array(["00001", "00002"], dtype=object),
    ...           np.array(["00001", "00001"], dtype=object)).tolist()
    [True, False]
    """
    high = _compact_int_keys(keys, ids)
    if high is None:
        # isin, not get_indexer: event ids repeat, and get_indexer needs unique keys.
        return np.asarray(pd.Index(ids).isin(keys), dtype=bool)
    table = np.zeros(high + 2, dtype=bool)  # the last slot catches unknown ids
    table[keys] = True
    return table[np.clip(ids, -1, high + 1)]  # -1 also lands on the last slot


def _map_ids(ids: np.ndarray, id_map: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Surviving contact id of each event's contact id, and whether it was found.

    Integer ids in a compact range go through a direct look-up table (20M events in a
    fraction of a second, where a hash look-up takes seconds).
    """
    keys = id_map.index.to_numpy()
    values = id_map.to_numpy()
    if len(keys) == 0:
        return np.zeros(len(ids), dtype=values.dtype), np.zeros(len(ids), dtype=bool)
    high = _compact_int_keys(keys, ids)
    if high is not None:
        if np.array_equal(keys, values):  # nobody merged: ids map to themselves
            return ids, known_ids(ids, keys)
        table = np.full(high + 2, -1, dtype=np.int64)  # the last slot catches unknown ids
        table[keys] = np.arange(len(keys))
        positions = table[np.clip(ids, -1, high + 1)]  # -1 also lands on the last slot
    else:
        positions = id_map.index.get_indexer(ids)
    found = positions >= 0
    return values[np.where(found, positions, 0)], found


def _comparable_ids(ids: pd.Series, contact_ids: pd.Index) -> pd.Series:
    """Event ids in the type of the contacts' ids, so equal ids compare equal.

    Text contact ids (``"00001"``, UUIDs, a mixed column) meet integer event ids as their
    decimal text (``10003`` -> ``"10003"``; ``1`` stays unlike ``"00001"``: no guessing).
    Integer contact ids meet text event ids as numbers. Floats holding integers (an id
    column with a blank cell) become integers first.

    Examples
    --------
    >>> _comparable_ids(pd.Series([10003, 1]), pd.Index(["00001", "10003"])).tolist()
    ['10003', '1']
    >>> _comparable_ids(pd.Series([" 7", None]), pd.Index([7, 8])).tolist()
    [7, <NA>]
    """
    text_contacts = pd.api.types.is_string_dtype(contact_ids.dtype) or \
        contact_ids.dtype == object
    if pd.api.types.is_string_dtype(ids.dtype) or ids.dtype == object:
        ids = ids.astype("string").str.strip()
        return ids if text_contacts else pd.to_numeric(ids, errors="coerce")
    if pd.api.types.is_float_dtype(ids.dtype):
        integral = ids.isna() | (ids == np.floor(ids))
        if not integral.all():
            return ids  # 1.5 is nobody's id: left unmatched, rejected as unknown
        ids = ids.astype("Int64")
    if text_contacts and pd.api.types.is_integer_dtype(ids.dtype):
        return ids.astype("string")
    return ids


def _report_repeated_orders(raw: pd.DataFrame, standing: np.ndarray, *, file: str, rows,
                            problems: ProblemLog) -> list[tuple[str, int, str]]:
    """Orders without an ``order_id`` column that repeat an earlier row in every column.

    Two identical orders may be real (the same product bought twice in a minute) or one
    order exported twice: nothing tells them apart, so they are kept and reported, each
    naming the row it repeats. Only rows still standing count.
    """
    positions = np.flatnonzero(standing)
    kept = raw if len(positions) == len(raw) else raw.iloc[positions]
    if len(kept) < 2 or len(kept.columns) == 0:
        return []
    twins = kept.duplicated(keep=False).to_numpy()
    if not twins.any():
        return []
    group = kept[twins]
    first = (group.assign(_position=positions[twins])
             .groupby(list(group.columns), dropna=False, sort=False, observed=True)
             ["_position"].transform("min").to_numpy())
    later = first != positions[twins]
    repeat_at, first_at = positions[twins][later], first[later]
    word = "line" if isinstance(rows, FileRows) else "row"
    labels, first_labels = rows[repeat_at], rows[first_at]
    problems.add(table="orders", file=file, rows=labels, column="(all columns)",
                 values=[f"same as {word} {label}" for label in first_labels],
                 problem="repeats an earlier order in every column; without an order_id "
                         "column two real orders cannot be told from one exported twice",
                 action="kept (may be two real orders)")
    return [("repeated orders kept", len(repeat_at),
             f"no order_id column: {len(repeat_at):,} rows of {file} repeat an earlier row "
             f"exactly (e.g. {word} {labels[0]} = {word} {first_labels[0]}); kept, see "
             "report.issues")]


def clean_activity(raw: pd.DataFrame, *, table: str, file: str, rows: np.ndarray,
                   contacts: ContactsCleaned, problems: ProblemLog,
                   dayfirst: bool | None = None, now: pd.Timestamp | None = None,
                   decimal: str | None = None, tz: str = DEFAULT_TZ
                   ) -> tuple[pd.DataFrame, pd.DataFrame, list, np.ndarray]:
    """Clean an events or orders table; returns (clean, rejects, steps, kept mask).

    Rows are rejected (kept in the rejects table with their reason) when their contact is
    unknown, their timestamp is missing, unparseable or in the future, their amount is not
    a number or negative, or (orders) their ``order_id`` repeats an earlier row.
    """
    now = pd.Timestamp.now() if now is None else now
    frame = raw.reset_index(drop=True)
    n = len(frame)
    steps: list[tuple[str, int, str]] = []
    # One small code per row (0 = fine) instead of an object array of 20M reasons.
    reason_code = np.zeros(n, dtype=np.int8)
    reasons: list[str] = [""]

    def reject(mask: np.ndarray, why: str) -> None:
        fresh = mask & (reason_code == 0)
        if fresh.any():
            reasons.append(why)
            reason_code[fresh] = len(reasons) - 1

    # Contact: by id, else by email; merged contacts move to their survivor.
    if "contact_id" in frame.columns:
        ids = _comparable_ids(frame["contact_id"], contacts.id_map.index)
        target, found = _map_ids(ids.to_numpy(), contacts.id_map)
        source_values = frame["contact_id"]
        what = "contact_id"
    else:
        emails = normalise_emails(frame["email"])
        target, found = _map_ids(emails.to_numpy(), contacts.email_map)
        source_values = frame["email"]
        what = "email"
    missing = source_values.isna().to_numpy()
    reject(missing, f"{what} is missing")
    reject(~found & ~missing, f"unknown {what} (not in contacts)")
    frame["contact_id"] = target
    if "email" in frame.columns:
        frame = frame.drop(columns="email")

    stamps, info = None, None
    if pd.api.types.is_datetime64_any_dtype(frame["timestamp"].dtype):
        stamps = frame["timestamp"].astype("datetime64[ns]")
    else:
        stamps, info = parse_datetimes(frame["timestamp"], dayfirst=dayfirst, column="timestamp",
                                       path=file, tz=tz)
    raw_missing = frame["timestamp"].isna().to_numpy()
    reject(raw_missing, "timestamp is missing")
    reject(stamps.isna().to_numpy() & ~raw_missing, f"timestamp is not a date ({_DATE_HINT})")
    reject((stamps > now).to_numpy(), f"timestamp in the future (after {now:%Y-%m-%d %H:%M})")
    frame["timestamp"] = stamps

    for column in ("amount", "items"):
        if column not in frame.columns:
            continue
        values = frame[column]
        if not pd.api.types.is_numeric_dtype(values.dtype):
            numbers, failures = parse_numbers(values, decimal=decimal, column=column, path=file)
            bad = values.notna().to_numpy() & numbers.isna().to_numpy()
            reject(bad, f"{column} is not a number")
            values = numbers
        frame[column] = values.astype("float64")
        reject((frame[column] < 0).fillna(False).to_numpy(dtype=bool), f"negative {column}")

    if "event_type" in frame.columns:
        frame["event_type"] = _by_categories(
            frame["event_type"], lambda s: s.str.strip().str.lower().map(_EVENT_ALIASES)
            .fillna(s.str.strip().str.lower()))
        reject(frame["event_type"].isna().to_numpy(), "event_type is missing")
    if table == "orders" and "order_id" in frame.columns:
        # Only rows still standing count: a rejected row does not make its twin a repeat.
        standing = frame["order_id"].where(reason_code == 0)
        repeated = standing.duplicated(keep="first").to_numpy() & standing.notna().to_numpy()
        reject(repeated, "order_id repeats an earlier row")
    elif table == "orders":
        steps += _report_repeated_orders(raw.reset_index(drop=True), reason_code == 0,
                                         file=file, rows=rows, problems=problems)

    bad = reason_code != 0
    reason_text = np.asarray(reasons, dtype=object)
    rejects = (_reject_frame(raw, np.flatnonzero(bad), reason_text[reason_code[bad]],
                             table=table, file=file, rows=rows)
               if bad.any() else _empty_rejects())
    clean = frame.loc[~bad].reset_index(drop=True) if bad.any() else frame
    if "event_type" in clean.columns:
        # The standard types first, in their funnel order; no pass over the 20M codes.
        present = set(clean["event_type"].cat.categories)
        order = [t for t in EVENT_TYPES if t in present] + sorted(present - set(EVENT_TYPES))
        if list(clean["event_type"].cat.categories) != order:
            clean["event_type"] = clean["event_type"].cat.reorder_categories(order)
    if "items" in clean.columns and clean["items"].notna().all():
        clean["items"] = clean["items"].astype("int64")
    clean = _to_categories(clean)
    counts = np.bincount(reason_code[bad], minlength=len(reasons)) if bad.any() else \
        np.zeros(len(reasons), dtype=np.int64)
    for code, why in enumerate(reasons[1:], start=1):
        steps.append((f"rejected: {why}", int(counts[code]), ""))
    if info is not None:
        steps.append(("timestamps parsed", int(n), info.summary()))  # order, layouts, zones
    return clean, rejects, steps, ~bad

