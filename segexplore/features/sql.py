"""The behaviour features as one SQL query: the SQL implementation of the registry.

:func:`feature_query` writes the query that computes every feature of
:data:`~segexplore.features.registry.FEATURES` for every contact as of a date, from a
``contacts`` table (with a ``position`` column giving the contacts' order) and ``events``
and ``orders`` tables in the canonical columns, in DuckDB's dialect: time is compared as
integer nanoseconds (``epoch_ns``), as the pandas implementation compares it, so window
edges agree to the nanosecond. (Other engines need that arithmetic in their own dialect:
the warehouse engines issue ports it.) :func:`compute_features_sql` runs it in DuckDB and
returns the same DataFrame as
the pandas implementation (:func:`segexplore.features.compute.compute_features`), column for
column and dtype for dtype.

Nothing of the user's goes into the text: table and column names are the canonical ones,
and the only values are the ``as_of`` date, the windows and the numbers of
:class:`~segexplore.features.registry.FeatureConfig`, all formatted by this module.

The definitions are those of the registry, to the event: windows keep
``as_of - N days < t <= as_of``, purchases come from the events when they hold purchase
rows and from the orders otherwise, events of unknown contacts or without a timestamp are
left out, RFM ranks break ties by the next keys and then the contacts' order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from segexplore.errors import ParameterError
from segexplore.features.registry import (
    ACTIVITY_TYPES,
    DISCOUNT_COLUMNS,
    LIFECYCLE_STAGES,
    RFM_GRID,
    RFM_GROUPS,
    RFM_SCORES,
    WEEKDAYS,
    FeatureConfig,
    feature_definitions,
)
from segexplore.features.sql_dialects import port

__all__ = ["POSITION", "feature_query", "build_feature_table", "compute_features_sql",
           "as_pandas_features", "id_literal"]

#: The column of the contacts table that holds each contact's row position (0, 1, ...).
POSITION = "position"

_NS_PER_DAY = 86_400 * 10**9
_NS_PER_HOUR = 3_600 * 10**9

def _timestamp(stamp: pd.Timestamp) -> str:
    return f"make_timestamp({int(stamp.value) // 1000})"  # microseconds since the epoch


def _rfm_group_case() -> str:
    """The RFM group of a scored contact (NULL for a pair of scores the grid leaves out)."""
    cases = []
    for r, row in enumerate(RFM_GRID, start=1):
        for f, group in enumerate(row, start=1):
            cases.append(f"WHEN rfm_recency = {r} AND rfm_frequency = {f} THEN '{group}'")
    return "CASE " + " ".join(cases) + " END"


def feature_query(as_of: Any, *, columns: Mapping[str, Sequence[str]],
                  purchases_from: str = "events", windows: Sequence[int] = (30, 90, 365),
                  config: FeatureConfig | None = None,
                  tables: Mapping[str, str] | None = None,
                  bucket: tuple[str | None, str | None] | None = None, stage: str = "all",
                  aggregates: str | None = None, dialect: str = "duckdb") -> str:
    """The query computing every feature as of ``as_of``, one row per contact.

    Parameters
    ----------
    as_of : date-like
        Windows end there; later events are ignored.
    columns : mapping
        The columns each table has (``{"contacts": [...], "events": [...], "orders": [...]}``):
        properties a table lacks (``amount``, ``brand``, ``signup_date``...) count as
        missing, as in pandas.
    purchases_from : {"events", "orders", None}
        Where purchases come from (:attr:`ActivityTable.purchase_source`: the events when
        they hold purchase rows, else the orders).
    windows, config
        As for :func:`~segexplore.features.compute.compute_features`.
    tables : mapping, optional
        Names of the ``contacts``, ``events`` and ``orders`` tables (default: those names).
    bucket, stage, aggregates : optional
        For bases whose per-contact aggregates do not fit in memory at once: with
        ``stage="aggregates"`` the query returns the per-contact aggregates only (the
        ``j`` table), for the contacts of ``bucket=(low, high)`` only (``low < contact_id
        <= high``; each bound an SQL literal, or None for no bound: ranges, so that files
        whose row groups each hold a range of contacts are read a range at a time); with
        ``aggregates="table"`` it reads those aggregates from that table (every bucket
        inserted) and adds what needs the whole base (RFM ranks, the engagement cap, the
        final columns).
    dialect : {"duckdb", "postgres", "spark"}
        The SQL written: DuckDB's, or the same query ported by
        :func:`~segexplore.features.sql_dialects.port`.

    Returns
    -------
    str
        ``SELECT contact_id, position, <features>``, in no particular order (sorting 10
        million wide rows costs more than the features' table is worth sorted: order by
        ``position`` where the order matters).
    """
    cfg = config or FeatureConfig()
    windows = tuple(int(w) for w in windows)
    if any(w <= 0 for w in windows) or len(set(windows)) < len(windows):
        raise ParameterError(f"windows must be distinct positive whole numbers of days, "
                             f"not {windows}")
    stamp = pd.Timestamp(as_of)
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert("UTC").tz_localize(None)
    stamp = stamp.as_unit("ns")
    names = {"contacts": "contacts", "events": "events", "orders": "orders", **(tables or {})}
    if stage not in ("all", "aggregates"):
        raise ParameterError(f"stage must be 'all' or 'aggregates', not {stage!r}")

    def in_bucket(alias: str) -> list[str]:
        low, high = bucket if bucket is not None else (None, None)
        return ([f"{alias}.contact_id > {low}"] if low is not None else []) + (
            [f"{alias}.contact_id <= {high}"] if high is not None else [])
    have = {table: set(columns.get(table, ())) for table in ("contacts", "events", "orders")}
    as_of_ns = int(stamp.value)

    def since(days: float) -> str:
        return str(as_of_ns - int(round(days * _NS_PER_DAY)))

    def stamped(alias: str, after_ns: int | None = None) -> list[str]:
        # On the raw column, so that Parquet row groups outside the window are skipped
        # (the exact nanosecond test on t follows); a microsecond of slack either way
        # keeps every row that test may keep, however the column's unit rounds.
        kept = [f"{alias}.timestamp <= make_timestamp({-(-as_of_ns // 1000) + 1})"]
        if after_ns is not None:
            kept.append(f"{alias}.timestamp >= make_timestamp({after_ns // 1000 - 1})")
        return kept

    def where(*conditions: str | list[str]) -> str:
        flat = [c for group in conditions for c in ([group] if isinstance(group, str)
                                                     else group) if c]
        return f" WHERE {' AND '.join(flat)}" if flat else ""

    def prop(table: str, name: str, cast: str | None = None) -> str:
        if name in have[table]:
            return f"CAST({name} AS {cast})" if cast else name
        return f"CAST(NULL AS {cast or 'VARCHAR'})"

    def event_rows(*conditions: str | list[str]) -> str:
        """The events of the bucket in the canonical columns, time as integer ns."""
        if not have["events"]:
            return ("SELECT CAST(NULL AS BIGINT) AS contact_id, CAST(NULL AS VARCHAR) AS "
                    "event_type, CAST(NULL AS BIGINT) AS t, CAST(NULL AS VARCHAR) AS brand, "
                    "CAST(NULL AS VARCHAR) AS category, CAST(NULL AS DOUBLE) AS amount, "
                    "CAST(NULL AS DOUBLE) AS items, CAST(NULL AS DOUBLE) AS discount, "
                    "CAST(NULL AS VARCHAR) AS coupon WHERE FALSE")
        return (f"SELECT * FROM (SELECT e.contact_id, CAST(e.event_type AS VARCHAR) AS "
                f"event_type, epoch_ns(CAST(e.timestamp AS TIMESTAMP_NS)) AS t, "
                f"{prop('events', 'brand', 'VARCHAR')} AS brand, "
                f"{prop('events', 'category', 'VARCHAR')} AS category, "
                f"{prop('events', 'amount', 'DOUBLE')} AS amount, "
                f"{prop('events', 'items', 'DOUBLE')} AS items, "
                f"{prop('events', 'discount', 'DOUBLE')} AS discount, "
                f"{prop('events', 'coupon', 'VARCHAR')} AS coupon "
                f"FROM {names['events']} AS e{where(in_bucket('e'), *conditions)}) AS ev"
                f"{where(f't <= {as_of_ns}')}")

    # Events at or before as_of (a NULL timestamp fails the test). Those of unknown contacts
    # fall away where the per-contact results are joined to the contacts: no join here,
    # which DuckDB would repeat for every use of ev. Each use below scans the events with
    # the narrowest window it needs (all time, a year, 30 days), not one wide CTE that
    # DuckDB would read in full for each.
    parts = [f"ev AS ({event_rows(stamped('e'))})"]

    def purchase_rows(after_ns: int | None = None) -> str:
        """The purchases (from the orders, or from the events when they hold them)."""
        window = [] if after_ns is None else [f"t > {after_ns}"]
        if purchases_from == "orders":
            return (
                f"SELECT * FROM (SELECT o.contact_id, epoch_ns(CAST(o.timestamp AS "
                f"TIMESTAMP_NS)) AS t, {prop('orders', 'brand', 'VARCHAR')} AS brand, "
                f"{prop('orders', 'category', 'VARCHAR')} AS category, "
                f"{prop('orders', 'amount', 'DOUBLE')} AS amount, "
                f"{prop('orders', 'items', 'DOUBLE')} AS items, "
                f"{prop('orders', 'discount', 'DOUBLE')} AS discount, "
                f"{prop('orders', 'coupon', 'VARCHAR')} AS coupon "
                f"FROM {names['orders']} AS o{where(in_bucket('o'), stamped('o', after_ns))})"
                f" AS pu{where(f't <= {as_of_ns}', window)}")
        if purchases_from == "events":
            return (f"SELECT contact_id, t, brand, category, amount, items, discount, coupon FROM "
                    f"({event_rows(stamped('e', after_ns))}) AS ev "
                    f"WHERE event_type = 'purchase'{''.join(' AND ' + w for w in window)}")
        return ("SELECT contact_id, t, brand, category, amount, items, discount, coupon FROM ev "
                "WHERE FALSE")
    # The purchases are aggregated from their own rows, apart from the other events, even
    # when the events hold them: a filtered aggregate costs a pass over every row it is
    # offered (0.3 s of CPU per 40M events), and purchases are a few percent of the events,
    # so their 12 aggregates over the purchase rows alone and the other events' 11 over the
    # others cost less than 23 over all, a second scan of the events included.
    parts.append(f"pu AS ({purchase_rows()})")

    # Per-contact aggregates of the events other than purchases.
    others = [t for t in ACTIVITY_TYPES if t != "purchase"]
    event_aggs = [f"max(t) FILTER (WHERE event_type = '{t}') AS last_{t}" for t in others]
    for kind, plural in (("open", "opens"), ("click", "clicks"), ("visit", "visits")):
        for days in (30, 90):
            event_aggs.append(f"count(*) FILTER (WHERE event_type = '{kind}' AND "
                              f"t > {since(days)}) AS {plural}_{days}d")
    half_life_ns = int(round(cfg.engagement_half_life_days * _NS_PER_DAY))

    def decay(kind: str | None) -> str:
        """The decayed sum of the last year's events of ``kind`` (None: all the rows)."""
        within = f"t > {since(365)}"
        test = within if kind is None else f"event_type = '{kind}' AND {within}"
        # The CASE computes pow() on the last year's rows alone (a FILTER does not spare
        # the rows it drops the argument's computation): the same value on those rows.
        return (f"coalesce(sum(CASE WHEN {within} THEN pow(2.0, (t - {as_of_ns}) / "
                f"{half_life_ns}.0) END) FILTER (WHERE {test}), 0.0)")
    weighted = {k: w for k, w in cfg.engagement_weights.items() if k != "purchase"}
    decayed = " + ".join(f"{float(weight)!r} * {decay(kind)}" for kind, weight in weighted.items())
    purchase_weight = cfg.engagement_weights.get("purchase")
    event_aggs.append(f"{decayed or '0.0'} AS engagement_raw_events")
    counted = ", ".join(f"'{k}'" for k in dict.fromkeys([*others, *weighted]))
    parts.append(f"ea AS (SELECT contact_id, {', '.join(event_aggs)} FROM ev "
                 f"WHERE event_type IN ({counted}) GROUP BY contact_id)")

    windows_all = sorted(set(windows) | {365})

    def only(condition: str) -> str:
        return f" FILTER (WHERE {condition})"

    purchase_aggs = ["max(t) AS last_purchase", "min(t) AS first_purchase",
                     "count(*) AS purchases_total", "coalesce(sum(amount), 0.0) AS revenue_total",
                     f"coalesce(sum(items){only(f't > {since(365)}')}, 0.0) AS items_365d"]
    for days in windows_all:
        purchase_aggs.append(f"count(*){only(f't > {since(days)}')} AS purchases_{days}d")
        purchase_aggs.append(f"coalesce(sum(amount){only(f't > {since(days)}')}, 0.0) "
                             f"AS revenue_{days}d")
    # A purchase is discounted by an amount taken off or a coupon code (DISCOUNT_COLUMNS).
    discount_columns = [c for c in DISCOUNT_COLUMNS if c in have.get(purchases_from or "", ())]
    discounted = " OR ".join(
        {"discount": "discount > 0", "coupon": "trim(coupon, ' ') <> ''"}[c]
        for c in discount_columns) or "FALSE"
    purchase_aggs.append(f"count(*){only(f't > {since(365)} AND ({discounted})')} "
                         f"AS discounted_365d")
    purchase_aggs.append(f"{float(purchase_weight)!r} * {decay(None)}"
                         if purchase_weight is not None else "0.0")
    purchase_aggs[-1] += " AS engagement_raw_purchases"
    parts.append(f"pa AS (SELECT contact_id, {', '.join(purchase_aggs)} FROM pu "
                 f"GROUP BY contact_id)")

    # Carts not followed by a purchase within the follow-up period: from the last 30 days
    # alone (carts and purchases), a small table read twice.
    within_ns = int(round(cfg.cart_followup_hours * 3600 * 10**9))
    recent = as_of_ns - 30 * _NS_PER_DAY
    parts.append(f"recent_purchases AS MATERIALIZED ({purchase_rows(recent)})")
    parts.append(
        f"carts AS (SELECT contact_id, t, amount, items, brand, category FROM "
        f"({event_rows(stamped('e', recent))}) AS ev "
        f"WHERE event_type = 'add_to_cart' AND t > {since(30)} AND t <= {as_of_ns - within_ns})")
    parts.append(
        f"unfollowed AS MATERIALIZED (SELECT * FROM carts WHERE NOT EXISTS "
        f"(SELECT 1 FROM recent_purchases AS pu WHERE pu.contact_id = carts.contact_id "
        f"AND pu.t > carts.t AND pu.t <= carts.t + {within_ns}))")
    parts.append("abandoned AS (SELECT contact_id, count(*) AS n, max(t) AS last_t "
                 "FROM unfollowed GROUP BY contact_id)")
    # The first brand and category in code-point order: the weighted mode's arg_min with
    # one score for all, which each engine's port orders as pandas does.
    first_of = ", ".join(
        f"arg_min(u.{name}, {{'score': 0.0, 'value': u.{name}}}) FILTER (WHERE u.{name} IS "
        f"NOT NULL) AS last_cart_{name}" for name in ("brand", "category"))
    parts.append(
        f"last_cart AS (SELECT u.contact_id, sum(u.amount) AS last_cart_value, sum(u.items) "
        f"AS last_cart_items, {first_of} FROM unfollowed AS u JOIN abandoned AS a ON "
        f"a.contact_id = u.contact_id AND u.t = a.last_t GROUP BY u.contact_id)")

    # The preferred send hour and weekday: the most weighted opens and clicks of the last
    # year per hour of the day and per day of the week, the earliest on ties (the best
    # score per contact from a window, then the smallest value with it: the values are
    # numbers, which the ports' text ordering of arg_min does not take).
    send_weights = {k: float(w) for k, w in cfg.send_time_weights.items()}
    send_start = as_of_ns - 365 * _NS_PER_DAY
    day_ns = f"((t % {_NS_PER_DAY}) + {_NS_PER_DAY}) % {_NS_PER_DAY}"
    if send_weights:
        send_case = " ".join(f"WHEN '{k}' THEN {w!r}" for k, w in send_weights.items())
        send_listed = ", ".join(f"'{k}'" for k in send_weights)
        send_rows = (
            f"SELECT contact_id, ({day_ns}) // {_NS_PER_HOUR} AS send_hour, "
            f"((((t - ({day_ns})) // {_NS_PER_DAY}) % 7) + 10) % 7 AS send_weekday, "
            f"CASE event_type {send_case} END AS weight FROM "
            f"({event_rows(stamped('e', send_start))}) AS ev WHERE event_type IN "
            f"({send_listed}) AND t > {send_start}")
    else:
        send_rows = ("SELECT contact_id, 0 AS send_hour, 0 AS send_weekday, 0.0 AS weight "
                     "FROM ev WHERE FALSE")
    parts.append(
        f"send_scores AS (SELECT contact_id, send_hour, send_weekday, GROUPING(send_hour) AS "
        f"by_weekday, sum(weight) AS score FROM ({send_rows}) AS sent GROUP BY GROUPING SETS "
        f"((contact_id, send_hour), (contact_id, send_weekday)))")
    parts.append(
        "send_modes AS (SELECT contact_id, min(send_hour) FILTER (WHERE by_weekday = 0 AND "
        "score = best) AS preferred_send_hour, min(send_weekday) FILTER (WHERE by_weekday = 1 "
        "AND score = best) AS send_weekday FROM (SELECT *, max(score) OVER (PARTITION BY "
        "contact_id, by_weekday) AS best FROM send_scores) AS scored_times WHERE score > 0 "
        "GROUP BY contact_id)")

    # Preferred brand and category: weighted mode, ties to the first value in sorted order.
    # One pass over the last year's events for both (grouping sets; a CASE gives each event
    # type its weight), over the orders too when they are the purchases; then the best
    # score per contact and the smallest value with it (cheaper than ranking every value).
    weights = dict(cfg.affinity_weights)
    event_kinds = [k for k in weights if k != "purchase" or purchases_from == "events"]
    year = as_of_ns - 365 * _NS_PER_DAY
    sources = []
    if event_kinds:
        case = " ".join(f"WHEN '{k}' THEN {float(weights[k])!r}" for k in event_kinds)
        listed = ", ".join(f"'{k}'" for k in event_kinds)
        sources.append(f"SELECT contact_id, brand, category, CASE event_type {case} END AS "
                       f"weight FROM ({event_rows(stamped('e', year))}) AS ev WHERE "
                       f"event_type IN ({listed}) AND t > {year} AND (brand IS NOT NULL OR "
                       f"category IS NOT NULL)")
    if "purchase" in weights and purchases_from == "orders":
        sources.append(f"SELECT contact_id, brand, category, {float(weights['purchase'])!r} "
                       f"AS weight FROM ({purchase_rows(year)}) AS pu WHERE brand IS NOT NULL "
                       f"OR category IS NOT NULL")
    if not sources:
        sources.append("SELECT contact_id, brand, category, 0.0 AS weight FROM ev WHERE FALSE")
    # The best score and, among the values with it, the smallest: the least of (minus the
    # score, value), one aggregate per property (a self-join of the scores cost three
    # operators). 0.0 - score is never -0.0, so a score of -0.0 ties with 0.0, as = does.
    modes = ", ".join(
        f"arg_min({name}, {{'score': 0.0 - score, 'value': {name}}}) FILTER (WHERE "
        f"by_category = {by_category} AND {name} IS NOT NULL) AS preferred_{name}"
        for name, by_category in (("brand", 0), ("category", 1)))
    parts.append(
        f"affinity AS (SELECT contact_id, brand, category, GROUPING(brand) AS "
        f"by_category, sum(weight) AS score FROM ({' UNION ALL '.join(sources)}) AS weighted "
        f"GROUP BY GROUPING SETS ((contact_id, brand), (contact_id, category)))")
    parts.append(f"modes AS (SELECT contact_id, {modes} FROM affinity GROUP BY contact_id)")

    signup = ("epoch_ns(CAST(c.signup_date AS TIMESTAMP_NS))" if "signup_date" in have["contacts"]
              else "CAST(NULL AS BIGINT)")
    birth = ("CAST(CAST(c.birth_date AS TIMESTAMP) AS DATE)" if "birth_date" in have["contacts"]
             else "CAST(NULL AS DATE)")
    last_activity = ("greatest(" + ", ".join(
        f"coalesce({col}, -9223372036854775807)" for col in
        ["pa.last_purchase"] + [f"ea.last_{t}" for t in others]) + ")")
    joined_columns = [
        "c.contact_id", f"c.{POSITION}",
        "pa.last_purchase", "pa.first_purchase",
        "coalesce(pa.purchases_total, 0) AS purchases_total",
        "coalesce(pa.revenue_total, 0.0) AS revenue_total",
        "coalesce(pa.items_365d, 0.0) AS items_365d",
        *[f"coalesce(pa.purchases_{d}d, 0) AS purchases_{d}d" for d in windows_all],
        *[f"coalesce(pa.revenue_{d}d, 0.0) AS revenue_{d}d" for d in windows_all],
        *[f"ea.last_{t}" for t in others],
        *[f"coalesce(ea.{p}_{d}d, 0) AS {p}_{d}d" for p in ("opens", "clicks", "visits")
          for d in (30, 90)],
        "coalesce(ea.engagement_raw_events, 0.0) + coalesce(pa.engagement_raw_purchases, 0.0)"
        " AS engagement_raw",
        f"nullif({last_activity}, -9223372036854775807) AS last_activity",
        "coalesce(abandoned.n, 0) AS carts_abandoned_30d",
        "modes.preferred_brand", "modes.preferred_category",
        "coalesce(pa.discounted_365d, 0) AS discounted_365d",
        "send_modes.preferred_send_hour", "send_modes.send_weekday",
        "last_cart.last_cart_value", "last_cart.last_cart_items", "last_cart.last_cart_brand",
        "last_cart.last_cart_category",
        f"{signup} AS signup_ns", f"{birth} AS birth_day",
    ]
    # Materialised when the ranks and the cap read it too; a bucket's rows go straight
    # into the aggregates' table (a copy of them costs as much as the insert).
    parts.append(
        f"j AS {'' if stage == 'aggregates' else 'MATERIALIZED '}"
        f"(SELECT {', '.join(joined_columns)} FROM {names['contacts']} AS c "
        f"LEFT JOIN pa ON pa.contact_id = c.contact_id "
        f"LEFT JOIN ea ON ea.contact_id = c.contact_id "
        f"LEFT JOIN abandoned ON abandoned.contact_id = c.contact_id "
        f"LEFT JOIN modes ON modes.contact_id = c.contact_id "
        f"LEFT JOIN send_modes ON send_modes.contact_id = c.contact_id "
        f"LEFT JOIN last_cart ON last_cart.contact_id = c.contact_id"
        + where(in_bucket('c')) + ")")
    if stage == "aggregates":
        return port(f"WITH {', '.join(parts)} SELECT * FROM j", dialect)
    joined = "j"
    if aggregates is not None:  # the per-contact aggregates were computed bucket by bucket
        # Read where they are: a CTE over the table would be materialised (three readers),
        # a copy of every aggregate of every contact (5 s and 2.8 GB at 10M contacts).
        parts, joined = [], aggregates

    # RFM: quintile scores by rank among contacts with a purchase in the last 365 days.
    def quintile(*keys: str) -> str:
        order = ", ".join(keys + (POSITION,))
        return (f"((2 * (row_number() OVER (ORDER BY {order}) - 1) + 1) * 5) "
                f"// (2 * count(*) OVER ()) + 1")

    # The score's text and the group are worked out here, for the contacts with scores
    # only (a tenth of the base here), not for every contact in the final projection.
    parts.append(
        f"scored AS (SELECT *, CAST(rfm_recency AS VARCHAR) || CAST(rfm_frequency AS VARCHAR)"
        f" || CAST(rfm_monetary AS VARCHAR) AS rfm_score, {_rfm_group_case()} AS rfm_group "
        f"FROM (SELECT contact_id, "
        f"{quintile('last_purchase', 'purchases_365d', 'revenue_365d')} AS rfm_recency, "
        f"{quintile('purchases_365d', 'revenue_365d', 'last_purchase')} AS rfm_frequency, "
        f"{quintile('revenue_365d', 'purchases_365d', 'last_purchase')} AS rfm_monetary "
        f"FROM {joined} WHERE purchases_365d > 0) AS ranked)")
    parts.append(
        "cap AS (SELECT quantile_cont(engagement_raw, "
        f"{float(cfg.engagement_cap_quantile)!r}) AS cap FROM {joined} WHERE engagement_raw > 0)")
    today = f"CAST({_timestamp(stamp)} AS DATE)"
    year = stamp.year

    def anniversary(year_sql: str) -> str:
        leap = (f"(({year_sql}) % 4 = 0 AND (({year_sql}) % 100 <> 0 OR ({year_sql}) % 400 = 0))")
        return (f"make_date({year_sql}, month(birth_day), CASE WHEN month(birth_day) = 2 AND "
                f"day(birth_day) = 29 AND NOT {leap} THEN 28 ELSE day(birth_day) END)")

    known_birth = f"(birth_day IS NOT NULL AND birth_day <= {today})"
    this_year, next_year = anniversary(str(year)), anniversary(str(year + 1))
    next_birthday = (f"CASE WHEN {known_birth} THEN (CASE WHEN {this_year} >= {today} "
                     f"THEN {this_year} ELSE {next_year} END) END")
    windows_out = []
    for days in windows:
        windows_out += [f"purchases_{days}d", f"revenue_{days}d"]

    def days_since(column: str) -> str:
        return f"({as_of_ns} - {column}) / {_NS_PER_DAY}.0"

    new_start = as_of_ns - cfg.new_days * _NS_PER_DAY
    lifecycle = (
        f"CASE WHEN signup_ns IS NOT NULL AND signup_ns > {new_start} AND signup_ns <= "
        f"{as_of_ns} AND (last_purchase IS NULL OR first_purchase > {new_start}) THEN 'new' "
        f"WHEN last_purchase > {as_of_ns - cfg.active_days * _NS_PER_DAY} THEN 'active' "
        f"WHEN last_purchase > {as_of_ns - cfg.at_risk_days * _NS_PER_DAY} THEN 'at_risk' "
        f"WHEN last_purchase IS NOT NULL THEN 'lapsed' ELSE 'never_purchased' END")
    select = ["j.contact_id", f"j.{POSITION}",
              "make_timestamp_ns(last_purchase) AS last_purchase_date",
              "make_timestamp_ns(last_open) AS last_open_date",
              "make_timestamp_ns(last_click) AS last_click_date",
              "make_timestamp_ns(last_visit) AS last_visit_date",
              "make_timestamp_ns(last_activity) AS last_activity_date",
              f"{days_since('last_purchase')} AS days_since_last_purchase",
              f"{days_since('last_open')} AS days_since_last_open",
              f"{days_since('last_click')} AS days_since_last_click",
              f"{days_since('last_visit')} AS days_since_last_visit",
              f"{days_since('last_activity')} AS days_since_last_activity",
              *windows_out, "purchases_total", "revenue_total", "items_365d",
              "CASE WHEN purchases_total > 0 THEN revenue_total / purchases_total END "
              "AS avg_basket",
              "make_timestamp_ns(first_purchase) AS first_purchase_date",
              "scored.rfm_recency", "scored.rfm_frequency", "scored.rfm_monetary",
              "scored.rfm_score", "coalesce(scored.rfm_group, CASE WHEN purchases_total > 0 "
              "THEN 'lost' ELSE 'never_purchased' END) AS rfm_group",
              *[f"{p}_{d}d" for p in ("opens", "clicks", "visits") for d in (30, 90)],
              "CASE WHEN cap.cap IS NULL THEN engagement_raw "
              "ELSE round_even(least(engagement_raw / cap.cap, 1.0) * 100.0, 1) END "
              "AS engagement_score",
              f"{lifecycle} AS lifecycle_stage",
              "carts_abandoned_30d > 0 AS cart_abandoner", "carts_abandoned_30d",
              "preferred_brand", "preferred_category",
              "preferred_send_hour",
              "CASE send_weekday " + " ".join(f"WHEN {code} THEN '{day}'" for code, day in
                                             enumerate(WEEKDAYS)) + " END AS preferred_send_weekday",
              ("CASE WHEN purchases_365d > 0 THEN CAST(discounted_365d AS DOUBLE) / "
               "purchases_365d END" if discount_columns else "CAST(NULL AS DOUBLE)")
              + " AS discount_share_365d",
              "last_cart_value AS last_abandoned_cart_value",
              "last_cart_items AS last_abandoned_cart_items",
              "last_cart_brand AS last_abandoned_cart_brand",
              "last_cart_category AS last_abandoned_cart_category",
              f"{days_since('signup_ns')} AS days_since_signup",
              f"CASE WHEN {known_birth} THEN {year} - year(birth_day) - CASE WHEN "
              f"{this_year} > {today} THEN 1 ELSE 0 END END AS age",
              f"{next_birthday} AS next_birthday",
              f"date_diff('day', {today}, {next_birthday}) AS days_to_birthday",
              f"coalesce(last_activity <= {since(365)}, TRUE) AS inactive"]
    query = (f"WITH {', '.join(parts)} SELECT {', '.join(select)} FROM {joined} AS j "
             f"LEFT JOIN scored ON scored.contact_id = j.contact_id CROSS JOIN "
             f"(SELECT max(cap) AS cap FROM cap) AS cap")
    return port(query, dialect)


