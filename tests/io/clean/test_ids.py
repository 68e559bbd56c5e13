"""Contact ids of every kind: leading-zero text, UUIDs, integers above 2**31, mixed columns.

Issue 10: ``read_base`` raised ``InvalidIndexError`` as soon as ids were not small integers
and one contact had two events in the year before ``as_of``. Every expectation below is
computed with plain pandas from the input tables, never from segexplore itself.
"""

from __future__ import annotations

import uuid

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import segexplore as se

AS_OF = pd.Timestamp("2026-10-31")
NOW = pd.Timestamp("2026-11-01")

KINDS = {
    "leading_zero": ["00001", "00002", "00010"],
    "uuid": [str(uuid.UUID(int=k)) for k in (1, 2, 3)],
    "large_int": [2**31 + 5, 2**40, 2**62 + 1],
    "mixed": [1, "00002", 2**40],
}


def _tables(ids: list) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Three contacts; the first has two events and two orders in the last year."""
    dtype = object if any(isinstance(i, str) for i in ids) else "int64"
    contacts = pd.DataFrame({"contact_id": pd.Series(ids, dtype=dtype),
                             "email": ["a@example.fr", "b@example.fr", "c@example.fr"]})
    events = pd.DataFrame({
        "contact_id": pd.Series([ids[0], ids[0], ids[1]], dtype=contacts["contact_id"].dtype),
        "timestamp": ["2026-10-05", "2026-10-06", "2026-10-07"],
        "event_type": ["open", "open", "click"]})
    orders = pd.DataFrame({
        "contact_id": pd.Series([ids[0], ids[0]], dtype=contacts["contact_id"].dtype),
        "timestamp": ["2026-09-01", "2026-09-15"], "amount": [10.5, 20.0]})
    return contacts, events, orders


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_ids_of_every_kind_load_with_repeated_events(kind):
    ids = KINDS[kind]
    contacts, events, orders = _tables(ids)
    base = se.read_base(contacts, events, orders, as_of=AS_OF, now=NOW)
    # A mixed int/text column becomes text: one column has one type (documented).
    expected = [str(i) for i in ids] if kind == "mixed" else ids
    assert base.contacts["contact_id"].tolist() == expected
    assert [type(v) for v in base.contacts["contact_id"].tolist()] == \
        [type(v) for v in expected]
    features = base.features
    assert features["purchases_total"].tolist() == [2, 0, 0]
    assert features["revenue_total"].tolist() == [30.5, 0.0, 0.0]
    assert features["opens_30d"].tolist() == [2, 0, 0]
    assert features["clicks_30d"].tolist() == [0, 1, 0]
    steps = base.report.steps.set_index("step")
    assert int(steps.loc["inactive flagged", "rows"]) == 1  # only the third contact


def test_leading_zero_ids_in_csv_stay_text(tmp_path):
    (tmp_path / "contacts.csv").write_text(
        "contact_id,email\n00001,a@example.fr\n00002,b@example.fr\n10003,c@example.fr\n",
        encoding="utf-8")
    (tmp_path / "events.csv").write_text(
        "contact_id,timestamp,event_type\n00001,2026-10-05,open\n00001,2026-10-06,open\n"
        "00002,2026-10-07,click\n", encoding="utf-8")
    (tmp_path / "orders.csv").write_text(
        "contact_id,timestamp,amount\n00001,2026-09-01,10.5\n00001,2026-09-15,20\n",
        encoding="utf-8")
    base = se.read_base(tmp_path / "contacts.csv", tmp_path / "events.csv",
                        tmp_path / "orders.csv", as_of=AS_OF, now=NOW)
    assert base.contacts["contact_id"].tolist() == ["00001", "00002", "10003"]
    assert base.events["contact_id"].tolist() == ["00001", "00001", "00002"]
    assert base.features["purchases_total"].tolist() == [2, 0, 0]


def test_text_ids_match_events_whose_ids_were_read_as_numbers(tmp_path):
    """Contacts ids read as text (a leading zero somewhere), events ids without one read as
    integers: ``10003`` is the same contact on both sides."""
    contacts = pd.DataFrame({"contact_id": ["00001", "10003"],
                             "email": ["a@example.fr", "c@example.fr"]})
    events = pd.DataFrame({"contact_id": [10003, 10003, 1],
                           "timestamp": ["2026-10-05", "2026-10-06", "2026-10-07"],
                           "event_type": ["open", "open", "open"]})
    base = se.read_base(contacts, events, as_of=AS_OF, now=NOW)
    assert base.events["contact_id"].tolist() == ["10003", "10003"]
    assert base.features["opens_30d"].tolist() == [0, 2]
    # 1 is not "00001": no guessing, the row is rejected with its reason.
    rejects = base.rejects["events"]
    assert rejects["reason"].tolist() == ["unknown contact_id (not in contacts)"]
    assert rejects["contact_id"].tolist() == [1]


def test_known_ids_accepts_repeated_keys():
    from segexplore.io.clean.ids import known_ids

    ids = np.array(["00001", "00002", "x"], dtype=object)
    keys = np.array(["00001", "00001", "x", "zz"], dtype=object)
    assert known_ids(ids, keys).tolist() == [True, False, True]
    big = np.array([2**40, 2**41, 7], dtype=np.int64)
    assert known_ids(big, np.array([2**40, 2**40, 7])).tolist() == [True, False, True]


# --- property test ---------------------------------------------------------------------------

def _ids_of_kind(kind: str, n: int) -> st.SearchStrategy:
    if kind == "leading_zero":
        element = st.integers(0, 99_999).map(lambda k: f"{k:05d}")
    elif kind == "uuid":
        element = st.uuids().map(str)
    elif kind == "large_int":
        element = st.integers(2**31, 2**62)
    elif kind == "small_int":
        element = st.integers(1, 50)
    else:  # mixed: integers and leading-zero strings (never equal once written as text)
        element = st.one_of(st.integers(1, 2**40),
                            st.integers(0, 9999).map(lambda k: f"0{k:04d}"))
    return st.lists(element, min_size=n, max_size=n,
                    unique_by=lambda v: str(v))


@st.composite
def bases(draw):
    kind = draw(st.sampled_from(["leading_zero", "uuid", "large_int", "small_int", "mixed"]))
    n = draw(st.integers(1, 6))
    ids = draw(_ids_of_kind(kind, n))
    # A small pool of emails: two contacts with the same email merge (first row survives).
    emails = [f"p{draw(st.integers(0, n - 1))}@example.fr" for _ in range(n)]
    events = draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, 500),
                                     st.sampled_from(["open", "click", "visit"])),
                           max_size=25))
    orders = draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, 500),
                                     st.integers(0, 10_000)), max_size=15))
    return kind, ids, emails, events, orders


def _column(values: list, kind: str) -> pd.Series:
    if kind in ("large_int", "small_int"):
        return pd.Series(values, dtype="int64")
    return pd.Series(values, dtype=object)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bases())
def test_every_event_and_order_lands_on_its_contact(case):
    kind, ids, emails, events, orders = case
    as_text = kind == "mixed"
    out_id = (lambda v: str(v)) if as_text else (lambda v: v)
    contacts = pd.DataFrame({"contact_id": _column(ids, kind), "email": emails})
    # Plain pandas: the first row of each email survives; every id leads to its survivor.
    survivor_of_email = contacts.drop_duplicates("email").set_index("email")["contact_id"]
    survivor = {out_id(i): out_id(survivor_of_email[e]) for i, e in zip(ids, emails, strict=True)}
    expected_ids = [out_id(i) for i in survivor_of_email.tolist()]

    stamp = lambda days: AS_OF - pd.Timedelta(days=days)  # noqa: E731
    event_frame = pd.DataFrame({
        "contact_id": _column([ids[p] for p, _, _ in events], kind),
        "timestamp": [stamp(d) for _, d, _ in events],
        "event_type": [t for _, _, t in events]})
    order_frame = pd.DataFrame({
        "contact_id": _column([ids[p] for p, _, _ in orders], kind),
        "timestamp": [stamp(d) for _, d, _ in orders],
        "amount": [c / 100 for _, _, c in orders]})
    base = se.read_base(contacts, event_frame if len(events) else None,
                        order_frame if len(orders) else None, as_of=AS_OF, now=NOW)

    got = base.contacts["contact_id"].tolist()
    assert got == expected_ids
    assert [type(v) for v in got] == [type(v) for v in expected_ids]
    assert len(base.report.merges) == len(ids) - len(expected_ids)
    assert base.report.accounting()["balanced"].all()

    def per_contact(frame: pd.DataFrame, value: str | None = None) -> pd.Series:
        keys = frame["contact_id"].map(lambda v: survivor[out_id(v)])
        grouped = (frame.assign(_key=keys).groupby("_key")[value].sum() if value
                   else keys.value_counts())
        return grouped.reindex(expected_ids, fill_value=0)

    if len(events):
        # Every event moved to its surviving contact, none lost.
        assert len(base.events) == len(events)
        landed = base.events["contact_id"].value_counts().reindex(expected_ids, fill_value=0)
        assert landed.tolist() == per_contact(event_frame).tolist()
        for event_type in ("open", "click", "visit"):
            subset = event_frame[event_frame["event_type"] == event_type]
            counts = base.activity.count(event_type) if event_type in \
                base.activity.event_types else np.zeros(len(got), dtype=int)
            assert list(counts) == per_contact(subset).tolist()
        recent = event_frame[event_frame["timestamp"] > AS_OF - pd.Timedelta(days=30)]
        opens = recent[recent["event_type"] == "open"]
        assert base.features["opens_30d"].tolist() == per_contact(opens).tolist()
    if len(orders):
        assert len(base.orders) == len(orders)
        assert base.features["purchases_total"].tolist() == per_contact(order_frame).tolist()
        np.testing.assert_allclose(base.features["revenue_total"].to_numpy(dtype=float),
                                   per_contact(order_frame, "amount").to_numpy(dtype=float))
    if len(events) or len(orders):
        year = AS_OF - pd.Timedelta(days=365)
        active = set()
        for frame in (event_frame, order_frame):
            if len(frame):
                recent = frame[frame["timestamp"] > year]
                active |= {survivor[out_id(v)] for v in recent["contact_id"]}
        steps = base.report.steps.set_index("step")
        assert int(steps.loc["inactive flagged", "rows"]) == len(set(expected_ids) - active)


def test_a_blank_id_cell_does_not_turn_integer_ids_into_floats(tmp_path):
    """pandas reads an integer column with one blank cell as float: 1 -> 1.0. The row
    without an id is rejected; the others keep their integer ids."""
    (tmp_path / "contacts.csv").write_text(
        "contact_id,email\n1,a@example.fr\n,b@example.fr\n2147483653,c@example.fr\n",
        encoding="utf-8")
    (tmp_path / "events.csv").write_text(
        "contact_id,timestamp,event_type\n1,2026-10-05,open\n1,2026-10-06,open\n"
        ",2026-10-06,open\n2147483653,2026-10-07,open\n", encoding="utf-8")
    base = se.read_base(tmp_path / "contacts.csv", tmp_path / "events.csv", as_of=AS_OF,
                        now=NOW)
    ids = base.contacts["contact_id"]
    assert ids.tolist() == [1, 2147483653]
    assert pd.api.types.is_integer_dtype(ids.dtype)
    assert base.events["contact_id"].tolist() == [1, 1, 2147483653]
    assert pd.api.types.is_integer_dtype(base.events["contact_id"].dtype)
    assert base.features["opens_30d"].tolist() == [2, 1]
    assert base.rejects["contacts"]["reason"].tolist() == ["contact_id is missing"]
    assert base.rejects["events"]["reason"].tolist() == ["contact_id is missing"]
    # Ids with a fraction are not integers: they stay as they are.
    odd = se.read_base(pd.DataFrame({"contact_id": [1.5, 2.0], "email": ["a@x.fr", "b@x.fr"]}))
    assert odd.contacts["contact_id"].tolist() == [1.5, 2.0]
