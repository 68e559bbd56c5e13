"""Behaviour features of every contact, computed with pandas/numpy as of a date from an
:class:`~segexplore.features.activity.ActivityTable`: the pandas implementation of the
definitions in :mod:`segexplore.features.registry`.

Everything is vectorised (bincount / searchsorted over the table's sorted slices): no loop
over contacts.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from segexplore.errors import ParameterError, SchemaError, ValidationError
from segexplore.features.activity import ActivityTable
from segexplore.features.registry import (
    ACTIVITY_TYPES,
    DISCOUNT_COLUMNS,
    LIFECYCLE_STAGES,
    RFM_GRID,
    RFM_GROUPS,
    RFM_SCORES,
    WEEKDAYS,
    FeatureConfig,
)
from segexplore.features.times import to_naive_ns
from segexplore.model import hooks
from segexplore.model.columns import AMOUNT, CONTACT_ID, ITEMS

__all__ = ["compute_features"]


DAY = pd.Timedelta(days=1)


_NS_PER_DAY = DAY.value


_NAT = np.iinfo(np.int64).min




def _normalise_as_of(as_of: pd.Timestamp | str) -> pd.Timestamp:
    stamp = pd.Timestamp(as_of)
    if stamp is pd.NaT:
        raise ParameterError("as_of cannot be NaT")
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert("UTC").tz_localize(None)
    return stamp.as_unit("ns")


def _check_alignment(contacts: pd.DataFrame, activity: ActivityTable) -> None:
    """Raise unless ``activity`` was built from exactly these contacts, in this order."""
    if CONTACT_ID in contacts.columns:
        ids = pd.Index(contacts[CONTACT_ID])
    elif contacts.index.name == CONTACT_ID:
        ids = contacts.index
    else:
        raise SchemaError("the contacts table has no column 'contact_id'")
    if len(ids) != activity.n_contacts or not ids.equals(activity.contact_ids):
        raise ValidationError("the activity table was built for other contacts (or another "
                              "order); rebuild it with ActivityTable(contacts['contact_id'], ...)")


def _days_since(as_of_ns: int, stamps: np.ndarray) -> np.ndarray:
    """Float days from each timestamp to ``as_of`` (NaN for NaT)."""
    ns = stamps.view(np.int64)
    return np.where(ns == _NAT, np.nan, (as_of_ns - ns) / _NS_PER_DAY)


def _quintile_score(*keys: np.ndarray) -> np.ndarray:
    """Score 1-5 by rank of ``keys[0]`` (ties broken by the next keys, then row order).

    With ranks ``r = 1..n`` the score is ``1 + floor(5 * (r - 0.5) / n)``: exact quintiles
    when ``n`` is a multiple of 5, and a lone contact scores 3 rather than 1.
    """
    size = len(keys[0])
    order = np.lexsort((np.arange(size),) + tuple(reversed(keys)))
    rank = np.empty(size, dtype=np.int64)
    rank[order] = np.arange(size)
    return ((2 * rank + 1) * 5 // max(2 * size, 1) + 1).astype(np.int8)


def _rfm(last_purchase: np.ndarray, purchases: np.ndarray, revenue: np.ndarray,
         purchases_total: np.ndarray) -> dict[str, object]:
    """RFM scores, score string and group (see FEATURES)."""
    n = len(purchases)
    scored = purchases > 0
    recency_key = last_purchase.view(np.int64)[scored]
    frequency_key, monetary_key = purchases[scored], revenue[scored]
    scores = {}
    for name, keys in (("rfm_recency", (recency_key, frequency_key, monetary_key)),
                       ("rfm_frequency", (frequency_key, monetary_key, recency_key)),
                       ("rfm_monetary", (monetary_key, frequency_key, recency_key))):
        full = np.zeros(n, dtype=np.int8)
        full[scored] = _quintile_score(*keys)
        scores[name] = full
    recency, frequency, monetary = (scores["rfm_recency"], scores["rfm_frequency"],
                                    scores["rfm_monetary"])
    score_codes = np.where(scored, (recency - 1) * 25 + (frequency - 1) * 5 + monetary - 1, -1)
    grid = np.array([[RFM_GROUPS.index(group) for group in row] for row in RFM_GRID])
    group_codes = np.where(scored, grid[np.maximum(recency, 1) - 1, np.maximum(frequency, 1) - 1],
                           np.where(purchases_total > 0, RFM_GROUPS.index("lost"),
                                    RFM_GROUPS.index("never_purchased")))
    result: dict[str, object] = {name: _nullable_int(values, scored, "Int8")
                                 for name, values in scores.items()}
    result["rfm_score"] = pd.Categorical.from_codes(score_codes, categories=list(RFM_SCORES))
    result["rfm_group"] = pd.Categorical.from_codes(group_codes, categories=list(RFM_GROUPS))
    return result


def _engagement(activity: ActivityTable, as_of: pd.Timestamp, cfg: FeatureConfig) -> np.ndarray:
    """Engagement score 0-100 (see FEATURES): decayed weighted events over a robust cap."""
    raw = np.zeros(activity.n_contacts)
    half_life = pd.Timedelta(days=cfg.engagement_half_life_days)
    for event_type, weight in cfg.engagement_weights.items():
        raw += weight * activity.decayed_count(event_type, as_of=as_of, half_life=half_life,
                                               start=as_of - 365 * DAY)
    engaged = raw[raw > 0]
    if not len(engaged):
        return raw
    cap = float(np.quantile(engaged, cfg.engagement_cap_quantile))
    return np.round(np.minimum(raw / cap, 1.0) * 100.0, 1)


def _lifecycle(as_of: pd.Timestamp, signup: np.ndarray | None, first_purchase: np.ndarray,
               last_purchase: np.ndarray, cfg: FeatureConfig) -> pd.Categorical:
    """Lifecycle stage of each contact, first matching stage in LIFECYCLE_STAGES order."""
    as_of_ns = as_of.value
    first_ns, last_ns = first_purchase.view(np.int64), last_purchase.view(np.int64)
    bought = last_ns != _NAT
    new_start = as_of_ns - cfg.new_days * _NS_PER_DAY
    if signup is None:
        new = np.zeros(len(first_ns), dtype=bool)
    else:
        signup_ns = signup.view(np.int64)
        recent_signup = (signup_ns != _NAT) & (signup_ns > new_start) & (signup_ns <= as_of_ns)
        new = recent_signup & (~bought | (first_ns > new_start))
    active = bought & (last_ns > as_of_ns - cfg.active_days * _NS_PER_DAY)
    at_risk = bought & ~active & (last_ns > as_of_ns - cfg.at_risk_days * _NS_PER_DAY)
    codes = np.select([new, active, at_risk, bought], [0, 1, 2, 3], default=4)
    return pd.Categorical.from_codes(codes, categories=list(LIFECYCLE_STAGES))


def _anniversary(year: np.ndarray, month: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Dates (datetime64[D]) of month/day in ``year``; Feb 29 falls on Feb 28 in other years."""
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    day = np.where((month == 2) & (day == 29) & ~leap, 28, day)
    month_start = ((year - 1970) * 12 + month - 1).astype("datetime64[M]")
    return month_start.astype("datetime64[D]") + (day - 1).astype("timedelta64[D]")


