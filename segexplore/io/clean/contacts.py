"""Clean the contacts table: emails normalised and checked, consent, postal codes and
multi-valued columns normalised, duplicates (same valid email) merged into one record.

The cleaning policy of all three tables is in :mod:`segexplore.io.clean`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from segexplore.io.parsing import DEFAULT_TZ, parse_datetimes
from segexplore.model.columns import CONSENT_VALUES, MULTI_VALUE_SEPARATOR
from segexplore.model.report import REJECT_COLUMNS, ProblemLog
from segexplore.model.roles import looks_categorical

__all__ = ["EMAIL_PATTERN", "clean_contacts", "ContactsCleaned", "normalise_emails",
           "CONSENT_ALIASES", "CONSENT_RANK", "COUNTRY_ALIASES", "POSTAL_DIGITS",
           "DIGITS_PATTERN", "email_problems", "text_key", "country_codes",
           "tidy_postal_codes", "canonical_tags"]

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
#: Which consent wins when duplicates merge: a withdrawal is never undone.
CONSENT_RANK = {"unknown": 0, "pending": 1, "given": 2, "withdrawn": 3}

#: Country names and codes (after :func:`text_key`) and their ISO code.
COUNTRY_ALIASES = {
    **dict.fromkeys(["fr", "fra", "france"], "FR"),
    **dict.fromkeys(["be", "bel", "belgique", "belgie", "belgië", "belgium", "belgien"], "BE"),
    **dict.fromkeys(["lu", "lux", "luxembourg"], "LU"),
    **dict.fromkeys(["ch", "che", "suisse", "switzerland", "schweiz"], "CH"),
    **dict.fromkeys(["nl", "nld", "pays-bas", "nederland", "netherlands"], "NL"),
    **dict.fromkeys(["de", "deu", "allemagne", "germany", "deutschland"], "DE"),
}
#: Digits of a postal code per country (shorter all-digit codes are zero-padded).
POSTAL_DIGITS = {"FR": 5, "BE": 4, "LU": 4, "CH": 4, "NL": 4, "DE": 5}

#: A postal code made of digits only.
DIGITS_PATTERN = r"\d+"

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


def text_key(text: pd.Series) -> pd.Series:
    """Trimmed and lower-cased text: how consent, country and event-type words are looked up.

    Examples
    --------
    >>> text_key(pd.Series([" Oui ", "OPT-IN"], dtype="string")).tolist()
    ['oui', 'opt-in']
    """
    return text.str.strip().str.lower()


def country_codes(text: pd.Series) -> pd.Series:
    """ISO codes of country names or codes (``" France"`` -> ``"FR"``); others upper-cased.

    Examples
    --------
    >>> country_codes(pd.Series(["belgique", " it "], dtype="string")).tolist()
    ['BE', 'IT']
    """
    return text_key(text).map(COUNTRY_ALIASES).fillna(text.str.strip().str.upper())


def tidy_postal_codes(values: pd.Series) -> pd.Series:
    """Postal codes trimmed, without a trailing ``.0`` (a code read as a number), spaces,
    dots and dashes, upper-cased; not padded (that needs the country).

    Examples
    --------
    >>> tidy_postal_codes(pd.Series([" 1000.0", "l-1234", "75 001"])).tolist()
    ['1000', 'L1234', '75001']
    """
    text = values.astype("string").str.strip().str.replace(r"\.0$", "", regex=True)
    return text.str.replace(r"[\s.\-]", "", regex=True).str.upper()


def email_problems(normalised: pd.Series) -> pd.Series:
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
    # a NaT after the categories' dates: where codes are -1 (missing), and the only
    # date of a column with no value at all
    parsed = np.append(parsed_categories.to_numpy(dtype="datetime64[ns]"),
                       np.datetime64("NaT", "ns"))
    out = parsed[np.where(codes >= 0, codes, len(parsed) - 1)]
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
            frame["country"], country_codes)
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
    problem = email_problems(frame["email"])
    valid = problem.isna().to_numpy()
    frame["_position"] = np.arange(n)
    merges, id_updates = _merge_duplicates(frame, alive & valid, rows=rows, steps=steps)
    merged_positions = merges.pop("_position").to_numpy(dtype=int)
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
        mapped = _by_categories(values, lambda s: text_key(s).map(CONSENT_ALIASES))
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
    codes = tidy_postal_codes(distinct["code"])
    expected = distinct["country"].map(POSTAL_DIGITS).astype("Float64")
    digits = codes.str.fullmatch(DIGITS_PATTERN).fillna(False).astype(bool)
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
    digits = codes.str.fullmatch(DIGITS_PATTERN).fillna(False).to_numpy(dtype=bool)
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


def canonical_tags(text: pd.Series, separator: str | None) -> pd.Series:
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
                            lambda text: canonical_tags(text, separator))
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
        rank = group["consent"].astype("object").map(CONSENT_RANK).fillna(0)
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