def build_feature_table(connection: Any, name: str, as_of: Any, *,
                        columns: Mapping[str, Sequence[str]], purchases_from: str = "events",
                        windows: Sequence[int] = (30, 90, 365),
                        config: FeatureConfig | None = None,
                        tables: Mapping[str, str] | None = None, buckets: int = 1,
                        temporary: bool = True) -> None:
    """Create the table ``name`` of :func:`feature_query`'s rows in DuckDB: a temporary
    table, or with ``temporary=False`` one of the database, which DuckDB keeps compressed
    (at 10 million contacts 0.85 GB against 3.8 GB in memory, which spilled to disk with a
    4 GB memory limit: every later scan read it back).

    With ``buckets > 1`` the per-contact aggregates are computed for a range of contact ids
    at a time (ranges of about as many contacts each, from the ids' quantiles), then
    ranked and capped over the whole base: the aggregates of 10 million contacts at once
    outgrow memory and spill (380 s here), a range at a time does not, and where the files
    are laid out by contact each range reads only its own row groups.
    """
    options = {"columns": columns, "purchases_from": purchases_from, "windows": windows,
               "config": config, "tables": tables}
    create = "CREATE OR REPLACE TEMP TABLE" if temporary else "CREATE OR REPLACE TABLE"
    if buckets <= 1:
        connection.execute(f"{create} {name} AS {feature_query(as_of, **options)}")
        return
    aggregates = f"{name}_aggregates"
    contacts = (tables or {}).get("contacts", "contacts")
    try:
        for index, bucket in enumerate(_id_ranges(connection, contacts, buckets)):
            part = feature_query(as_of, stage="aggregates", bucket=bucket, **options)
            connection.execute(f"{create} {aggregates} AS {part}"
                               if index == 0 else f"INSERT INTO {aggregates} {part}")
        connection.execute(f"{create} {name} AS "
                           f"{feature_query(as_of, aggregates=aggregates, **options)}")
    finally:
        connection.execute(f"DROP TABLE IF EXISTS {aggregates}")


