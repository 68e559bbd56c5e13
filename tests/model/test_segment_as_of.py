"""Issue 10: a segment always answers for its base's current as_of and data."""

from __future__ import annotations

import pandas as pd
import pytest

import segexplore as se
from segexplore.rules.engines.sql import run_duckdb

RULE = "count(purchase, last 90 days) >= 1"


def _by_hand(base: se.ContactBase, as_of: pd.Timestamp) -> int:
    """Contacts with a purchase in (as_of - 90 days, as_of], in plain pandas."""
    table = base.events[base.events["event_type"] == "purchase"] if (
        base.events is not None and (base.events["event_type"] == "purchase").any()) \
        else base.orders
    stamps = table["timestamp"]
    recent = table[(stamps > as_of - pd.Timedelta(days=90)) & (stamps <= as_of)]
    return int(base.contacts["contact_id"].isin(recent["contact_id"]).sum())


@pytest.fixture
def sample():
    return se.load_sample()


def test_segment_follows_a_new_as_of(sample):
    segment = sample.segment(RULE)
    before = segment.size
    assert before == _by_hand(sample, sample.as_of)
    sample.as_of = "2026-06-30"
    expected = _by_hand(sample, pd.Timestamp("2026-06-30"))
    assert expected != before  # the fixture really moves the answer
    assert segment.size == expected
    assert segment.size == sample.segment(RULE).size
    assert (segment.mask == run_duckdb(RULE, sample)).all()
    assert "as of 2026-06-30" in repr(segment)
    sample.as_of = "2026-10-30 23:57:48"
    assert segment.size == before


def test_child_segment_follows_the_as_of_of_its_parent(sample):
    buyers = sample.segment(RULE, name="buyers")
    android = sample.segment('device = "Android"', parent=buyers)
    sample.as_of = "2026-06-30"
    fresh = sample.segment(f'({RULE}) and device = "Android"')
    assert android.size == fresh.size
    assert (android.mask == fresh.mask).all()


def test_segment_referring_to_a_redefined_saved_segment_follows_it(tiny_base):
    tiny_base.segment('city = "Lyon"', name="Here")
    refers = tiny_base.segment('segment("Here")')
    assert refers.size == 2
    tiny_base.segment('city = "Paris" or city = "Gent"', name="Here")
    assert refers.size == 3


def test_segment_follows_a_replaced_contacts_table(tiny_base):
    segment = tiny_base.segment('city = "Lyon"')
    assert segment.size == 2
    contacts = tiny_base.contacts.copy()
    contacts["city"] = contacts["city"].cat.add_categories(["Nowhere"]).where(
        contacts["city"] != "Lyon", "Nowhere")
    tiny_base.contacts = contacts
    assert segment.size == 0


def test_mask_is_computed_once_per_state(sample, monkeypatch):
    segment = sample.segment(RULE)
    calls = []
    evaluator_type = type(sample.evaluator())
    original = evaluator_type.mask

    def counting(self, *args, **kwargs):
        calls.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(evaluator_type, "mask", counting)
    segment.size, segment.share, segment.mask  # noqa: B018 - three reads, one evaluation
    assert len(calls) == 1
    sample.as_of = "2026-06-30"
    segment.size, segment.mask  # noqa: B018
    assert len(calls) == 2