def _nullable_int(values: np.ndarray, known: np.ndarray,
                  dtype: str = "Int16") -> pd.arrays.IntegerArray:
    """Integer values as a nullable array, NA where not ``known``."""
    return pd.arrays.IntegerArray(np.where(known, values, 0).astype(dtype.lower()), ~known)


def _optional_dates(contacts: pd.DataFrame, column: str) -> np.ndarray | None:
    """A date column of ``contacts`` as datetime64[ns] values, None if there is no such column."""
    if column not in contacts.columns:
        return None
    return to_naive_ns(contacts[column]).view("datetime64[ns]")


@hooks.implements("features")
def compute_features(contacts: pd.DataFrame, activity: ActivityTable, as_of: pd.Timestamp | str,
                     *, windows: Sequence[int] = (30, 90, 365),
                     config: FeatureConfig | None = None) -> pd.DataFrame:
    """Compute every behaviour feature of every contact as of ``as_of``.

    Parameters
    ----------
    contacts
        Canonical contacts table (``contact_id``; ``signup_date`` and ``birth_date`` are
        used when present). Not modified.
    activity
        The table built from these contacts (same ids, same order) and their events.
    as_of
        Reference time: windows end there and later events are ignored.
    windows
        Lengths in days of the ``purchases_{w}d`` / ``revenue_{w}d`` columns.
    config
        Engagement, cart, affinity and lifecycle parameters (defaults documented in
        :data:`FEATURES`).

    Returns
    -------
    DataFrame
        One row per contact, same index and order as ``contacts``; columns as in
        :func:`feature_definitions`.
    """
    cfg = config or FeatureConfig()
    windows = tuple(windows)
    if any(int(days) != days or days <= 0 for days in windows) or len(set(windows)) < len(windows):
        raise ParameterError(f"windows must be distinct positive whole numbers of days, "
                             f"not {windows}")
    windows = tuple(int(days) for days in windows)
    as_of = _normalise_as_of(as_of)
    _check_alignment(contacts, activity)
    as_of_ns = as_of.value
    columns: dict[str, object] = {}

    # Recency.
    last = {kind: activity.last(kind, end=as_of) for kind in ACTIVITY_TYPES}
    last_activity = np.max(np.stack([last[k].view(np.int64) for k in ACTIVITY_TYPES]), axis=0)
    last["activity"] = last_activity.view("datetime64[ns]")
    shown = ("purchase", "open", "click", "visit", "activity")
    for kind in shown:
        columns[f"last_{kind}_date"] = last[kind]
    for kind in shown:
        columns[f"days_since_last_{kind}"] = _days_since(as_of_ns, last[kind])

    # Frequency and revenue.
    purchases: dict[int, np.ndarray] = {}
    revenue: dict[int, np.ndarray] = {}
    for days in sorted(set(windows) | {365}):
        start = as_of - days * DAY
        purchases[days] = activity.count("purchase", start=start, end=as_of)
        revenue[days] = _sum_or_zero(activity, AMOUNT, start, as_of)
    for days in windows:
        columns[f"purchases_{days}d"] = purchases[days]
        columns[f"revenue_{days}d"] = revenue[days]
    purchases_total = activity.count("purchase", end=as_of)
    revenue_total = _sum_or_zero(activity, AMOUNT, None, as_of)
    columns["purchases_total"] = purchases_total
    columns["revenue_total"] = revenue_total
    columns["items_365d"] = _sum_or_zero(activity, ITEMS, as_of - 365 * DAY, as_of)
    with np.errstate(invalid="ignore", divide="ignore"):
        columns["avg_basket"] = np.where(purchases_total > 0,
                                         revenue_total / np.maximum(purchases_total, 1), np.nan)
    first_purchase = activity.first("purchase", end=as_of)
    columns["first_purchase_date"] = first_purchase

    # RFM.
    columns.update(_rfm(last["purchase"], purchases[365], revenue[365], purchases_total))

    # Engagement.
    for kind, plural in (("open", "opens"), ("click", "clicks"), ("visit", "visits")):
        for days in (30, 90):
            columns[f"{plural}_{days}d"] = activity.count(kind, start=as_of - days * DAY,
                                                          end=as_of)
    columns["engagement_score"] = _engagement(activity, as_of, cfg)

    # Lifecycle.
    signup = _optional_dates(contacts, "signup_date")
    columns["lifecycle_stage"] = _lifecycle(as_of, signup, first_purchase, last["purchase"], cfg)

    # Carts.
    abandoned = activity.count_not_followed_by(
        "add_to_cart", "purchase", pd.Timedelta(hours=cfg.cart_followup_hours), as_of=as_of,
        start=as_of - 30 * DAY, end=as_of)
    columns["cart_abandoner"] = abandoned > 0
    columns["carts_abandoned_30d"] = abandoned

    # Affinity.
    for prop in ("brand", "category"):
        columns[f"preferred_{prop}"] = activity.mode(prop, cfg.affinity_weights,
                                                     start=as_of - 365 * DAY, end=as_of)

    # When to send, discounts, the last abandoned cart.
    year_ago = as_of - 365 * DAY
    hour = activity.time_mode("hour", cfg.send_time_weights, start=year_ago, end=as_of)
    columns["preferred_send_hour"] = _nullable_int(hour, hour >= 0, "Int8")
    weekday = activity.time_mode("weekday", cfg.send_time_weights, start=year_ago, end=as_of)
    columns["preferred_send_weekday"] = pd.Categorical.from_codes(weekday,
                                                                  categories=list(WEEKDAYS))
    columns["discount_share_365d"] = _discount_share(activity, year_ago, as_of,
                                                     purchases[365])
    columns.update(_last_abandoned_cart(activity, as_of, cfg))

    # Tenure and birthdays.
    n = activity.n_contacts
    columns["days_since_signup"] = (np.full(n, np.nan) if signup is None
                                    else _days_since(as_of_ns, signup))
    birth = _optional_dates(contacts, "birth_date")
    if birth is None:
        birth = np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
    columns.update(_birthday_columns(as_of, birth))

    columns["inactive"] = ~(last_activity > as_of_ns - 365 * _NS_PER_DAY)
    # The arrays are fresh and ours: no copy, and no consolidation into 2-D blocks (which
    # would copy ~40 columns once more).
    return pd.DataFrame(columns, index=contacts.index, copy=False)