def _id_ranges(connection: Any, contacts: str, count: int
               ) -> list[tuple[str | None, str | None]]:
    """``count`` ranges of contact ids (``(low, high]`` as SQL literals, None unbounded)
    holding about as many contacts each, from the ids' quantiles."""
    fractions = ", ".join(str(i / count) for i in range(1, count))
    (cuts,) = connection.execute(f"SELECT quantile_disc(contact_id, [{fractions}]) "
                                 f"FROM {contacts}").fetchall()[0]
    bounds = [None] + [id_literal(value) for value in cuts] + [None]
    return list(zip(bounds[:-1], bounds[1:], strict=True))


def id_literal(value: Any) -> str:
    """A contact id as an SQL literal: a whole number as such, anything else quoted."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return str(int(value))
    return "'" + str(value).replace("'", "''") + "'"


def compute_features_sql(connection: Any, as_of: Any, *, columns: Mapping[str, Sequence[str]],
                         purchases_from: str = "events", windows: Sequence[int] = (30, 90, 365),
                         config: FeatureConfig | None = None,
                         tables: Mapping[str, str] | None = None,
                         index: pd.Index | None = None, buckets: int = 1) -> pd.DataFrame:
    """Run :func:`feature_query` in DuckDB (in ``buckets`` ranges of contacts, see
    :func:`build_feature_table`): the features as the pandas implementation gives them
    (same columns, order and dtypes), indexed by ``index`` (default 0..n-1)."""
    build_feature_table(connection, "computed_features", as_of, columns=columns,
                        purchases_from=purchases_from, windows=windows, config=config,
                        tables=tables, buckets=buckets)
    try:
        raw = connection.sql(f"SELECT * FROM computed_features ORDER BY {POSITION}").df()
    finally:
        connection.execute("DROP TABLE computed_features")
    return as_pandas_features(raw, windows, config, index)


def as_pandas_features(raw: pd.DataFrame, windows: Sequence[int] = (30, 90, 365),
                       config: FeatureConfig | None = None, index: pd.Index | None = None
                       ) -> pd.DataFrame:
    """The query's rows (in the contacts' order) with the pandas implementation's dtypes
    and column order."""
    n = len(raw)
    names = list(feature_definitions(tuple(windows), config))
    out: dict[str, Any] = {}
    for name in names:
        column = raw[name]
        if name.endswith("_date"):
            out[name] = pd.to_datetime(column).to_numpy(dtype="datetime64[ns]")
        elif name in ("rfm_recency", "rfm_frequency", "rfm_monetary"):
            out[name] = pd.array(column, dtype="Int8")
        elif name in ("age", "days_to_birthday"):
            out[name] = pd.array(column, dtype="Int16")
        elif name == "next_birthday":
            out[name] = pd.to_datetime(column).to_numpy(dtype="datetime64[ns]")
        elif name == "rfm_score":
            out[name] = pd.Categorical(column.astype("object").where(column.notna(), None),
                                       categories=list(RFM_SCORES))
        elif name == "rfm_group":
            out[name] = pd.Categorical(column.astype("object"), categories=list(RFM_GROUPS))
        elif name == "lifecycle_stage":
            out[name] = pd.Categorical(column.astype("object"), categories=list(LIFECYCLE_STAGES))
        elif name == "preferred_send_hour":
            out[name] = pd.array(column, dtype="Int8")
        elif name == "preferred_send_weekday":
            out[name] = pd.Categorical(column.astype("object").where(column.notna(), None),
                                       categories=list(WEEKDAYS))
        elif name in ("preferred_brand", "preferred_category", "last_abandoned_cart_brand",
                      "last_abandoned_cart_category"):
            values = column.astype("object").where(column.notna(), None)
            out[name] = pd.Categorical(values, categories=sorted(set(values.dropna())))
        elif name in ("cart_abandoner", "inactive"):
            out[name] = column.to_numpy(dtype=bool)
        elif name.startswith(("purchases_", "opens_", "clicks_", "visits_", "carts_")):
            out[name] = column.to_numpy(dtype=np.int64)
        else:
            out[name] = column.to_numpy(dtype=float, na_value=np.nan)
    return pd.DataFrame(out, index=index if index is not None else pd.RangeIndex(n))
