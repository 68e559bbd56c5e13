"""Comparisons: every statistic checked against scipy/numpy, and a 2x2 table by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from segexplore.analysis.compare import MAX_CATEGORIES, MAX_TAGS, compare
from segexplore.analysis.encoding import OTHER
from segexplore.analysis.stats import wilson_interval


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    """400 contacts: a plan (3 values), a device, spend with ties, a date, a flag and
    interests (multi-valued)."""
    rng = np.random.default_rng(7)
    n = 400
    spend = np.round(rng.gamma(2.0, 30.0, n), 0)  # whole euros: many ties
    spend[::11] = np.nan
    return pd.DataFrame({
        "plan": pd.Categorical(rng.choice(["free", "pro", "team"], n, p=[0.6, 0.3, 0.1])),
        "device": rng.choice(["Android", "iOS"], n),
        "spend": spend,
        "signup_date": pd.Timestamp("2024-01-01")
        + pd.to_timedelta(rng.integers(0, 700, n), unit="D"),
        "bought": rng.random(n) < 0.2,
        "interests": rng.choice(["sport|outdoor", "home", "kids|home", "Sport", None], n),
    }, index=pd.RangeIndex(1000, 1000 + n))


@pytest.fixture(scope="module")
def masks(frame) -> dict[str, pd.Series]:
    return {"big spenders": frame["spend"].fillna(0) >= 60,
            "android": frame["device"] == "Android"}


@pytest.fixture(scope="module")
def comparison(frame, masks):
    return compare(masks, frame, pairwise=True, rate="bought")


def _test(comparison, segment, attribute, versus="rest") -> pd.Series:
    tests = comparison.tests
    row = tests[(tests["segment"] == segment) & (tests["attribute"] == attribute)
                & (tests["versus"] == versus)]
    assert len(row) == 1, row
    return row.iloc[0]


def test_sizes_overlap_and_intersections(comparison, masks, frame):
    big, android = masks["big spenders"], masks["android"]
    assert comparison.sizes["size"].tolist() == [big.sum(), android.sum()]
    assert comparison.sizes["share"].tolist() == pytest.approx(
        [big.mean(), android.mean()])
    both = int((big & android).sum())
    counts = comparison.overlap_matrix("count")
    assert counts.loc["big spenders", "android"] == both
    assert counts.loc["android", "android"] == android.sum()
    jaccard = comparison.overlap_matrix("jaccard")
    assert jaccard.loc["android", "big spenders"] == pytest.approx(both / (big | android).sum())
    assert len(comparison.overlap) == 4  # long form with the diagonal
    inter = comparison.intersections
    expected = {(True, True): both, (True, False): int((big & ~android).sum()),
                (False, True): int((~big & android).sum())}
    got = {(r[0], r[1]): r[3] for r in inter[["big spenders", "android", "degree", "size"]]
           .itertuples(index=False)}
    assert got == expected
    assert inter["size"].is_monotonic_decreasing
    assert inter["share"].tolist() == pytest.approx((inter["size"] / len(frame)).tolist())


def test_categorical_test_matches_scipy_chi2_and_cramers_v(comparison, frame, masks):
    member = masks["android"]
    row = _test(comparison, "android", "plan")
    observed = pd.crosstab(member, frame["plan"]).to_numpy()[::-1]  # segment first
    result = stats.chi2_contingency(observed)
    assert row["test"] == "chi2"
    assert row["statistic"] == pytest.approx(result.statistic)
    assert row["p_value"] == pytest.approx(result.pvalue)
    assert row["effect_size"] == pytest.approx(
        stats.contingency.association(observed, method="cramer"))
    assert (row["segment_n"], row["rest_n"]) == (member.sum(), (~member).sum())


def test_two_by_two_table_by_hand():
    # segment: 30 of 40 opted in; rest: 20 of 60. Yates-corrected chi-square by hand.
    frame = pd.DataFrame({"optin": [True] * 30 + [False] * 10 + [True] * 20 + [False] * 40})
    member = pd.Series([True] * 40 + [False] * 60)
    row = compare({"s": member}, frame, rate=None).tests.iloc[0]
    a, b, c, d = 30, 10, 20, 40  # segment yes/no, rest yes/no (yes/no order is immaterial)
    n = a + b + c + d
    chi2_yates = n * (abs(a * d - b * c) - n / 2) ** 2 / ((a + b) * (c + d) * (a + c) * (b + d))
    chi2_plain = n * (a * d - b * c) ** 2 / ((a + b) * (c + d) * (a + c) * (b + d))
    assert row["test"] == "chi2"
    assert row["statistic"] == pytest.approx(chi2_yates)  # 15.04...
    assert row["p_value"] == pytest.approx(stats.chi2.sf(chi2_yates, 1))
    assert row["effect_size"] == pytest.approx(math.sqrt(chi2_plain / n))  # phi = 0.408


def test_sparse_two_by_two_uses_fisher_exact():
    frame = pd.DataFrame({"vip": [True, True, True, False, False] + [False] * 15 + [True]})
    member = pd.Series([True] * 5 + [False] * 16)
    result = compare({"few": member}, frame, rate=None)
    row = result.tests.iloc[0]
    table = np.array([[2, 3], [15, 1]])  # segment: 3 vip / 2 not; rest: 1 vip / 15 not
    expected = stats.fisher_exact(table)
    assert row["test"] == "fisher_exact"
    assert row["p_value"] == pytest.approx(expected.pvalue)
    assert row["statistic"] == pytest.approx(expected.statistic)
    assert "Fisher" in row["warning"]
    warned = result.warnings["warning"].tolist()
    assert any("Fisher" in w for w in warned)
    assert any("only 5 contacts" in w for w in warned)


def test_numeric_test_matches_scipy_mann_whitney(comparison, frame, masks):
    member = masks["android"].to_numpy()
    spend = frame["spend"].to_numpy()
    inside, outside = spend[member & ~np.isnan(spend)], spend[~member & ~np.isnan(spend)]
    row = _test(comparison, "android", "spend")
    expected = stats.mannwhitneyu(inside, outside)
    assert row["test"] == "mann_whitney_u"
    assert row["statistic"] == pytest.approx(expected.statistic)
    assert row["p_value"] == pytest.approx(expected.pvalue, rel=1e-9)
    n1, n2 = len(inside), len(outside)
    assert row["effect_size"] == pytest.approx(2 * expected.statistic / (n1 * n2) - 1)
    pooled = ((n1 - 1) * inside.var(ddof=1) + (n2 - 1) * outside.var(ddof=1)) / (n1 + n2 - 2)
    assert row["cohens_d"] == pytest.approx((inside.mean() - outside.mean()) / math.sqrt(pooled))
    assert row["segment_mean"] == pytest.approx(inside.mean())
    assert row["rest_median"] == pytest.approx(np.median(outside))
    assert (row["segment_n"], row["rest_n"]) == (n1, n2)


def test_pairwise_tests_compare_the_two_segments(comparison, frame, masks):
    spend = frame["spend"]
    first = spend[masks["big spenders"]].dropna()
    second = spend[masks["android"]].dropna()
    row = _test(comparison, "big spenders", "spend", versus="android")
    expected = stats.mannwhitneyu(first, second)
    assert row["statistic"] == pytest.approx(expected.statistic)
    assert row["p_value"] == pytest.approx(expected.pvalue, rel=1e-9)
    plan = _test(comparison, "big spenders", "plan", versus="android")
    observed = np.vstack([frame.loc[masks["big spenders"], "plan"].value_counts(sort=False),
                          frame.loc[masks["android"], "plan"].value_counts(sort=False)])
    assert plan["p_value"] == pytest.approx(stats.chi2_contingency(observed).pvalue)
    overlap = comparison.warnings[comparison.warnings["versus"] == "android"]["warning"]
    assert overlap.str.contains("in both segments").any()


def test_dates_are_tested_on_their_order(comparison, frame, masks):
    member = masks["big spenders"]
    dates = frame["signup_date"].to_numpy().astype("int64")
    expected = stats.mannwhitneyu(dates[member.to_numpy()], dates[~member.to_numpy()])
    row = _test(comparison, "big spenders", "signup_date")
    assert row["p_value"] == pytest.approx(expected.pvalue, rel=1e-9)
    assert isinstance(row["segment_median"], pd.Timestamp)
    assert row["segment_median"] == frame.loc[member, "signup_date"].median()


def test_small_samples_without_ties_use_scipys_exact_test():
    frame = pd.DataFrame({"x": [1.5, 2.5, 3.5, 10.0, 11.0, 12.0, 13.0, 14.0, 15.0, 16.0]})
    member = pd.Series([True] * 3 + [False] * 7)
    row = compare({"low": member}, frame, rate=None).tests.iloc[0]
    expected = stats.mannwhitneyu([1.5, 2.5, 3.5], [10.0, 11, 12, 13, 14, 15, 16])
    assert row["p_value"] == pytest.approx(expected.pvalue)  # exact: 2/120
    assert row["p_value"] == pytest.approx(2 / math.comb(10, 3))
    assert row["effect_size"] == -1.0


def test_benjamini_hochberg_over_the_whole_comparison(comparison):
    tests = comparison.tests
    expected = stats.false_discovery_control(tests["p_value"].to_numpy(), method="bh")
    assert tests["p_adjusted"].to_numpy() == pytest.approx(expected)
    assert (tests["significant"] == (tests["p_adjusted"] < 0.05)).all()
    assert set(tests["attribute"]) == {"plan", "device", "spend", "signup_date", "bought",
                                       "interests"}  # the tags are adjusted with the rest
    assert tests.columns.tolist()[:12] == [
        "segment", "versus", "attribute", "tag", "kind", "test", "statistic", "p_value",
        "p_adjusted", "significant", "effect_size", "effect_name"]


def test_distributions_index_against_the_base(comparison, frame, masks):
    dist = comparison.distributions
    rows = dist[(dist["segment"] == "android") & (dist["attribute"] == "plan")]
    member = masks["android"]
    share = frame.loc[member, "plan"].value_counts(normalize=True)
    base_share = frame["plan"].value_counts(normalize=True)
    for row in rows.itertuples():
        assert row.share == pytest.approx(share[row.value])
        assert row.base_share == pytest.approx(base_share[row.value])
        assert row.index == pytest.approx(100 * share[row.value] / base_share[row.value])
    numbers = comparison.numeric.set_index(["segment", "attribute"]).loc[("android", "spend")]
    spend = frame.loc[member, "spend"].dropna()
    assert numbers["median"] == pytest.approx(spend.median())
    assert numbers["p95"] == pytest.approx(np.quantile(spend, 0.95))
    assert numbers["std"] == pytest.approx(spend.std())
    base = comparison.base_numeric.set_index("attribute").loc["spend"]
    assert (base["count"], base["missing"]) == (frame["spend"].notna().sum(),
                                                frame["spend"].isna().sum())


def test_many_categories_keep_the_top_fifty_and_pool_the_rest():
    values = [f"city{i:02d}" for i in range(60) for _ in range(60 - i)]
    frame = pd.DataFrame({"city": values})
    member = pd.Series(np.arange(len(frame)) % 3 == 0)
    result = compare({"third": member}, frame, rate=None)
    labels = result.distributions["value"].tolist()
    assert len(labels) == MAX_CATEGORIES + 1 and labels[-1] == OTHER
    assert labels[:MAX_CATEGORIES] == [f"city{i:02d}" for i in range(MAX_CATEGORIES)]
    other = result.distributions.iloc[-1]
    assert other["count"] == int(member[frame["city"] >= "city50"].sum())


def test_differences_read_in_plain_language():
    frame = pd.DataFrame({"device": ["Android"] * 62 + ["iOS"] * 38 + ["Android"] * 10
                          + ["iOS"] * 90,
                          "revenue": [120.0] * 100 + [45.0] * 100})
    member = pd.Series([True] * 100 + [False] * 100)
    diff = compare({"s": member}, frame, rate=None).differences
    readings = dict(zip(diff["attribute"], diff["reading"], strict=True))
    assert readings["device"] == "62% have device = Android, 1.7x the base (36%)"
    assert readings["revenue"] == "median revenue of 120 against 45 for the rest"
    assert diff["attribute"].tolist() == ["revenue", "device"]  # by absolute effect size


def test_expected_conversions_with_wilson_interval(comparison, frame, masks):
    expected = comparison.expected.set_index("segment").loc["android"]
    member = masks["android"]
    conversions = int(frame.loc[member, "bought"].sum())
    assert expected["conversions"] == conversions
    assert expected["rate"] == pytest.approx(conversions / member.sum())
    assert expected["expected_conversions"] == pytest.approx(member.sum() * expected["rate"])
    assert expected["base_rate"] == pytest.approx(frame["bought"].mean())
    # by hand: 10 of 100 at 95% -> (0.0552, 0.1744)
    low, high = wilson_interval(10, 100)
    assert (low, high) == (pytest.approx(0.05523, abs=1e-5), pytest.approx(0.17437, abs=1e-5))


def test_segments_of_a_base_with_default_attributes(tiny_base):
    contacts = tiny_base.contacts.copy()
    android = tiny_base.segment('device = "Android"', name="Android")
    lyon = tiny_base.segment('city = "Lyon"', name="Lyon")
    result = compare([android, lyon])
    pd.testing.assert_frame_equal(tiny_base.contacts, contacts)
    tested = set(result.tests["attribute"])
    assert {"device", "purchases_90d", "rfm_group", "signup_date", "interests"} <= tested
    assert not tested & {"contact_id", "email"}
    assert result.expected["conversions"].tolist() == [
        int((tiny_base.features.loc[m, "purchases_90d"] >= 1).sum())
        for m in (android.mask, lyon.mask)]
    assert result.differences.set_index(["segment", "attribute"]).loc[
        ("Android", "device"), "in_rule"]
    assert (result.warnings["warning"].str.contains("statistics are weak")).sum() == 2
    assert "Comparison of 2 segments of 7 contacts" in repr(result)


def test_bad_arguments_say_what_is_allowed(frame, masks, tiny_base):
    with pytest.raises(ValueError, match="'attributes' names 'nope'.*Expected some of"):
        compare(masks, frame, attributes=["nope"])
    with pytest.raises(ValueError, match="'base' is required"):
        compare(masks)
    with pytest.raises(ValueError, match="repeats the names"):
        compare([tiny_base.segment('city = "Lyon"', name="x"),
                 tiny_base.segment('city = "Paris"', name="x", save=False)])
    with pytest.raises(ValueError, match="'kind'.*received: 'cosine'"):
        compare(masks, frame, attributes=["plan"], rate=None).overlap_matrix("cosine")
    with pytest.raises(ValueError, match="'rate' is not a column"):
        compare(masks, frame, rate="clicks")


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.one_of(st.none(), st.integers(0, 6)),
                          st.sampled_from(["a", "b", "c"])), min_size=12, max_size=80))
def test_random_tables_match_scipy(rows):
    member = pd.Series([r[0] for r in rows])
    frame = pd.DataFrame({"visits": pd.Series([r[1] for r in rows], dtype="float64"),
                          "plan": [r[2] for r in rows]})
    inside, outside = member.to_numpy(), ~member.to_numpy()
    if inside.sum() < 2 or outside.sum() < 2:
        return
    tests = compare({"s": member}, frame, rate=None).tests.set_index("attribute")
    visits = frame["visits"].to_numpy()
    known = ~np.isnan(visits)
    first, second = visits[inside & known], visits[outside & known]
    if "visits" in tests.index and tests.loc["visits", "kind"] == "numeric":
        expected = stats.mannwhitneyu(first, second)
        assert tests.loc["visits", "statistic"] == pytest.approx(expected.statistic)
        assert tests.loc["visits", "p_value"] == pytest.approx(expected.pvalue, rel=1e-9,
                                                               abs=1e-12)
    elif "visits" in tests.index:  # only 0 and 1 drawn: a boolean, missing as a value
        expected_p = _categorical_p(member, frame["visits"].astype(object).fillna("(missing)"))
        assert tests.loc["visits", "p_value"] == pytest.approx(expected_p, rel=1e-9, abs=1e-12)
    if "plan" in tests.index:
        expected_p = _categorical_p(member, frame["plan"])
        assert tests.loc["plan", "p_value"] == pytest.approx(expected_p, rel=1e-9, abs=1e-12)


def _categorical_p(member: pd.Series, values: pd.Series) -> float:
    """scipy's p-value of the segment / rest by value table, Fisher's on a sparse 2x2."""
    observed = pd.crosstab(~member, values).to_numpy()
    observed = observed[:, observed.sum(axis=0) > 0]
    if observed.shape == (2, 2) and (stats.contingency.expected_freq(observed) < 5).any():
        return stats.fisher_exact(observed).pvalue
    return stats.chi2_contingency(observed).pvalue


# -- multi-valued attributes: one 2x2 test per tag ------------------------------------------

@pytest.fixture(scope="module")
def tagged() -> tuple[pd.DataFrame, pd.Series]:
    """200 contacts, the first 80 in the segment; tags counted by hand below."""
    inside = (["sport|outdoor"] * 30 + ["Sport "] * 10 + ["home"] * 17 + ["home|Chess"] * 3
              + [None] * 15 + ["kids|home"] * 5)
    outside = (["sport"] * 15 + ["outdoor"] * 25 + ["home|kids"] * 39 + ["chess|home|kids"]
               + [None] * 30 + ["running"] * 10)
    frame = pd.DataFrame({"interests": inside + outside})
    return frame, pd.Series([True] * 80 + [False] * 120)


#: Segment (80) / rest (120) holding each tag; "Sport " counts as sport (case, spaces).
TAG_COUNTS = {"home": (25, 40), "outdoor": (30, 25), "sport": (40, 15), "kids": (5, 40),
              "running": (0, 10), "chess": (3, 1)}


def _two_by_two(tag: str) -> np.ndarray:
    inside, outside = TAG_COUNTS[tag]
    return np.array([[inside, 80 - inside], [outside, 120 - outside]])  # [has, has not]


def test_each_tag_is_a_two_by_two_test_checked_by_hand(tagged):
    frame, member = tagged
    result = compare({"s": member}, frame, rate=None)
    tests = result.tests.set_index("tag")
    assert (tests["attribute"] == "interests").all() and (tests["kind"] == "multi").all()
    # most frequent in the base first, ties by name
    assert tests.index.tolist() == ["home", "outdoor", "sport", "kids", "running", "chess"]
    for tag in ("home", "outdoor", "sport", "kids"):
        observed = _two_by_two(tag)
        expected = stats.chi2_contingency(observed)  # Yates on a 2x2 table
        row = tests.loc[tag]
        assert row["test"] == "chi2"
        assert row["statistic"] == pytest.approx(expected.statistic)
        assert row["p_value"] == pytest.approx(expected.pvalue)
        # phi = Cramér's V of a 2x2 table, without continuity correction
        (a, b), (c, d) = observed
        phi = abs(a * d - b * c) / math.sqrt((a + b) * (c + d) * (a + c) * (b + d))
        assert row["effect_size"] == pytest.approx(phi)
        assert row["effect_size"] == pytest.approx(
            stats.contingency.association(observed, method="cramer"))
        assert row["effect_name"] == "cramers_v"
        assert (row["segment_n"], row["rest_n"]) == (80, 120)
    sport = _two_by_two("sport")  # 40/80 against 15/120: Yates by hand
    n = 200
    (a, b), (c, d) = sport
    yates = n * (abs(a * d - b * c) - n / 2) ** 2 / ((a + b) * (c + d) * (a + c) * (b + d))
    assert tests.loc["sport", "statistic"] == pytest.approx(yates)
    # expected count 80 * 10 / 200 = 4 and 80 * 4 / 200 = 1.6 < 5: Fisher's exact test
    for tag in ("running", "chess"):
        expected = stats.fisher_exact(_two_by_two(tag))
        row = tests.loc[tag]
        assert row["test"] == "fisher_exact"
        assert row["p_value"] == pytest.approx(expected.pvalue)
        assert row["statistic"] == pytest.approx(expected.statistic)
        assert "Fisher" in row["warning"]
    # the odds ratio reads as "members hold the tag more": (3 * 119) / (77 * 1)
    assert tests.loc["chess", "statistic"] == pytest.approx(3 * 119 / (77 * 1))
    warned = result.warnings.loc[result.warnings["attribute"] == "interests", "warning"]
    assert warned.str.startswith("tag 'chess': expected count under 5").any()
    attributes = result.attributes.set_index("attribute").loc["interests"]
    assert (attributes["kind"], attributes["n_values"]) == ("multi", 6)


def test_tags_have_distributions_readings_and_pairwise_tests(tagged):
    frame, member = tagged
    other = pd.Series(~member.to_numpy() & (np.arange(200) % 2 == 0))  # 60 of the rest
    result = compare({"s": member, "o": other}, frame, rate=None, pairwise=True,
                     attributes=["interests"])
    dist = result.distributions[result.distributions["segment"] == "s"].set_index("value")
    for tag, (inside, outside) in TAG_COUNTS.items():
        assert dist.loc[tag, "count"] == inside
        assert dist.loc[tag, "share"] == pytest.approx(inside / 80)
        assert dist.loc[tag, "base_share"] == pytest.approx((inside + outside) / 200)
        assert dist.loc[tag, "index"] == pytest.approx(
            100 * (inside / 80) / ((inside + outside) / 200))
    diff = result.differences[result.differences["segment"] == "s"]
    assert diff["effect_size"].abs().is_monotonic_decreasing
    first = diff.iloc[0]
    assert (first["attribute"], first["value"]) == ("interests", "sport")
    assert first["reading"] == "50% have interests sport, 1.8x the base (28%)"
    readings = dict(zip(diff["value"], diff["reading"], strict=True))
    assert readings["kids"] == "6.2% have interests kids, 0.3x the base (22%)"
    # pairwise: s against o on a tag, straight from the two segments
    tests = result.tests
    row = tests[(tests["segment"] == "s") & (tests["versus"] == "o")
                & (tests["tag"] == "sport")].iloc[0]
    holding = frame["interests"].str.lower().str.strip().str.split("|").map(
        lambda tags: isinstance(tags, list) and "sport" in tags)
    in_o = int((holding & other).sum())
    observed = np.array([[40, 40], [in_o, 60 - in_o]])
    assert row["p_value"] == pytest.approx(stats.chi2_contingency(observed).pvalue)
    assert (row["segment_n"], row["rest_n"]) == (80, 60)
    expected = stats.false_discovery_control(tests["p_value"].to_numpy(), method="bh")
    assert tests["p_adjusted"].to_numpy() == pytest.approx(expected)


def test_a_segment_having_sport_puts_the_sport_tag_first(tiny_base):
    # sport: contacts 1 ("sport|outdoor") and 6 ("Sport"); the rest: 2, 3, 4, 5, 7
    sport = tiny_base.segment('interests has "sport"', name="Sport")
    result = compare([sport], rate=None)
    first = result.differences.iloc[0]
    assert (first["attribute"], first["value"], first["rank"]) == ("interests", "sport", 1)
    assert first["reading"] == "100% have interests sport, 3.5x the base (29%)"
    assert first["in_rule"] and first["effect_size"] == pytest.approx(1.0)
    tests = result.tests[result.tests["attribute"] == "interests"].set_index("tag")
    assert tests.index.tolist() == ["outdoor", "sport", "home", "kids", "running"]
    by_hand = {"sport": [[2, 0], [0, 5]], "outdoor": [[1, 1], [1, 4]],
               "running": [[0, 2], [1, 4]]}
    for tag, table in by_hand.items():
        expected = stats.fisher_exact(table)  # every expected count is under 5
        assert tests.loc[tag, "test"] == "fisher_exact"
        assert tests.loc[tag, "p_value"] == pytest.approx(expected.pvalue)
        assert tests.loc[tag, "effect_size"] == pytest.approx(
            stats.contingency.association(np.array(table), method="cramer"))
    assert tests.loc["sport", "p_value"] == pytest.approx(1 / 21)  # 1 / C(7, 2)


def test_only_the_most_frequent_tags_are_tested():
    values = [f"t{i:02d}" for i in range(MAX_TAGS + 5) for _ in range(40 - i)]
    frame = pd.DataFrame({"interests": values})
    member = pd.Series(np.arange(len(frame)) % 3 == 0)
    result = compare({"third": member}, frame, rate=None)
    assert result.tests["tag"].tolist() == [f"t{i:02d}" for i in range(MAX_TAGS)]
    assert "5 rarer tags not compared" in " ".join(result.warnings["warning"])


def test_tag_charts_show_shares_and_the_has_label(tagged):
    from segexplore.display import charts

    frame, member = tagged
    result = compare({"s": member}, frame, rate=None)
    fig = charts.distribution(result, "interests")
    assert list(fig.data[0].x) == ["home", "outdoor", "sport", "kids", "running", "chess"]
    assert list(fig.data[0].y) == pytest.approx([25 / 80, 30 / 80, 40 / 80, 5 / 80, 0, 3 / 80])
    assert list(fig.data[1].y) == pytest.approx([65 / 200, 55 / 200, 55 / 200, 45 / 200,
                                                 10 / 200, 4 / 200])
    lift = charts.lift(result, "s", min_count=1)
    assert "interests has sport" in list(lift.data[0].y)


@pytest.mark.parametrize("n_segments", [3, 22])
def test_patterns_from_counts_are_in_the_order_of_groups(n_segments):
    """An engine's (pattern, size) rows, in any order, become Groups' patterns in Groups'
    order (by packed key up to 20 segments, as numpy.unique sorts rows beyond): the
    intersections table breaks ties of size in that order."""
    from segexplore.analysis.counts import Patterns
    from segexplore.analysis.encoding import Groups

    rng = np.random.default_rng(n_segments)
    members = rng.random((300, n_segments)) < 0.3
    members[:40] = members[40:80]  # repeated patterns
    groups = Groups(members)
    shuffled = rng.permutation(len(groups.pattern_sizes))
    got = Patterns.ordered(groups.patterns[shuffled], groups.pattern_sizes[shuffled])
    assert (got.patterns == groups.patterns).all()
    assert got.pattern_sizes.tolist() == groups.pattern_sizes.tolist()
    assert got.sizes.tolist() == groups.sizes.tolist()
    assert (got.both() == groups.both()).all()


def test_conditional_entropy_from_pairs_is_the_contacts_one():
    """H(X | Y) from the pairs of codes held and their contacts, to the bit, as from the
    contacts' codes counted in one bincount."""
    from segexplore.analysis.counts import _sparse
    from segexplore.analysis.implied import _conditional_entropy, _entropy

    rng = np.random.default_rng(3)
    x, y = rng.integers(0, 7, 5000), rng.integers(0, 40, 5000)
    joint = np.bincount(y * 7 + x, minlength=7 * 40)
    dense = _entropy(joint) - _entropy(np.bincount(y, minlength=40))
    a, b, n = _sparse(y, x, 40, 7)
    shuffled = rng.permutation(len(n))
    assert _conditional_entropy(b[shuffled], 7, a[shuffled], 40, n[shuffled]) == dense
