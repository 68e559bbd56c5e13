"""Tests of ActivityTable: hand-computed values, then a comparison with plain pandas."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from segexplore.errors import SchemaError, ValidationError
from segexplore.features.activity import ActivityTable
from segexplore.features.times import window

T = pd.Timestamp
AS_OF = T("2024-06-30")
TYPES = ["open", "click", "visit", "add_to_cart", "purchase"]


def make_events(rows: list[tuple]) -> pd.DataFrame:
    """Events from (contact_id, timestamp, event_type, brand, amount) tuples."""
    frame = pd.DataFrame(rows, columns=["contact_id", "timestamp", "event_type", "brand",
                                        "amount"])
    frame["timestamp"] = pd.to_datetime(frame["timestamp"])
    frame["event_type"] = pd.Categorical(frame["event_type"], categories=TYPES)
    frame["brand"] = frame["brand"].astype("category")
    return frame


@pytest.fixture
def small() -> ActivityTable:
    events = make_events([
        ("a", "2024-06-30 00:00", "open", None, None),       # exactly at as_of: inside
        ("a", "2024-05-31 00:00", "open", None, None),       # exactly as_of - 30d: outside
        ("a", "2024-06-01 00:00", "open", None, None),
        ("b", "2024-06-15 00:00", "open", None, None),
        ("a", "2024-07-01 00:00", "open", None, None),       # after as_of
        ("b", "2024-06-10 00:00", "visit", "Acme", None),
        ("b", "2024-06-11 00:00", "visit", "Bolt", None),
        ("b", "2024-06-12 00:00", "visit", "Acme", None),
        ("c", "2024-06-20 00:00", "visit", "Bolt", None),
        ("a", "2024-06-01 10:00", "add_to_cart", "Acme", None),
        ("a", "2024-06-02 10:00", "purchase", "Acme", 30.0),  # exactly +24h: followed
        ("b", "2024-06-05 10:00", "add_to_cart", "Bolt", None),
        ("b", "2024-06-05 09:00", "purchase", "Bolt", 20.0),  # before the cart: not a follow-up
        ("c", "2024-06-29 12:00", "add_to_cart", "Bolt", None),  # +24h is after as_of: unknown
        ("b", "2024-06-20 00:00", "purchase", "Acme", None),  # missing amount
        ("zz", "2024-06-20 00:00", "purchase", "Acme", 99.0),  # unknown contact
    ])
    return ActivityTable(pd.Index(["a", "b", "c", "d"]), events, None)


def test_window_helper_and_bounds():
    assert window(AS_OF, 30) == (T("2024-05-31"), AS_OF)
    assert window(AS_OF, "24h") == (T("2024-06-29"), AS_OF)


def test_counts_with_exclusive_start_inclusive_end(small):
    start, end = window(AS_OF, 30)
    np.testing.assert_array_equal(small.count("open", start=start, end=end), [2, 1, 0, 0])
    np.testing.assert_array_equal(small.count("open"), [4, 1, 0, 0])
    np.testing.assert_array_equal(small.count("open", end=AS_OF), [3, 1, 0, 0])
    assert small.count("open").dtype == np.int64
    assert small.n_contacts == 4
    assert small.unknown_contact_events == 1
    assert small.event_types == ["add_to_cart", "open", "purchase", "visit"]
    assert small.purchase_source == "events"
    # A known type without events gives zeros; an unknown one is an error with a hint.
    np.testing.assert_array_equal(small.count("click"), [0, 0, 0, 0])
    with pytest.raises(SchemaError, match="did you mean 'open'"):
        small.count("opne")


def test_where_mask_from_property(small):
    brand = small.property("visit", "brand")
    assert list(brand) == ["Acme", "Bolt", "Acme", "Bolt"]  # time order
    assert small.property_names("visit") == ["brand", "amount"]
    np.testing.assert_array_equal(small.count("visit", where=brand == "Acme"), [0, 2, 0, 0])
    np.testing.assert_array_equal(
        small.count("visit", start=T("2024-06-11"), end=AS_OF, where=(brand == "Acme").to_numpy()),
        [0, 1, 0, 0])
    with pytest.raises(ValueError, match="4 'visit' events"):
        small.count("visit", where=np.ones(3, dtype=bool))
    with pytest.raises(SchemaError, match="did you mean 'brand'"):
        small.property("visit", "brnd")


def test_aggregates(small):
    np.testing.assert_array_equal(small.aggregate("purchase", "amount", "sum"), [30, 20, 0, 0])
    mean = small.aggregate("purchase", "amount", "mean")
    np.testing.assert_array_equal(mean[:2], [30, 20])
    assert np.isnan(mean[2:]).all()
    # b's purchase exactly at the (exclusive) start is out; the one left has no amount.
    np.testing.assert_array_equal(small.aggregate("purchase", "amount", "max",
                                                  start=T("2024-06-05 09:00")), [np.nan] * 4)
    np.testing.assert_array_equal(small.count("purchase", start=T("2024-06-05 09:00")),
                                  [0, 1, 0, 0])
    np.testing.assert_array_equal(small.aggregate("purchase", "amount", "min")[:2], [30, 20])
    with pytest.raises(TypeError, match="not numeric"):
        small.aggregate("visit", "brand", "sum")


def test_first_and_last(small):
    last = small.last("open", end=AS_OF)
    assert last.dtype == np.dtype("datetime64[ns]")
    assert list(pd.DatetimeIndex(last)) == [T("2024-06-30"), T("2024-06-15"), pd.NaT, pd.NaT]
    first = small.first("visit")
    assert list(pd.DatetimeIndex(first)) == [pd.NaT, T("2024-06-10"), T("2024-06-20"), pd.NaT]


def test_not_followed_by_edge_cases(small):
    counts = small.count_not_followed_by("add_to_cart", "purchase", "24h", as_of=AS_OF,
                                         start=AS_OF - pd.Timedelta(days=30), end=AS_OF)
    # a: purchase exactly 24h later follows; b: purchase one hour *before* the cart does not;
    # c: cart 12h before as_of cannot be judged yet.
    np.testing.assert_array_equal(counts, [0, 1, 0, 0])
    flags = small.not_followed_by("add_to_cart", "purchase", "24h", as_of=AS_OF)
    np.testing.assert_array_equal(flags, [False, True, False, False])
    # One more hour of hindsight does not change c (still under 24h); a day more does.
    later = small.not_followed_by("add_to_cart", "purchase", "24h", as_of=T("2024-07-01"))
    np.testing.assert_array_equal(later, [False, True, True, False])
    # A shorter follow-up window: a's purchase (at +24h) is now too late.
    short = small.not_followed_by("add_to_cart", "purchase", "23h", as_of=AS_OF)
    np.testing.assert_array_equal(short, [True, True, False, False])
    # A window that ends before as_of: b's cart (06-05 10:00) is in it and judged; the
    # window's end bounds the cart only, not its 24h follow-up.
    np.testing.assert_array_equal(
        small.count_not_followed_by("add_to_cart", "purchase", "24h", as_of=AS_OF,
                                    start=T("2024-06-01"), end=T("2024-06-05 10:00")),
        [0, 1, 0, 0])
    # Filtering the follow-up events: only Bolt purchases count.
    bolt = (small.property("purchase", "brand") == "Bolt").to_numpy()
    np.testing.assert_array_equal(
        small.not_followed_by("add_to_cart", "purchase", "24h", as_of=AS_OF, then_where=bolt),
        [True, True, False, False])


def test_mode_weights_and_ties(small):
    best = small.mode("brand", {"visit": 1, "add_to_cart": 1, "purchase": 3})
    # a: cart Acme 1 + purchase Acme 3. b: visits Acme 2 + Bolt 1, cart Bolt 1, purchases
    # Bolt 3 and Acme 3 -> Acme 5 = Bolt 5, tie -> alphabetical Acme. c: Bolt. d: nothing.
    assert best.tolist()[:3] == ["Acme", "Acme", "Bolt"]
    assert pd.isna(best[3])
    only_visits = small.mode("brand", {"visit": 1})
    assert pd.isna(only_visits[0])
    assert only_visits.tolist()[1:3] == ["Acme", "Bolt"]
    assert list(only_visits.categories) == ["Acme", "Bolt"]


def test_decayed_count(small):
    decayed = small.decayed_count("open", as_of=AS_OF, half_life="30D")
    # a: opens at as_of (1), 29 and 30 days before; b: 15 days before.
    expected_a = 1 + 0.5 ** (29 / 30) + 0.5
    np.testing.assert_allclose(decayed, [expected_a, 0.5 ** 0.5, 0, 0])


def test_purchases_fall_back_to_orders():
    events = make_events([("a", "2024-06-01", "visit", "Acme", None)])
    orders = pd.DataFrame({
        "order_id": ["o1", "o2", "o3"], "contact_id": ["b", "a", "b"],
        "timestamp": pd.to_datetime(["2024-06-03", "2024-06-02", "2024-06-01"]),
        "amount": [10.0, 5.0, 7.5], "items": [1, 2, 3], "brand": ["X", "Y", "X"],
        "category": ["shoes", "bags", "shoes"]})
    table = ActivityTable(["a", "b"], events, orders)
    assert table.purchase_source == "orders"
    np.testing.assert_array_equal(table.count("purchase"), [1, 2])
    np.testing.assert_array_equal(table.aggregate("purchase", "amount"), [5, 17.5])
    assert list(table.property("purchase", "order_id")) == ["o3", "o2", "o1"]
    assert set(table.property_names("purchase")) == {"order_id", "amount", "items", "brand",
                                                      "category"}
    # Purchase events in the events table win over orders.
    with_purchase = make_events([("a", "2024-06-01", "purchase", "Acme", 1.0)])
    table = ActivityTable(["a", "b"], with_purchase, orders)
    assert table.purchase_source == "events"
    np.testing.assert_array_equal(table.count("purchase"), [1, 0])


def test_empty_inputs_and_duplicates():
    table = ActivityTable(pd.Index([1, 2, 3]), None, None)
    np.testing.assert_array_equal(table.count("purchase"), [0, 0, 0])
    assert table.aggregate("purchase", "amount").tolist() == [0, 0, 0]
    assert np.isnan(table.aggregate("purchase", "amount", "mean")).all()
    assert np.isnat(table.last("open")).all()
    assert table.mode("brand", {"visit": 1}).isna().all()
    assert not table.not_followed_by("add_to_cart", "purchase", "24h", as_of=AS_OF).any()
    with pytest.raises(ValidationError, match="unique"):
        ActivityTable(pd.Index([1, 1]), None, None)


def test_unsorted_input_and_integer_ids_and_inputs_untouched():
    rng = np.random.default_rng(3)
    times = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 10**6, 300), unit="s")
    events = pd.DataFrame({"contact_id": rng.integers(0, 20, 300) * 7,
                           "timestamp": times,
                           "event_type": rng.choice(["open", "visit"], 300),  # plain strings
                           "amount": rng.random(300)})
    before = events.copy()
    table = ActivityTable(np.arange(20)[::-1] * 7, events, None)
    pd.testing.assert_frame_equal(events, before)
    opens = events[events.event_type == "open"]
    expected = opens.groupby("contact_id").size().reindex(np.arange(20)[::-1] * 7, fill_value=0)
    np.testing.assert_array_equal(table.count("open"), expected.to_numpy())
    expected_last = opens.groupby("contact_id")["timestamp"].max().reindex(np.arange(20)[::-1] * 7)
    np.testing.assert_array_equal(table.last("open"), expected_last.to_numpy("datetime64[ns]"))


# ---------------------------------------------------------------- randomised vs pandas

def random_base(seed: int, n_contacts: int = 30, n_events: int = 800):
    """Random events on whole hours so that many fall exactly on window bounds."""
    rng = np.random.default_rng(seed)
    ids = pd.Index(rng.permutation(np.arange(1000, 1000 + n_contacts)).astype(str)).astype("str")
    hours = rng.integers(0, 24 * 200, n_events)
    events = pd.DataFrame({
        "contact_id": np.where(rng.random(n_events) < 0.03, "ghost",
                               ids.to_numpy()[rng.integers(0, n_contacts, n_events)]),
        "timestamp": pd.Timestamp("2024-01-01") + pd.to_timedelta(hours, unit="h"),
        "event_type": pd.Categorical(rng.choice(TYPES, n_events), categories=TYPES),
        "brand": pd.Categorical(rng.choice(["A", "B", "C", None], n_events)),
        "amount": np.where(rng.random(n_events) < 0.1, np.nan, rng.integers(1, 100, n_events)),
    })
    return ids, events.sample(frac=1, random_state=seed).reset_index(drop=True)


def expected_by_contact(values: pd.Series, ids: pd.Index, fill) -> np.ndarray:
    return values.reindex(ids, fill_value=fill).to_numpy()


@pytest.mark.parametrize("seed", range(4))
def test_matches_pandas_groupby(seed):
    ids, events = random_base(seed)
    if seed % 2:  # the categorical contact_id path
        events["contact_id"] = events["contact_id"].astype("category")
    table = ActivityTable(ids, events, None)
    assert table.unknown_contact_events == int((events.contact_id == "ghost").sum())
    known = events[events.contact_id != "ghost"]
    # Bounds on whole hours, so that events sit exactly on them.
    as_of = pd.Timestamp("2024-01-01") + pd.Timedelta(hours=24 * 150)
    for days in (1, 7, 30, 90):
        start = as_of - pd.Timedelta(days=days)
        inside = known[(known.timestamp > start) & (known.timestamp <= as_of)]
        for event_type in TYPES:
            part = inside[inside.event_type == event_type]
            counts = part.groupby("contact_id").size()
            np.testing.assert_array_equal(table.count(event_type, start=start, end=as_of),
                                          expected_by_contact(counts, ids, 0))
            sums = part.groupby("contact_id")["amount"].sum()
            np.testing.assert_allclose(table.aggregate(event_type, "amount", "sum", start=start,
                                                       end=as_of),
                                       expected_by_contact(sums, ids, 0.0))
            means = part.groupby("contact_id")["amount"].mean()
            np.testing.assert_allclose(
                table.aggregate(event_type, "amount", "mean", start=start, end=as_of),
                expected_by_contact(means, ids, np.nan))
            for func in ("min", "max"):
                expected = part.groupby("contact_id")["amount"].agg(func)
                np.testing.assert_allclose(
                    table.aggregate(event_type, "amount", func, start=start, end=as_of),
                    expected_by_contact(expected, ids, np.nan))
            last = part.groupby("contact_id")["timestamp"].max().reindex(ids)
            np.testing.assert_array_equal(table.last(event_type, start=start, end=as_of),
                                          last.to_numpy("datetime64[ns]"))
            first = part.groupby("contact_id")["timestamp"].min().reindex(ids)
            np.testing.assert_array_equal(table.first(event_type, start=start, end=as_of),
                                          first.to_numpy("datetime64[ns]"))
            acme = part[part.brand == "A"].groupby("contact_id").size()
            mask = table.property(event_type, "brand") == "A"
            np.testing.assert_array_equal(
                table.count(event_type, start=start, end=as_of, where=mask),
                expected_by_contact(acme, ids, 0))


def brute_not_followed(events: pd.DataFrame, ids: pd.Index, within: pd.Timedelta,
                       start: pd.Timestamp, as_of: pd.Timestamp,
                       end: pd.Timestamp | None = None) -> np.ndarray:
    """Plain double loop: count carts in (start, end] with t + within <= as_of and no
    purchase of the same contact in (t, t + within]."""
    end = as_of if end is None else min(end, as_of)
    carts = events[events.event_type == "add_to_cart"]
    purchases = events[events.event_type == "purchase"]
    counts = dict.fromkeys(ids, 0)
    for cart in carts.itertuples():
        t = cart.timestamp
        if not (start < t <= end and t + within <= as_of) or cart.contact_id not in counts:
            continue
        own = purchases[purchases.contact_id == cart.contact_id].timestamp
        if not ((own > t) & (own <= t + within)).any():
            counts[cart.contact_id] += 1
    return np.array([counts[i] for i in ids])


@pytest.mark.parametrize("seed", range(3))
def test_not_followed_by_matches_brute_force(seed):
    ids, events = random_base(seed, n_contacts=8, n_events=500)
    table = ActivityTable(ids, events, None)
    as_of = pd.Timestamp("2024-01-01") + pd.Timedelta(hours=24 * 120)
    for within in (pd.Timedelta(hours=24), pd.Timedelta(hours=72), pd.Timedelta(0)):
        start = as_of - pd.Timedelta(days=60)
        expected = brute_not_followed(events, ids, within, start, as_of)
        got = table.count_not_followed_by("add_to_cart", "purchase", within, as_of=as_of,
                                          start=start, end=as_of)
        np.testing.assert_array_equal(got, expected)
        # A window ending before as_of: its last carts have had their follow-up time.
        end = as_of - pd.Timedelta(hours=30)
        expected = brute_not_followed(events, ids, within, start, as_of, end)
        got = table.count_not_followed_by("add_to_cart", "purchase", within, as_of=as_of,
                                          start=start, end=end)
        np.testing.assert_array_equal(got, expected)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 40), st.booleans()), max_size=40),
       st.integers(0, 12), st.integers(10, 45))
def test_not_followed_by_property(rows, within_hours, as_of_hour):
    """Times on a coarse hourly grid make ties and exact-boundary follow-ups frequent."""
    ids = pd.Index(["p", "q", "r", "s"])
    origin = pd.Timestamp("2024-01-01")
    events = pd.DataFrame({
        "contact_id": [ids[c] for c, _, _ in rows],
        "timestamp": [origin + pd.Timedelta(hours=h) for _, h, _ in rows],
        "event_type": pd.Categorical(["add_to_cart" if cart else "purchase" for *_, cart in rows],
                                     categories=TYPES)})
    events["timestamp"] = pd.to_datetime(events["timestamp"])
    table = ActivityTable(ids, events, None)
    as_of = origin + pd.Timedelta(hours=as_of_hour)
    within = pd.Timedelta(hours=within_hours)
    start = origin - pd.Timedelta(hours=1)
    got = table.count_not_followed_by("add_to_cart", "purchase", within, as_of=as_of,
                                      start=start)
    np.testing.assert_array_equal(got, brute_not_followed(events, ids, within, start, as_of))


def test_timezones_introspection_and_cache_isolation():
    events = make_events([
        ("a", "2024-06-29 23:30", "visit", "Acme", None),
        ("b", "2024-06-30 00:30", "visit", "Bolt", None),
    ])
    events["timestamp"] = events["timestamp"].dt.tz_localize("Europe/Paris")  # UTC+2
    table = ActivityTable(["a", "b"], events, None)
    # In UTC the visits are at 21:30 and 22:30 on the 29th.
    np.testing.assert_array_equal(table.count("visit", end=T("2024-06-29 22:00")), [1, 0])
    np.testing.assert_array_equal(
        table.count("visit", end=T("2024-06-30 00:00", tz="Europe/Paris")), [1, 0])
    assert len(table) == 2 and table.n_events("visit") == 2 and table.n_events("open") == 0
    assert table.window_bounds("visit", T("2024-06-29 21:30"), None) == (1, 2)
    assert "visit=2" in repr(table)
    brands = table.property("visit", "brand")
    brands.iloc[0] = "Bolt"
    assert table.property("visit", "brand").tolist() == ["Acme", "Bolt"]


def test_unusable_purchase_rows_still_mean_purchases_come_from_events():
    events = make_events([("ghost", "2024-06-01", "purchase", "Acme", 1.0),
                          ("a", "2024-06-01", "visit", "Acme", None)])
    orders = pd.DataFrame({"order_id": [1], "contact_id": ["a"], "amount": [5.0],
                           "timestamp": pd.to_datetime(["2024-06-02"])})
    table = ActivityTable(["a"], events, orders)
    assert table.purchase_source == "events"
    assert table.unknown_contact_events == 1
    np.testing.assert_array_equal(table.count("purchase"), [0])


@pytest.mark.parametrize(("contact_ids", "id_dtype"), [
    ([10, 12, 14, 16], "int64"),        # compact range: lookup array
    ([10, 12, 14, 16], "Int64"),
    ([10, 12, 14, 16], "int32"),
    ([10, 12, 14, 10**12], "int64"),    # sparse: hashing
    ([10, 12, 14, 10**12], "Int64"),
])
def test_integer_ids_with_unknown_values(contact_ids, id_dtype):
    event_ids = [16, 11, 10, -5, 99_999, 14, contact_ids[-1], 10]
    events = pd.DataFrame({"contact_id": pd.array(event_ids, dtype=id_dtype),
                           "timestamp": pd.date_range("2024-01-01", periods=8, freq="D"),
                           "event_type": "open"})
    table = ActivityTable(pd.Index(contact_ids), events, None)
    expected = [event_ids.count(contact) for contact in contact_ids]
    np.testing.assert_array_equal(table.count("open"), expected)
    assert table.unknown_contact_events == 8 - sum(expected)


@pytest.mark.parametrize("path", ["dense", "dense_many_blocks", "sorted"])
def test_mode_matches_pandas(path, monkeypatch):
    from segexplore.features import modes as module

    if path == "sorted":
        monkeypatch.setattr(module, "_DENSE_MODE_MAX_CELLS", 0)
    elif path == "dense_many_blocks":
        monkeypatch.setattr(module, "_DENSE_MODE_BLOCK_CELLS", 16)  # 256-contact blocks
    rng = np.random.default_rng(7)
    n_contacts, n_events = 700, 5000
    ids = pd.Index(np.arange(n_contacts))
    events = pd.DataFrame({
        "contact_id": rng.integers(0, n_contacts + 5, n_events),
        "timestamp": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 400, n_events),
                                                                  "D"),
        "event_type": pd.Categorical(rng.choice(["visit", "add_to_cart", "purchase"], n_events),
                                     categories=TYPES),
        "brand": pd.Categorical(rng.choice(["Zed", "Acme", "Bolt", None], n_events),
                                categories=["Zed", "Bolt", "Acme"]),  # not alphabetical
    })
    table = ActivityTable(ids, events, None)
    weights = {"visit": 1, "add_to_cart": 2, "purchase": 3}
    start, end = pd.Timestamp("2024-03-01"), pd.Timestamp("2024-12-01")
    got = table.mode("brand", weights, start=start, end=end)
    inside = events[(events.timestamp > start) & (events.timestamp <= end)
                    & events.brand.notna() & (events.contact_id < n_contacts)]
    inside = inside.assign(weight=inside.event_type.astype(str).map(weights))
    totals = inside.groupby(["contact_id", "brand"], observed=True)["weight"].sum().reset_index()
    totals["brand"] = totals["brand"].astype(str)
    best = (totals.sort_values(["contact_id", "weight", "brand"], ascending=[True, False, True])
            .drop_duplicates("contact_id").set_index("contact_id")["brand"].reindex(ids))
    assert [None if pd.isna(v) else v for v in got] == \
           [None if pd.isna(v) else v for v in best]
    assert list(got.categories) == ["Acme", "Bolt", "Zed"]
