"""Clean the events and orders tables: their contact is known (by id or email, merged
duplicates moved to the survivor), their time parses and is not in the future, amounts are
numbers, order ids do not repeat; every rejected row kept with its reason."""

from __future__ import annotations

import numpy as np
import pandas as pd

from segexplore.io.clean.contacts import (
    _DATE_HINT,
    ContactsCleaned,
    _by_categories,
    _empty_rejects,
    _reject_frame,
    _to_categories,
    normalise_emails,
    text_key,
)
from segexplore.io.clean.ids import _comparable_ids, _map_ids
from segexplore.io.parsing import DEFAULT_TZ, parse_datetimes, parse_numbers
from segexplore.model.columns import EVENT_TYPES
from segexplore.model.report import FileRows, ProblemLog

__all__ = ["clean_activity", "EVENT_ALIASES", "event_types"]

#: Event-type words (after :func:`~segexplore.io.clean.contacts.text_key`) and their type.
EVENT_ALIASES = {
    **dict.fromkeys(["open", "opened", "email_open", "email_opened", "ouverture"], "open"),
    **dict.fromkeys(["click", "clicked", "email_click", "email_clicked", "clic"], "click"),
    **dict.fromkeys(["visit", "visited", "page_view", "pageview", "view", "session",
                     "visite"], "visit"),
    **dict.fromkeys(["add_to_cart", "addtocart", "add to cart", "cart_add", "added_to_cart",
                     "ajout_panier", "cart"], "add_to_cart"),
    **dict.fromkeys(["purchase", "purchased", "order", "buy", "achat", "commande"], "purchase"),
}





def event_types(text: pd.Series) -> pd.Series:
    """Canonical event types: known words mapped (``"Ouverture"`` -> ``"open"``), others
    trimmed and lower-cased.

    Examples
    --------
    >>> event_types(pd.Series([" Clicked", "Webinar"], dtype="string")).tolist()
    ['click', 'webinar']
    """
    key = text_key(text)
    return key.map(EVENT_ALIASES).fillna(key)


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

    for column in ("amount", "items", "discount"):
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
            frame["event_type"], event_types)
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
