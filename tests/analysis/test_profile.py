"""Profiles: every statistic checked against pandas/numpy on small hand-made tables.

The tests taking ``tiny_engine_base`` or ``sample_base`` profile the base on both engines
(tests/conftest.py); their oracles read the pandas ``tiny_base``'s tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import segexplore as se
from segexplore.analysis.encoding import sorted_quantiles
from segexplore.analysis.profile import QUANTILES, Profile, profile


def _row(prof: Profile, attribute: str) -> pd.Series:
    return prof.to_frame().loc[attribute]


def test_categorical_counts_match_value_counts(tiny_engine_base, tiny_base):
    prof = profile(tiny_engine_base, include_features=False)
    city = _row(prof, "city")
    assert (city["kind"], city["role"]) == ("categorical", "categorical")
    assert (city["count"], city["missing"], city["distinct"]) == (6, 1, 4)
    assert city["missing_share"] == pytest.approx(1 / 7)
    # Lyon and Paris tie at 2: the category order breaks the tie
    assert (city["top"], city["top_count"], city["top_share"]) == ("Lyon", 2, pytest.approx(2 / 7))
    top = prof.top_values[prof.top_values["attribute"] == "city"]
    expected = tiny_base.contacts["city"].value_counts()
    assert dict(zip(top["value"], top["count"], strict=True)) == expected[expected > 0].to_dict()
    assert top["share"].tolist() == pytest.approx((top["count"] / 7).tolist())


def test_numeric_statistics_match_numpy(tiny_engine_base, tiny_base):
    prof = profile(tiny_engine_base, include_features=False)
    score = _row(prof, "score")
    values = tiny_base.contacts["score"].dropna().to_numpy()
    assert (score["count"], score["missing"], score["distinct"]) == (6, 1, 6)
    assert score["mean"] == pytest.approx(values.mean())
    assert score["std"] == pytest.approx(values.std(ddof=1))
    assert (score["min"], score["max"]) == (10.0, 60.0)
    expected = np.quantile(values, QUANTILES)
    got = [score[f"p{round(q * 100)}"] for q in QUANTILES]
    assert got == pytest.approx(expected.tolist())


def test_date_statistics_are_timestamps(tiny_engine_base, tiny_base):
    prof = profile(tiny_engine_base, include_features=False)
    birth = _row(prof, "birth_date")
    dates = tiny_base.contacts["birth_date"].dropna()
    assert birth["kind"] == "date"
    assert birth["min"] == dates.min() and birth["max"] == dates.max()
    assert abs(birth["p50"] - dates.median()) < pd.Timedelta(seconds=1)
    assert abs(birth["mean"] - dates.mean()) < pd.Timedelta(seconds=1)
    assert isinstance(birth["std"], pd.Timedelta)


def test_histograms_match_numpy_and_count_every_known_value():
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"amount": rng.exponential(50, 500).round(2),
                          "visits": rng.integers(0, 6, 500)})
    frame.loc[::7, "amount"] = np.nan
    prof = profile(frame, bins=12)
    amounts = prof.histograms[prof.histograms["attribute"] == "amount"]
    known = frame["amount"].dropna().to_numpy()
    counts, edges = np.histogram(known, bins=12)
    assert amounts["count"].tolist() == counts.tolist()
    assert amounts["left"].astype(float).to_numpy() == pytest.approx(edges[:-1])
    # integers spanning few values get one bin per value, centred on it
    visits = prof.histograms[prof.histograms["attribute"] == "visits"]
    assert visits["left"].tolist() == [-0.5, 0.5, 1.5, 2.5, 3.5, 4.5]
    assert visits["count"].tolist() == np.bincount(frame["visits"]).tolist()


def test_multi_valued_tags_are_counted_per_contact_ignoring_case(tiny_engine_base):
    prof = profile(tiny_engine_base, include_features=False)
    tags = dict(zip(prof.tags["tag"], prof.tags["count"], strict=True))
    # "sport|outdoor", "running", "outdoor", None, "home|kids", "Sport", None
    assert tags == {"sport": 2, "outdoor": 2, "running": 1, "home": 1, "kids": 1}
    interests = _row(prof, "interests")
    assert (interests["kind"], interests["missing"], interests["distinct"]) == ("multi", 2, 5)
    assert not (prof.top_values["attribute"] == "interests").any()


def test_mask_and_segment_profile_only_the_members(tiny_engine_base, tiny_base):
    android = tiny_engine_base.segment('device = "Android"', name="Android")
    by_segment = profile(android)
    by_mask = profile(tiny_engine_base, mask=android.mask)
    assert by_segment.name == "Android" and by_segment.n_rows == android.size == 4
    pd.testing.assert_frame_equal(by_segment.summary, by_mask.summary)
    members = tiny_base.contacts[android.mask]
    assert _row(by_segment, "city")["count"] == members["city"].notna().sum()
    assert _row(by_segment, "score")["mean"] == pytest.approx(members["score"].mean())
    assert _row(by_segment, "purchases_30d")["mean"] == pytest.approx(
        tiny_base.features.loc[android.mask, "purchases_30d"].mean())


def test_features_are_profiled_with_role_feature(tiny_engine_base, tiny_base):
    prof = profile(tiny_engine_base)
    features = prof.summary[prof.summary["role"] == "feature"]
    assert features["attribute"].tolist() == tiny_base.features.columns.tolist()
    kinds = dict(zip(features["attribute"], features["kind"], strict=True))
    assert (kinds["cart_abandoner"], kinds["rfm_group"], kinds["last_purchase_date"],
            kinds["age"]) == ("boolean", "categorical", "date", "numeric")


def test_suggestions_parse_and_select_the_share_they_announce(sample_base):
    sample = sample_base
    prof = profile(sample)
    assert set(prof.suggestions["kind"]) == {"quantile", "cover_80"}
    for row in prof.suggestions.itertuples():
        assert se.parse(row.text) is not None
        assert sample.count(row.text) == round(row.share * prof.n_rows), row.text
    cover = prof.suggestions[prof.suggestions["kind"] == "cover_80"]
    device = cover.loc[cover["attribute"] == "device", "text"].item()
    assert device == 'device in ("Android", "iOS")'
    assert prof.suggestions.loc[(prof.suggestions["attribute"] == "purchases_30d"), "text"
                                ].iloc[0] == "purchases_30d > 0"


def test_dataframe_input_infers_roles_and_never_mutates():
    frame = pd.DataFrame({"plan": ["a", "b", "a", None], "spend": [1.0, 2.5, np.nan, 4.0],
                          "optin": [True, False, True, True]}, index=[10, 20, 30, 40])
    before = frame.copy()
    prof = profile(frame)
    pd.testing.assert_frame_equal(frame, before)
    assert prof.attributes == ["plan", "spend", "optin"]
    assert prof.summary["kind"].tolist() == ["categorical", "numeric", "boolean"]
    assert _row(prof, "optin")["mean"] == pytest.approx(0.75)
    masked = profile(frame, mask=pd.Series([True, True, False, False], index=[10, 20, 30, 40]))
    assert masked.n_rows == 2 and _row(masked, "spend")["max"] == 2.5


def test_bad_arguments_name_the_parameter(tiny_engine_base):
    tiny_base = tiny_engine_base
    with pytest.raises(ValueError, match="'bins'.*received: 0"):
        profile(tiny_base, bins=0)
    with pytest.raises(ValueError, match="'mask'.*length 7"):
        profile(tiny_base, mask=np.ones(3, dtype=bool))
    with pytest.raises(TypeError, match="'base_or_frame'"):
        profile([1, 2, 3])


def test_profile_tables_have_the_documented_columns(tiny_engine_base):
    prof = profile(tiny_engine_base)
    assert prof.top_values.columns.tolist() == ["attribute", "value", "count", "share"]
    assert prof.histograms.columns.tolist() == ["attribute", "left", "right", "count"]
    assert prof.tags.columns.tolist() == ["attribute", "tag", "count", "share"]
    assert prof.suggestions.columns.tolist() == ["attribute", "kind", "text", "share"]
    assert prof.to_frame().index.name == "attribute"
    assert repr(prof).startswith("Profile('base': 7 contacts")


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=60))
def test_sorted_quantiles_equal_numpy(values):
    ordered = np.sort(np.array(values))
    assert np.array_equal(sorted_quantiles(ordered, QUANTILES), np.quantile(ordered, QUANTILES))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.one_of(st.none(), st.integers(-50, 50)), min_size=1, max_size=40),
       st.integers(1, 15))
def test_histogram_counts_equal_numpy(values, bins):
    series = pd.Series(values, dtype="float64")
    prof = profile(pd.DataFrame({"x": series}), bins=bins)
    if prof.summary["kind"].item() != "numeric":  # only 0 and 1: inferred boolean
        return
    known = series.dropna().to_numpy()
    got = prof.histograms["count"].to_numpy()
    assert got.sum() == len(known)
    if len(known) and known.min() < known.max():
        assert got.tolist() == np.histogram(known, bins=bins)[0].tolist()
