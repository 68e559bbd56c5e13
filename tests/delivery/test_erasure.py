"""Erasure removes exactly one person: their rows, what was merged into them, their
activity, and every value of theirs the base can write out (issue 11)."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import segexplore as se


def _id_reuse_base() -> se.ContactBase:
    """Ann's duplicate reuses Bob's contact id 2: it merges into Ann (id 1), while the
    events keyed by id 2 stay Bob's."""
    contacts = pd.DataFrame({"contact_id": [1, 2, 2],
                             "email": ["ann@x.fr", "bob@x.fr", "ANN@x.fr"],
                             "phone": ["+33 6 11 11 11 11", "+33 6 22 22 22 22",
                                       "+33 6 33 33 33 33"],
                             "consent": "given"})
    events = pd.DataFrame({"contact_id": [1, 2],
                           "timestamp": pd.to_datetime(["2026-01-01", "2026-01-02"]),
                           "event_type": ["open", "purchase"]})
    return se.read_base(contacts, events, as_of="2026-06-01")


def test_forgetting_ann_keeps_bob_whose_id_her_duplicate_reused():
    base = _id_reuse_base()
    assert base.contacts["email"].tolist() == ["ann@x.fr", "bob@x.fr"]  # loading is right
    report = base.forget("ann@x.fr")
    assert base.contacts["email"].tolist() == ["bob@x.fr"]
    assert base.events["event_type"].tolist() == ["purchase"]
    assert base.events["contact_id"].tolist() == [2]
    assert report.removed["contacts"] == 1
    assert report.removed["events"] == 1
    assert report.removed["merged records"] == 1


def test_forgetting_bob_by_id_keeps_ann_and_her_merged_record():
    base = _id_reuse_base()
    base.forget(2)
    assert base.contacts["email"].tolist() == ["ann@x.fr"]
    assert base.events["event_type"].tolist() == ["open"]
    assert len(base.report.merges) == 1  # Ann's duplicate is hers, not Bob's


def test_no_value_of_the_person_remains_in_category_lists_or_written_files(tmp_path):
    base = _id_reuse_base()
    assert len(base.features) == 2  # computed before the erasure, so stale copies would show
    base.forget("ann@x.fr")
    everything: list[str] = []
    for frame in (base.contacts, base.events, base.features):
        for column in frame.columns:
            values = frame[column]
            if isinstance(values.dtype, pd.CategoricalDtype):
                everything += [str(v) for v in values.cat.categories]
            everything += [str(v) for v in values.dropna()]
    for value in ("ann@x.fr", "+33 6 11 11 11 11", "+33 6 33 33 33 33"):
        assert value not in everything
    for name, frame in (("contacts", base.contacts), ("events", base.events),
                        ("features", base.features)):
        frame.to_parquet(tmp_path / f"{name}.parquet")  # category lists are written too
    written = b"".join(path.read_bytes() for path in sorted(tmp_path.glob("*.parquet")))
    for value in (b"ann@x.fr", b"+33 6 11 11 11 11", b"+33 6 33 33 33 33"):
        assert value not in written
    assert b"+33 6 22 22 22 22" in written  # Bob's phone is still there


def test_erasure_result_names_saved_segments_whose_rule_names_the_email():
    base = _id_reuse_base()
    base.segment('email = "ann@x.fr"', name="Ann only")
    base.segment("count(open, last 365 days) >= 1", name="Openers")
    report = base.forget("ann@x.fr")
    assert report.segments_naming_person == ("Ann only",)
    assert "ann@x.fr" not in repr(report) and "ann@x.fr" not in str(report.to_dict())


# ------------------------------------------------------------------ property test

_people = st.lists(
    st.tuples(st.sampled_from(["a", "b", "c", "d", "e", "f"]),  # email local part
              st.sampled_from(["", " ", "UPPER"]),                # spelling of the email
              st.integers(1, 8),                                    # contact id (reused)
              st.integers(0, 3)),                                   # events of the row
    min_size=2, max_size=10)


def _random_base(rows) -> se.ContactBase:
    emails, ids, phones, event_ids = [], [], [], []
    for number, (local, spelling, contact_id, n_events) in enumerate(rows):
        email = f"{local}@x.fr"
        emails.append(email.upper() if spelling == "UPPER" else email + spelling)
        ids.append(contact_id)
        phones.append(f"+33 6 {number:02d} 00 00 00")
        event_ids += [contact_id] * n_events
    contacts = pd.DataFrame({"contact_id": ids, "email": emails, "phone": phones,
                             "consent": "given"})
    events = pd.DataFrame({"contact_id": event_ids,
                           "timestamp": pd.Timestamp("2026-01-01")
                           + pd.to_timedelta(range(len(event_ids)), unit="h"),
                           "event_type": "open"})
    return se.read_base(contacts, events, as_of="2026-06-01")


def _rows_as_text(frame: pd.DataFrame) -> set[str]:
    return {"|".join(map(str, row)) for row in frame.astype("object").itertuples(index=False)}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=_people, target=st.integers(0, 9))
def test_forget_leaves_everybody_else_untouched(rows, target):
    base = _random_base(rows)
    person = base.contacts.iloc[target % len(base.contacts)]
    email, contact_id = person["email"], person["contact_id"]
    others = base.contacts["email"] != email
    kept_contacts = _rows_as_text(base.contacts[others])
    other_ids = set(base.contacts.loc[others, "contact_id"])
    kept_events = _rows_as_text(base.events[base.events["contact_id"].isin(other_ids)])
    n_events_of_person = int((base.events["contact_id"] == contact_id).sum())

    report = base.forget(email)

    assert _rows_as_text(base.contacts) == kept_contacts
    assert _rows_as_text(base.events) == kept_events
    assert email not in set(base.contacts["email"])
    assert report.removed["events"] == n_events_of_person


@pytest.mark.parametrize("by", ["email", "id"])
def test_forget_by_email_or_id_removes_the_same_person(by):
    base = _id_reuse_base()
    base.forget("ann@x.fr" if by == "email" else 1)
    assert base.contacts["email"].tolist() == ["bob@x.fr"]
