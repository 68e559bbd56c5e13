"""A/B statistics against hand computations and scipy; outcomes read from the events."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from segexplore.ml.abtest import ab_test, sample_size

Z95 = 1.959963984540054  # normal quantile at 0.975
Z80 = 0.8416212335729143  # normal quantile at 0.8


def frame_of(counts: dict[str, tuple[int, int]]) -> pd.DataFrame:
    """One row per contact: ``group`` and ``converted``, from {group: (conversions, n)}."""
    groups, converted = [], []
    for group, (x, n) in counts.items():
        groups += [group] * n
        converted += [True] * x + [False] * (n - x)
    return pd.DataFrame({"group": groups, "converted": converted})


def test_two_proportion_test_by_hand_and_with_scipy():
    result = ab_test(frame_of({"A": (100, 1000), "B": (130, 1000)}), "group", "converted")
    row = result.comparisons.iloc[0]
    assert (row["variant"], row["control"]) == ("B", "A")
    # by hand: pooled p = 230 / 2000, se = sqrt(p (1 - p) (1/1000 + 1/1000))
    pooled = 0.115
    se_pooled = math.sqrt(pooled * (1 - pooled) * 2 / 1000)
    z = 0.03 / se_pooled
    assert z == pytest.approx(2.10274, abs=1e-5)
    assert row["z"] == pytest.approx(z)
    assert row["p_value_z"] == pytest.approx(2 * (1 - 0.5 * (1 + math.erf(z / math.sqrt(2)))))
    assert row["p_value"] == pytest.approx(0.035489, abs=1e-6) and row["test"] == "z-test"
    assert row["difference"] == pytest.approx(0.03)
    assert row["relative_lift"] == pytest.approx(0.3)
    wald = math.sqrt(0.13 * 0.87 / 1000 + 0.1 * 0.9 / 1000)
    assert row["difference_low"] == pytest.approx(0.03 - Z95 * wald)
    # scipy: chi-square without continuity correction is the z-test squared
    chi2, p, _, _ = stats.chi2_contingency([[130, 870], [100, 900]], correction=False)
    assert row["chi2"] == pytest.approx(chi2) and chi2 == pytest.approx(z ** 2)
    assert row["p_value_chi2"] == pytest.approx(p) == pytest.approx(row["p_value_z"])
    assert row["p_value_fisher"] == pytest.approx(
        stats.fisher_exact([[130, 870], [100, 900]]).pvalue)
    assert bool(row["significant"]) is True


def test_yates_correction_is_an_option():
    result = ab_test(frame_of({"A": (100, 1000), "B": (130, 1000)}), "group", "converted",
                     yates=True)
    row = result.comparisons.iloc[0]
    chi2, p, _, _ = stats.chi2_contingency([[130, 870], [100, 900]], correction=True)
    # by hand: (|ad - bc| - N/2)^2 N / (row and column totals)
    by_hand = (abs(130 * 900 - 870 * 100) - 1000) ** 2 * 2000 / (1000 * 1000 * 230 * 1770)
    assert chi2 == pytest.approx(by_hand)
    assert row["chi2"] == pytest.approx(chi2)
    assert row["p_value"] == pytest.approx(p) and row["test"] == "chi-square (Yates)"


def test_wilson_intervals_by_hand():
    result = ab_test(frame_of({"A": (100, 1000), "B": (130, 1000)}), "group", "converted")
    for rec in result.variants.itertuples():
        p, n = rec.conversions / rec.n, rec.n
        centre = (p + Z95 ** 2 / (2 * n)) / (1 + Z95 ** 2 / n)
        half = Z95 / (1 + Z95 ** 2 / n) * math.sqrt(p * (1 - p) / n + Z95 ** 2 / (4 * n ** 2))
        assert rec.ci_low == pytest.approx(centre - half)
        assert rec.ci_high == pytest.approx(centre + half)
    assert result.variants.loc[0, "ci_low"] == pytest.approx(0.08291, abs=1e-5)


def test_fisher_for_small_counts_by_hand():
    result = ab_test(frame_of({"control": (1, 10), "B": (6, 10)}), "group", "converted")
    row = result.comparisons.iloc[0]
    assert row["min_expected"] == pytest.approx(3.5) and row["test"] == "fisher"
    # by hand: hypergeometric tables with the same margins (7 conversions in 20)
    def prob(a):  # a conversions in B
        return math.comb(10, a) * math.comb(10, 7 - a) / math.comb(20, 7)
    observed = prob(6)
    two_sided = sum(prob(a) for a in range(0, 8) if prob(a) <= observed * (1 + 1e-7))
    assert row["p_value"] == pytest.approx(two_sided)
    assert row["p_value"] == pytest.approx(stats.fisher_exact([[6, 4], [1, 9]]).pvalue)


def test_sample_size_by_hand():
    # pooled-variance formula with p1 = 0.10, p2 = 0.12, written out
    pooled = 0.11
    n = (Z95 * math.sqrt(2 * pooled * (1 - pooled))
         + Z80 * math.sqrt(0.10 * 0.90 + 0.12 * 0.88)) ** 2 / 0.02 ** 2
    assert n == pytest.approx(3840.85, abs=0.01)
    assert sample_size(0.10, 0.20) == math.ceil(n) == 3841
    # arcsine (Cohen's h), the formula of statsmodels' NormalIndPower
    h = 2 * math.asin(math.sqrt(0.12)) - 2 * math.asin(math.sqrt(0.10))
    assert sample_size(0.10, 0.20, method="arcsine") == math.ceil(2 * (Z95 + Z80) ** 2 / h ** 2)
    assert sample_size(0.10, 0.20, method="arcsine") == 3835
    # one-sided: z at 0.95
    z90 = 1.6448536269514722
    one_sided = (z90 * math.sqrt(2 * pooled * (1 - pooled))
                 + Z80 * math.sqrt(0.10 * 0.90 + 0.12 * 0.88)) ** 2 / 0.02 ** 2
    assert sample_size(0.10, 0.20, two_sided=False) == math.ceil(one_sided)
    # twice as many in the variant: p = (p1 + 2 p2) / 3
    p = (0.10 + 2 * 0.12) / 3
    unequal = (Z95 * math.sqrt(p * (1 - p) * 1.5)
               + Z80 * math.sqrt(0.10 * 0.90 + 0.12 * 0.88 / 2)) ** 2 / 0.02 ** 2
    assert sample_size(0.10, 0.20, ratio=2) == math.ceil(unequal)
    with pytest.raises(ValueError):
        sample_size(0.10, 0.0)


def test_sample_size_gives_the_power_it_promises():
    n = sample_size(0.05, 0.30)
    p1, p2 = 0.05, 0.065
    pooled = (p1 + p2) / 2
    # power of the pooled z-test at that n, normal approximation
    se0 = math.sqrt(2 * pooled * (1 - pooled) / n)
    se1 = math.sqrt((p1 * (1 - p1) + p2 * (1 - p2)) / n)
    power = stats.norm.sf((Z95 * se0 - (p2 - p1)) / se1)
    assert power == pytest.approx(0.8, abs=0.002)


def test_outcome_from_the_events_and_an_export_split(tiny_base):
    split = pd.DataFrame({"contact_id": [1, 2, 3, 4, 5, 6],
                          "group": ["mail", "mail", "mail", "holdout", "holdout", "holdout"]})
    start = pd.Timestamp("2026-10-20")
    result = ab_test(tiny_base, split, "purchased", start=start, days=7)
    # purchases with 2026-10-20 < t <= 2026-10-27: contact 1 (10-20 10:00 and 10-25) and
    # contact 4 (10-22); contact 3's (10-27 10:00) is after the window's end at midnight
    table = result.variants.set_index("variant")
    assert table.loc["mail", "conversions"] == 1 and table.loc["mail", "n"] == 3
    assert table.loc["holdout", "conversions"] == 1 and table.loc["holdout", "n"] == 3
    assert result.control == "holdout"
    events = tiny_base.events
    bought = events[(events["event_type"] == "purchase") & (events["timestamp"] > start)
                    & (events["timestamp"] <= start + pd.Timedelta(days=7))]
    assert set(bought["contact_id"]) & set(split["contact_id"]) == {1, 4}
    assert "purchase within 7 days" in result.outcome


def test_boolean_outcome_on_a_base_and_several_variants(tiny_base):
    groups = pd.Series(["A", "B", "C", "A", "B", "C", "A"], index=tiny_base.contacts.index)
    converted = tiny_base.contacts["city"].eq("Lyon").rename("lyon")
    result = ab_test(tiny_base, groups, converted, control="C")
    assert result.comparisons["variant"].tolist() == ["A", "B"]
    assert (result.comparisons["control"] == "C").all()
    assert result.variants["n"].tolist() == [3, 2, 2]
    assert "C" in repr(result) and "<div>" in result._repr_html_()


def test_chart():
    from segexplore.display.charts_ml import ab_rates

    result = ab_test(frame_of({"A": (100, 1000), "B": (130, 1000)}), "group", "converted")
    figure = ab_rates(result)
    bar = figure.data[0]
    assert list(bar.x) == ["A", "B"]
    assert bar.error_y.array[0] == pytest.approx(result.variants.loc[0, "ci_high"] - 0.1)


def test_bad_inputs(tiny_base):
    split = pd.DataFrame({"contact_id": [1, 99], "group": ["A", "B"]})
    with pytest.raises(ValueError, match="not in the base"):
        ab_test(tiny_base, split, "clicked", start="2026-10-01", days=7)
    good = pd.DataFrame({"contact_id": [1, 2], "group": ["A", "B"]})
    with pytest.raises(ValueError, match="start="):
        ab_test(tiny_base, good, "clicked")
    with pytest.raises(ValueError, match="two variants"):
        ab_test(frame_of({"A": (1, 5)}), "group", "converted")
    with pytest.raises(ValueError, match="not a variant"):
        ab_test(frame_of({"A": (1, 5), "B": (2, 5)}), "group", "converted", control="Z")
    assert np.isnan(ab_test(frame_of({"A": (0, 5), "B": (2, 5)}), "group",
                            "converted").comparisons.loc[0, "relative_lift"])
