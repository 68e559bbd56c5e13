"""The behaviour features: what each one is, once, whatever computes it.

Recency, frequency and revenue, RFM scores and groups, engagement, lifecycle stage, cart
abandonment, brand/category affinity, tenure and birthdays. :data:`FEATURES` gives the exact
one-sentence definition of each column (``docs/features.md`` explains them for analysts);
:func:`segexplore.features.compute.compute_features` is their pandas implementation.

Every window is measured back from ``as_of`` and keeps events with
``as_of - N days < t <= as_of``; events after ``as_of`` are ignored entirely, so moving
``as_of`` into the past recomputes the features as they were on that date.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from segexplore.model import hooks

__all__ = ["FeatureConfig", "FEATURES", "FEATURE_KINDS", "RFM_GROUPS", "RFM_GRID", "RFM_SCORES",
           "LIFECYCLE_STAGES", "WEEKDAYS", "DISCOUNT_COLUMNS",
           "ACTIVITY_TYPES", "feature_definitions", "feature_kind"]

#: The event types that make a contact "active" (recency of activity, inactive flag).
ACTIVITY_TYPES = ("open", "click", "visit", "add_to_cart", "purchase")

#: RFM groups, in the order of the categorical dtype.
RFM_GROUPS = ("champions", "loyal", "potential_loyalist", "new_customer", "promising",
              "need_attention", "about_to_sleep", "at_risk", "cannot_lose", "hibernating",
              "lost", "never_purchased")

#: Group of each (recency score, frequency score): row R-1, column F-1 (the usual RFM grid).
RFM_GRID = (
    # F=1            F=2                 F=3                 F=4            F=5
    ("hibernating", "hibernating", "at_risk", "at_risk", "cannot_lose"),  # R=1
    ("hibernating", "hibernating", "at_risk", "at_risk", "cannot_lose"),  # R=2
    ("about_to_sleep", "about_to_sleep", "need_attention", "loyal", "loyal"),  # R=3
    ("promising", "potential_loyalist", "potential_loyalist", "loyal", "loyal"),  # R=4
    ("new_customer", "potential_loyalist", "potential_loyalist", "champions", "champions"),  # R=5
)

#: Every rfm_score, in the order of the categorical dtype ('111' .. '555').
RFM_SCORES = tuple(f"{r}{f}{m}" for r in range(1, 6) for f in range(1, 6) for m in range(1, 6))

#: Lifecycle stages, in precedence order (the first that applies wins).
LIFECYCLE_STAGES = ("new", "active", "at_risk", "lapsed", "never_purchased")

#: The days of the week, Monday first: preferred_send_weekday's values, in order.
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

#: The purchase properties that say a purchase was discounted: an amount taken off
#: (``discount`` > 0) or a coupon code (non-blank text).
DISCOUNT_COLUMNS = ("discount", "coupon")

@dataclass(frozen=True)
class FeatureConfig:
    """Parameters of the features whose names do not carry them.

    Window lengths written in a feature's name (``opens_30d``, ``items_365d``...) are
    fixed; the ``windows`` argument of :func:`compute_features` sets the
    ``purchases_{w}d`` / ``revenue_{w}d`` family.
    """

    #: Weight of one event of each type in the engagement score.
    engagement_weights: Mapping[str, float] = field(
        default_factory=lambda: {"open": 1.0, "click": 2.0, "visit": 2.0})
    #: An event this many days old weighs half as much as one at ``as_of``.
    engagement_half_life_days: float = 30.0
    #: Quantile of the raw engagement of engaged contacts that maps to 100.
    engagement_cap_quantile: float = 0.99
    #: A cart is abandoned when no purchase follows within this many hours.
    cart_followup_hours: float = 24.0
    #: Weight of one event of each type when choosing the preferred brand and category.
    affinity_weights: Mapping[str, float] = field(
        default_factory=lambda: {"visit": 1.0, "add_to_cart": 1.0, "purchase": 3.0})
    #: Weight of one event of each type when choosing the preferred send hour and weekday.
    send_time_weights: Mapping[str, float] = field(
        default_factory=lambda: {"open": 1.0, "click": 1.0})
    #: Lifecycle thresholds in days: new signup, active buyer, at-risk buyer.
    new_days: int = 30
    active_days: int = 90
    at_risk_days: int = 180


def feature_definitions(windows: Sequence[int] = (30, 90, 365),
                        config: FeatureConfig | None = None) -> dict[str, str]:
    """Return the exact one-sentence definition of every feature, keyed by column name."""
    cfg = config or FeatureConfig()
    win = "events with as_of - {} days < timestamp <= as_of"
    defs: dict[str, str] = {}
    for kind in ("purchase", "open", "click", "visit"):
        defs[f"last_{kind}_date"] = (f"Timestamp of the contact's latest {kind} event at or "
                                     f"before as_of (NaT if none).")
    defs["last_activity_date"] = ("Timestamp of the latest open, click, visit, add_to_cart or "
                                  "purchase event at or before as_of (NaT if none).")
    for kind in ("purchase", "open", "click", "visit", "activity"):
        defs[f"days_since_last_{kind}"] = (f"(as_of - last_{kind}_date) in days, with "
                                           f"fractions (NaN if never).")
    for days in windows:
        defs[f"purchases_{days}d"] = f"Number of purchases among {win.format(days)}."
        defs[f"revenue_{days}d"] = (f"Sum of amount over purchases among {win.format(days)} "
                                    f"(missing amounts skipped; 0 if none).")
    defs["purchases_total"] = "Number of purchases at or before as_of."
    defs["revenue_total"] = "Sum of amount over all purchases at or before as_of (0 if none)."
    defs["items_365d"] = f"Sum of items over purchases among {win.format(365)} (0 if none)."
    defs["avg_basket"] = "revenue_total / purchases_total (NaN if no purchase)."
    defs["first_purchase_date"] = "Timestamp of the earliest purchase at or before as_of (NaT if none)."
    rank_note = ("among contacts with purchases_365d > 0: with rank = 1..n ascending (ties "
                 "broken by {}, then row order), score = 1 + floor(5 x (rank - 0.5) / n), "
                 "i.e. quintiles, 5 = best; NA for other contacts.")
    defs["rfm_recency"] = ("Score 1-5 of last_purchase_date (more recent = higher) "
                           + rank_note.format("purchases_365d, then revenue_365d"))
    defs["rfm_frequency"] = ("Score 1-5 of purchases_365d "
                             + rank_note.format("revenue_365d, then last_purchase_date"))
    defs["rfm_monetary"] = ("Score 1-5 of revenue_365d "
                            + rank_note.format("purchases_365d, then last_purchase_date"))
    defs["rfm_score"] = "The three scores written together, recency first (e.g. '545'); NA if not scored."
    defs["rfm_group"] = ("Segment from (rfm_recency, rfm_frequency) on the standard RFM grid; "
                         "'lost' if purchases exist but none in the last 365 days, "
                         "'never_purchased' if none at all.")
    for kind, plural in (("open", "opens"), ("click", "clicks"), ("visit", "visits")):
        for days in (30, 90):
            defs[f"{plural}_{days}d"] = f"Number of {kind} events among {win.format(days)}."
    weights = ", ".join(f"{k} {v:g}" for k, v in cfg.engagement_weights.items())
    defs["engagement_score"] = (
        f"0-100: sum over {win.format(365)} of type weight ({weights}) x "
        f"0.5 ** (age in days / {cfg.engagement_half_life_days:g}), divided by the "
        f"{cfg.engagement_cap_quantile:.0%} quantile of that sum among contacts above 0, "
        f"capped at 1, times 100, rounded to 1 decimal.")
    defs["lifecycle_stage"] = (
        f"First that applies: new (as_of - {cfg.new_days} days < signup_date <= as_of and "
        f"no purchase at or before as_of - {cfg.new_days} days), active (last purchase after "
        f"as_of - {cfg.active_days} days), at_risk (last purchase after as_of - "
        f"{cfg.at_risk_days} days), lapsed (any purchase), never_purchased.")
    hours = f"{cfg.cart_followup_hours:g}"
    defs["cart_abandoner"] = "carts_abandoned_30d > 0."
    defs["carts_abandoned_30d"] = (
        f"Number of add_to_cart events among {win.format(30)} with t + {hours}h <= as_of and no "
        f"purchase by the same contact in (t, t + {hours}h].")
    affinity = ", ".join(f"{k} x{v:g}" for k, v in cfg.affinity_weights.items())
    for prop in ("brand", "category"):
        defs[f"preferred_{prop}"] = (
            f"Most frequent {prop} over {affinity} events among {win.format(365)}; ties go to "
            f"the alphabetically first; NaN if none.")
    send = ", ".join(f"{k} x{v:g}" for k, v in cfg.send_time_weights.items())
    defs["preferred_send_hour"] = (
        f"Hour of the day (0-23, on the clock the base's timestamps are in: UTC, or "
        f"read_base(tz=)) with the most {send} events among {win.format(365)}; ties go to "
        f"the earliest hour; NA if none.")
    defs["preferred_send_weekday"] = (
        f"Day of the week (monday ... sunday, same clock) with the most {send} events among "
        f"{win.format(365)}; ties go to the earliest day from Monday; NaN if none.")
    defs["discount_share_365d"] = (
        f"Share (0-1) of the purchases among {win.format(365)} that were discounted "
        f"(discount > 0 or a non-blank coupon); NaN without such a purchase, or when "
        f"purchases carry neither a discount nor a coupon column.")
    cart = ("the contact's latest add_to_cart event counted in carts_abandoned_30d (with "
            "the others at that same instant)")
    defs["last_abandoned_cart_value"] = f"Sum of amount over {cart}; NaN if none or unknown."
    defs["last_abandoned_cart_items"] = f"Sum of items over {cart}; NaN if none or unknown."
    for prop in ("brand", "category"):
        defs[f"last_abandoned_cart_{prop}"] = (
            f"The alphabetically first {prop} of {cart}; NaN if none.")
    defs["days_since_signup"] = "(as_of - signup_date) in days, with fractions (negative if signup_date is after as_of; NaN if unknown)."
    defs["age"] = "Whole years from birth_date to the date of as_of (NA if unknown or after as_of)."
    defs["next_birthday"] = ("Date of the first birthday on or after the date of as_of; Feb 29 "
                             "births have it on Feb 28 in non-leap years (NaT if unknown).")
    defs["days_to_birthday"] = "Days from the date of as_of to next_birthday (0 on the birthday)."
    defs["inactive"] = ("True when the contact has no open, click, visit, add_to_cart or "
                        "purchase among events with as_of - 365 days < timestamp <= as_of.")
    return defs


#: Definition of every feature computed with the default windows and configuration.
FEATURES: dict[str, str] = hooks.implements("feature_names")(feature_definitions())

_DATES = ("last_purchase_date", "last_open_date", "last_click_date", "last_visit_date",
          "last_activity_date", "first_purchase_date", "next_birthday")
_CATEGORIES = ("rfm_score", "rfm_group", "lifecycle_stage", "preferred_brand",
               "preferred_category", "preferred_send_weekday", "last_abandoned_cart_brand",
               "last_abandoned_cart_category")
_FLAGS = ("cart_abandoner", "inactive")


def feature_kind(name: str) -> str:
    """How the feature ``name`` compares in rules, as
    :func:`~segexplore.model.roles.value_kind` says of a column: ``datetime``,
    ``category``, ``bool`` or ``number`` (every other feature, ``purchases_{w}d`` of any
    window included). Known without computing anything, so every engine's checker can ask.

    Examples
    --------
    >>> feature_kind("rfm_group"), feature_kind("purchases_60d"), feature_kind("inactive")
    ('category', 'number', 'bool')
    """
    if name in _DATES:
        return "datetime"
    if name in _CATEGORIES:
        return "category"
    if name in _FLAGS:
        return "bool"
    return "number"


#: The kind of every feature of :data:`FEATURES` (see :func:`feature_kind`).
FEATURE_KINDS: dict[str, str] = {name: feature_kind(name) for name in FEATURES}