def _sum_or_zero(activity: ActivityTable, prop: str, start: pd.Timestamp | None,
                 end: pd.Timestamp) -> np.ndarray:
    """Per-contact sum of a purchase property; zeros when purchases lack that property."""
    if prop not in activity.property_names("purchase"):
        return np.zeros(activity.n_contacts)
    # float64 even when every amount is missing (bincount of no weights counts in int64).
    return activity.aggregate("purchase", prop, "sum", start=start, end=end).astype(
        np.float64, copy=False)


def _discount_share(activity: ActivityTable, start: pd.Timestamp, end: pd.Timestamp,
                    purchases: np.ndarray) -> np.ndarray:
    """discount_share_365d (see FEATURES): discounted purchases over purchases."""
    present = [name for name in DISCOUNT_COLUMNS if name in activity.property_names("purchase")]
    n = activity.n_contacts
    if not present:
        return np.full(n, np.nan)
    discounted = np.zeros(activity.n_events("purchase"), dtype=bool)
    if "discount" in present:
        discounted |= activity.property("purchase", "discount").to_numpy(
            dtype=np.float64, na_value=np.nan) > 0
    if "coupon" in present:
        coupon = activity.property("purchase", "coupon")
        text = coupon.astype("string").str.strip()
        discounted |= (text.notna() & (text != "")).to_numpy(dtype=bool, na_value=False)
    counted = activity.count("purchase", start=start, end=end, where=discounted)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(purchases > 0, counted / np.maximum(purchases, 1), np.nan)


