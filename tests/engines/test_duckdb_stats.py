"""Profile and compare on a DuckDB base give the pandas engine's frames, bit for bit: on the
sample opened both ways, for the base and for segments (contact rules, feature rules, an
empty one), on the tiny base with generated rules, and on generated bases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import write_parquet
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rule_strategies import RULES

import segexplore as se
from segexplore.analysis.compare import compare
from segexplore.analysis.profile import profile
from segexplore.engines.duckdb_counts import FEATURE_DTYPES

PROFILE_TABLES = ("summary", "top_values", "histograms", "tags", "suggestions")
SEGMENT_RULES = {
    "Android": 'device = "Android"',
    "Champions": 'rfm_group = "champions"',
    "Buyers": "purchases_90d >= 2 or revenue_365d > 300",
    "Nobody": 'city = "Nowhere"',
}


def _write(base: se.ContactBase, folder) -> dict:
    return write_parquet(folder, base.contacts, base.events, base.orders)


@pytest.fixture(scope="module")
def sample_pair():
    folder = se.sample_path()
    duck = se.read_base(folder / "contacts.parquet", folder / "events.parquet",
                        folder / "orders.parquet", engine="duckdb", threads=2,
                        memory_limit="2GB")
    return se.load_sample(clean=False), duck


@pytest.fixture(scope="module")
def tiny_pair(tmp_path_factory):
    from tiny_base import NOW, contacts_frame, events_frame

    cleaned = se.read_base(contacts_frame(), events_frame(), now=NOW)
    paths = _write(cleaned, tmp_path_factory.mktemp("tiny"))
    # both engines read the same files (an all-missing category is a null column there)
    pandas_base = se.read_base(paths["contacts"], paths["events"], clean=False,
                               as_of=cleaned.as_of)
    duck = se.read_base(paths["contacts"], paths["events"], engine="duckdb",
                        as_of=cleaned.as_of)
    for base in (pandas_base, duck):  # the generated rules name it
        base.segment('loyalty_tier in ("gold", "silver")', name="Clients groupe A")
    return pandas_base, duck


def _same_profile(expected, got) -> None:
    assert (got.n_rows, got.name) == (expected.n_rows, expected.name)
    for table in PROFILE_TABLES:
        # exact: both engines sum the same (value, count) pairs in the same order
        pd.testing.assert_frame_equal(getattr(got, table), getattr(expected, table),
                                      check_exact=True, obj=table)


def test_the_profile_of_the_base_is_the_pandas_profile(sample_pair):
    pandas_base, duck = sample_pair
    expected = profile(pandas_base)
    assert len(expected.summary) > 50 and len(expected.histograms) and len(expected.tags)
    _same_profile(expected, profile(duck))
    _same_profile(pandas_base.profile(), duck.profile())  # the base's own method


def test_the_contact_columns_alone_and_options(sample_pair):
    pandas_base, duck = sample_pair
    _same_profile(profile(pandas_base, include_features=False, bins=7, top=3),
                  profile(duck, include_features=False, bins=7, top=3))


@pytest.mark.parametrize("name", list(SEGMENT_RULES))
def test_the_profile_of_a_segment_is_the_pandas_profile(sample_pair, name):
    pandas_base, duck = sample_pair
    rule = SEGMENT_RULES[name]
    mine, theirs = duck.segment(rule, name=name), pandas_base.segment(rule, name=name)
    assert mine.size == theirs.size
    # from the rule's SQL (a Segment), and from a mask (Segment.profile passes one)
    _same_profile(profile(theirs), profile(mine))
    _same_profile(theirs.profile(), mine.profile())
    if name == "Nobody":
        assert profile(mine).n_rows == 0


def test_masked_personal_data_is_masked_alike(sample_pair):
    pandas_base, duck = sample_pair
    rule = 'region = "Bretagne"'
    expected = profile(pandas_base.segment(rule), mask_pii=True, include_features=False)
    got = profile(duck.segment(rule), mask_pii=True, include_features=False)
    _same_profile(expected, got)
    names = expected.top_values[expected.top_values["attribute"] == "first_name"]
    assert len(names) and names["value"].str.fullmatch(r".\.").all()


def test_the_feature_dtypes_are_the_pandas_features(sample_pair):
    pandas_base, _ = sample_pair
    dtypes = pandas_base.features.dtypes
    assert {name: str(dtypes[name]) for name in FEATURE_DTYPES} == FEATURE_DTYPES


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rule=RULES)
def test_generated_rules_profile_alike_on_the_tiny_base(tiny_pair, rule):
    pandas_base, duck = tiny_pair
    _same_profile(profile(pandas_base.segment(rule, name="s")),
                  profile(duck.segment(rule, name="s")))


# -- generated bases -----------------------------------------------------------------------

NUMBERS = st.one_of(st.none(), st.integers(-3, 6).map(float),
                    st.floats(-1e6, 1e6, allow_nan=False, width=32).map(float))


@st.composite
def contact_frames(draw):
    n = draw(st.integers(1, 40))
    column = lambda values: draw(st.lists(values, min_size=n, max_size=n))  # noqa: E731
    frame = pd.DataFrame({
        "contact_id": np.arange(1, n + 1),
        "email": [f"p{i}@example.com" for i in range(n)],
        "band": pd.Categorical(column(st.sampled_from(["gold", "silver", None, "bronze"])),
                               categories=["silver", "gold", "bronze", "unused"]),
        "note": column(st.sampled_from(["a", "b", "a|b", "c", None])),
        "score": column(NUMBERS),
        "visits": column(st.integers(0, 5)),
        "seen": pd.to_datetime(column(st.one_of(st.none(), st.datetimes(
            min_value=pd.Timestamp("2020-01-01").to_pydatetime(),
            max_value=pd.Timestamp("2026-01-01").to_pydatetime())))).astype(
                "datetime64[ns]"),
        "flag": column(st.booleans()),
    })
    return frame, draw(st.lists(st.booleans(), min_size=n, max_size=n))


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(drawn=contact_frames())
def test_generated_bases_profile_alike(tmp_path_factory, drawn):
    frame, mask = drawn
    folder = tmp_path_factory.mktemp("generated")
    frame.to_parquet(folder / "contacts.parquet", index=False)
    pandas_base = se.read_base(folder / "contacts.parquet", clean=False,
                               as_of="2026-01-02")
    duck = se.read_base(folder / "contacts.parquet", engine="duckdb", as_of="2026-01-02")
    mask = pd.Series(mask)
    for options in ({}, {"mask": mask}):
        _same_profile(profile(pandas_base, include_features=False, **options),
                      profile(duck, include_features=False, **options))
