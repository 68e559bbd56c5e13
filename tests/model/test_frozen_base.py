"""A base does not change (issue 12): at() and with_suppressions() give new bases, a
segment answers on whichever base it is asked about, an erasure reaches every view."""

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


def test_a_segment_on_the_base_at_another_date(sample):
    segment = sample.segment(RULE)
    before = segment.size
    assert before == _by_hand(sample, sample.as_of)
    june = sample.at("2026-06-30")
    expected = _by_hand(sample, pd.Timestamp("2026-06-30"))
    assert expected != before  # the fixture really moves the answer
    assert segment.on(june).size == expected == june.evaluate(segment).size
    assert segment.on(june).size == june.segment(RULE).size
    assert (segment.on(june).mask == run_duckdb(RULE, june)).all()
    assert "as of 2026-06-30" in repr(segment.on(june))
    assert segment.size == before  # the segment's own base did not move
    assert segment.on(sample.at("2026-10-30 23:57:48")).size == before


def test_a_base_does_not_change(sample):
    with pytest.raises(se.errors.BaseFrozenError, match=r"base\.at\("):
        sample.as_of = "2026-06-30"
    with pytest.raises(AttributeError):  # the builtin it stands for
        sample.contacts = sample.contacts.head()
    segment = sample.segment(RULE)
    with pytest.raises(se.errors.BaseFrozenError):
        segment.rule = se.parse('city = "Lyon"')
    assert len(sample.contacts) == 20_000


def test_views_share_the_tables_and_the_saved_segments(sample):
    june = sample.at("2026-06-30")
    assert june.contacts is sample.contacts and june.events is sample.events
    assert june.activity is sample.activity
    sample.segment('device = "Android"', name="Android")
    assert "Android" in june.segments
    assert june.count('segment("Android")') == sample.count('device = "Android"')


def test_child_segment_on_another_date_uses_its_parent_there(sample):
    buyers = sample.segment(RULE, name="buyers")
    android = sample.segment('device = "Android"', parent=buyers)
    june = sample.at("2026-06-30")
    fresh = june.segment(f'({RULE}) and device = "Android"')
    assert android.on(june).size == fresh.size
    assert (android.on(june).mask == fresh.mask).all()
    assert android.size == sample.count(f'({RULE}) and device = "Android"')


def test_segment_referring_to_a_redefined_saved_segment_follows_it(tiny_base):
    tiny_base.segment('city = "Lyon"', name="Here")
    refers = tiny_base.segment('segment("Here")')
    assert refers.size == 2
    tiny_base.segment('city = "Paris" or city = "Gent"', name="Here")
    assert refers.size == 3


def test_suppressions_make_a_new_base(tiny_base, tmp_path):
    email = tiny_base.contacts["email"].dropna().iloc[0]
    quiet = tiny_base.with_suppressions([email.upper()])
    assert quiet.suppressions["email"].tolist() == [email]
    assert len(tiny_base.suppressions) == 0
    assert quiet.contacts is tiny_base.contacts
    everyone = tiny_base.segment("score >= 0")
    by_hand = everyone.members()
    sendable = by_hand["email"].notna() & by_hand["email_valid"].fillna(False) \
        & (by_hand["consent"] == "given")
    loud = tiny_base.segment("score >= 0").waterfall()
    kept = quiet.segment("score >= 0").waterfall()
    assert loud["remaining"].iloc[-1] == int(sendable.sum())
    assert kept["remaining"].iloc[-1] == int((sendable & (by_hand["email"] != email)).sum())


def test_an_erasure_reaches_every_view(tiny_base):
    email = tiny_base.contacts["email"].dropna().iloc[0]
    june, quiet = tiny_base.at("2026-06-30"), tiny_base.with_suppressions([email])
    segment = tiny_base.segment("score >= 0")
    before = segment.size
    tiny_base.forget(email)
    for view in (tiny_base, june, quiet):
        assert not (view.contacts["email"] == email).any()
        assert len(view.suppressions) == 0
    assert segment.size == before - 1
    assert segment.on(june).size == june.count("score >= 0")


def test_mask_is_computed_once_per_base(sample, monkeypatch):
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
    june = sample.at("2026-06-30")
    segment.on(june).size, segment.on(june).mask  # noqa: B018
    assert len(calls) == 2