def _last_abandoned_cart(activity: ActivityTable, as_of: pd.Timestamp,
                         cfg: FeatureConfig) -> dict[str, object]:
    """last_abandoned_cart_value, _items, _brand and _category (see FEATURES)."""
    n = activity.n_contacts
    positions, times, rows = activity.unfollowed_events(
        "add_to_cart", "purchase", pd.Timedelta(hours=cfg.cart_followup_hours), as_of=as_of,
        start=as_of - 30 * DAY, end=as_of)
    latest = np.full(n, _NAT, dtype=np.int64)
    np.maximum.at(latest, positions, times)
    at_latest = times == latest[positions]
    positions, rows = positions[at_latest], rows[at_latest]
    properties = activity.property_names("add_to_cart")
    result: dict[str, object] = {}
    for prop in (AMOUNT, ITEMS):
        name = "last_abandoned_cart_value" if prop == AMOUNT else "last_abandoned_cart_items"
        total = np.full(n, np.nan)
        if prop in properties and len(rows):
            values = activity.property("add_to_cart", prop).to_numpy(
                dtype=np.float64, na_value=np.nan)[rows]
            known = ~np.isnan(values)
            sums = np.bincount(positions[known], weights=values[known], minlength=n)
            has_value = np.bincount(positions[known], minlength=n) > 0
            total = np.where(has_value, sums, np.nan)
        result[name] = total
    for prop in ("brand", "category"):
        name = f"last_abandoned_cart_{prop}"
        first = pd.Series(np.full(n, None, dtype=object))
        if prop in properties and len(rows):
            values = activity.property("add_to_cart", prop).astype(object).to_numpy()[rows]
            frame = pd.DataFrame({"position": positions, "value": values}).dropna()
            smallest = frame.groupby("position")["value"].min()
            first.iloc[smallest.index.to_numpy()] = smallest.to_numpy()
        known = first.dropna()
        result[name] = pd.Categorical(first.where(first.notna(), None),
                                      categories=sorted(set(known)))
    return result


def _birthday_columns(as_of: pd.Timestamp, birth: np.ndarray) -> dict[str, object]:
    """age, next_birthday and days_to_birthday (see FEATURES)."""
    today = np.datetime64(as_of.normalize().date(), "D")
    known = ~np.isnat(birth)
    birth_day = np.where(known, birth, np.datetime64("2000-01-01", "ns")).astype("datetime64[D]")
    known &= birth_day <= today
    year = birth_day.astype("datetime64[Y]").astype(np.int64) + 1970
    month_start = birth_day.astype("datetime64[M]")
    month = month_start.astype(np.int64) % 12 + 1
    day = (birth_day - month_start.astype("datetime64[D]")).astype(np.int64) + 1
    this_year = _anniversary(np.full_like(year, as_of.year), month, day)
    age = as_of.year - year - (this_year > today)
    next_birthday = np.where(this_year >= today, this_year,
                             _anniversary(np.full_like(year, as_of.year + 1), month, day))
    days_to = (next_birthday - today).astype(np.int64)
    next_birthday = next_birthday.astype("datetime64[ns]")
    next_birthday[~known] = np.datetime64("NaT")
    return {"age": _nullable_int(age, known), "next_birthday": next_birthday,
            "days_to_birthday": _nullable_int(days_to, known)}
