"""Hypothesis strategies of rules over the tiny base and the sample, shared by the engine
agreement tests (pandas vs SQL, pandas vs the DuckDB engine)."""

from __future__ import annotations

from datetime import date

from hypothesis import strategies as st

from segexplore.rules import nodes as R
from segexplore.rules.events import (
    DateRangeWindow,
    EventAggregate,
    EventSpec,
    LastPerformed,
    LastWindow,
    NotFollowedBy,
)

TEXT_VALUES = {
    "city": ["Lyon", "Paris", "Gent", "Bruxelles", "lyon", "Nice"],
    "device": ["Android", "iOS", "Desktop"],
    "language": ["fr", "nl", "en", "de"],
    "loyalty_tier": ["gold", "silver", "bronze", "platinum"],
    "postal_code": ["69001", "75001", "9000", "1000", "75"],
    "consent": ["given", "withdrawn", "pending"],
}
TAGS = ["sport", "outdoor", "running", "kids", "home", "Sport"]
DATES = st.dates(min_value=date(2019, 1, 1), max_value=date(2027, 1, 1))
DURATIONS = st.builds(R.Duration, st.integers(1, 400), st.sampled_from(["hours", "days", "weeks", "months"]))
WINDOWS = st.one_of(
    st.none(),
    st.builds(LastWindow, DURATIONS),
    st.tuples(DATES, DATES).map(lambda d: DateRangeWindow(min(d), max(d))),
)


def _text_condition():
    def build(field, op_kind, data):
        values = TEXT_VALUES[field]
        if op_kind == "compare":
            return R.Compare(field, data.draw(st.sampled_from(["=", "!=", "<", ">="])),
                             data.draw(st.sampled_from(values)))
        if op_kind == "in":
            return R.InList(field, tuple(data.draw(st.lists(st.sampled_from(values), min_size=1,
                                                             max_size=3, unique=True))),
                            negated=data.draw(st.booleans()))
        if op_kind == "match":
            return R.TextMatch(field, data.draw(st.sampled_from(["contains", "starts with",
                                                                  "ends with"])),
                               data.draw(st.sampled_from(["o", "ly", "ON", "s", "", "75"])))
        return R.IsMissing(field, negated=data.draw(st.booleans()))

    return st.builds(build, st.sampled_from(sorted(TEXT_VALUES)),
                     st.sampled_from(["compare", "in", "match", "missing"]), st.data())


NUMBER = st.one_of(st.integers(-5, 70), st.floats(-5, 70, allow_nan=False).map(lambda x: round(x, 2)))
SCORE = st.one_of(
    st.builds(R.Compare, st.just("score"), st.sampled_from(["=", "!=", "<", "<=", ">", ">="]), NUMBER),
    st.builds(lambda a, b: R.Between("score", min(a, b), max(a, b)), NUMBER, NUMBER),
    st.builds(R.TopPercent, st.just("score"), st.floats(1, 100).map(lambda x: round(x, 1))),
)
DATE_CONDITIONS = st.one_of(
    st.builds(R.DateCompare, st.sampled_from(["signup_date", "birth_date"]),
              st.sampled_from(["before", "after"]), DATES),
    st.builds(lambda f, a, b: R.Between(f, min(a, b), max(a, b)),
              st.sampled_from(["signup_date", "birth_date"]), DATES, DATES),
    st.builds(R.WithinLast, st.just("signup_date"), DURATIONS),
    st.builds(R.MoreThanAgo, st.sampled_from(["signup_date", "last_purchase_date"]), DURATIONS),
    st.builds(R.Anniversary, st.just("birth_date"), st.integers(0, 120)),
)
HAS = st.builds(R.Has, st.just("interests"), st.sampled_from(["any", "all", "none"]),
                st.lists(st.sampled_from(TAGS), min_size=1, max_size=3, unique=True).map(tuple))

WHERE = st.one_of(
    st.none(),
    st.builds(R.Compare, st.just("brand"), st.sampled_from(["=", "!="]),
              st.sampled_from(["Nike", "Adidas", "Salomon"])),
    st.builds(R.InList, st.just("brand"), st.just(("Nike", "Adidas")), st.booleans()),
)
EVENT_TYPES = st.sampled_from(["purchase", "visit", "click", "add_to_cart", "open"])
AGGREGATES = st.one_of(
    st.builds(lambda t, w, win, op, v: EventAggregate("count", t, None, w, win, op, v),
              EVENT_TYPES, WHERE, WINDOWS, st.sampled_from(["=", ">=", "<", "!="]),
              st.integers(0, 4)),
    st.builds(lambda f, p, win, op, v: EventAggregate(f, "purchase", p, None, win, op, v),
              st.sampled_from(["sum", "avg", "min", "max"]), st.sampled_from(["amount", "items"]),
              WINDOWS, st.sampled_from([">=", "<", "="]), st.sampled_from([0, 1, 3, 45, 60.0, 100])),
    st.builds(lambda within, win, w: NotFollowedBy(EventSpec("add_to_cart", w),
                                                     EventSpec("purchase"), within, win),
              st.builds(R.Duration, st.integers(1, 72), st.sampled_from(["hours", "days"])),
              WINDOWS, WHERE),
    st.builds(lambda t, rel, d: LastPerformed(EventSpec(t), rel, d), EVENT_TYPES,
              st.sampled_from(["more than ago", "within last"]), DURATIONS),
)
LEAVES = st.one_of(_text_condition(), SCORE, DATE_CONDITIONS, HAS, AGGREGATES,
                   st.just(R.SegmentRef("Clients groupe A")))
RULES = st.recursive(
    LEAVES,
    lambda inner: st.one_of(
        st.lists(inner, min_size=2, max_size=3).map(lambda xs: R.And(*xs)),
        st.lists(inner, min_size=2, max_size=3).map(lambda xs: R.Or(*xs)),
        inner.map(R.Not),
    ),
    max_leaves=6,
)
