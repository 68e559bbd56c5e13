"""The read-out of a multi-variant campaign: Holm's correction, revenue per recipient and
the minimum detectable effect, each against a hand computation (math only: no scipy or
statsmodels in the expectations)."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from test_abtest import frame_of  # one place for the frames of counts

import segexplore as se
from segexplore.errors import ParameterError
from segexplore.ml.abtest import (
    ab_test,
    detectable_effects,
    holm,
    minimum_detectable_effect,
    sample_size,
)

Z95 = 1.959963984540054  # normal quantile at 0.975
Z80 = 0.8416212335729143  # normal quantile at 0.8


def phi(x: float) -> float:
    return 0.5 * (1 + math.erf(x / math.sqrt(2)))


def z_test_p(x1: int, n1: int, x0: int, n0: int) -> float:
    pooled = (x1 + x0) / (n1 + n0)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n0))
    return 2 * (1 - phi(abs(x1 / n1 - x0 / n0) / se))


def test_holm_by_hand():
    assert holm([0.01, 0.04, 0.03]).tolist() == pytest.approx([0.03, 0.06, 0.06])
    # sorted: 0.001 * 4, 0.03 * 3, 0.04 * 2 (raised to 0.09 to keep the order), 0.2 * 1
    assert holm([0.04, 0.001, 0.03, 0.2]).tolist() == pytest.approx([0.09, 0.004, 0.09, 0.2])
    assert holm([0.5, 0.6]).tolist() == [1.0, 1.0]  # capped at 1
    assert holm([0.0355]).tolist() == [0.0355]  # one test: nothing to correct


def test_three_variants_against_one_control_are_corrected():
    counts = {"control": (100, 1000), "B": (130, 1000), "C": (125, 1000), "D": (101, 1000)}
    result = ab_test(frame_of(counts), "group", "converted")
    table = result.comparisons.set_index("variant")
    raw = {v: z_test_p(x, n, 100, 1000) for v, (x, n) in counts.items() if v != "control"}
    assert table["p_value"].to_dict() == pytest.approx(raw)
    # by hand: B (0.0355) * 3, then C * 2 (kept at least B's), then D * 1
    ordered = sorted(raw, key=raw.get)
    assert ordered == ["B", "C", "D"]
    b = 3 * raw["B"]
    c = max(b, 2 * raw["C"])
    d = max(c, raw["D"])
    assert table["p_value_adjusted"].to_dict() == pytest.approx(
        {"B": min(b, 1), "C": min(c, 1), "D": min(d, 1)})
    assert raw["B"] < 0.05 and not table.loc["B", "significant"]  # significant before only
    assert "Holm-adjusted" in table.loc["B", "reading"]
    assert (table["comparisons"] == 3).all() and (table["correction"] == "holm").all()
    plain = ab_test(frame_of(counts), "group", "converted", correction="none")
    row = plain.comparisons.set_index("variant").loc["B"]
    assert row["p_value_adjusted"] == row["p_value"] and bool(row["significant"]) is True
    with pytest.raises(ParameterError, match="correction"):
        ab_test(frame_of(counts), "group", "converted", correction="bonferroni")


def test_one_variant_is_not_corrected():
    result = ab_test(frame_of({"A": (100, 1000), "B": (130, 1000)}), "group", "converted")
    row = result.comparisons.iloc[0]
    assert row["p_value_adjusted"] == row["p_value"] and bool(row["significant"]) is True
    assert "Holm" not in row["reading"]


def test_revenue_per_recipient_by_hand():
    frame = pd.DataFrame({
        "group": ["control"] * 4 + ["A"] * 5,
        "converted": [False, True, False, True, True, True, False, False, True],
        "spent": [0.0, 40.0, None, 20.0, 50.0, 30.0, 0.0, 0.0, 70.0],
    })
    result = ab_test(frame, "group", "converted", revenue="spent")
    variants = result.variants.set_index("variant")
    assert variants.loc["control", "revenue"] == 60.0  # a missing amount counts as 0
    assert variants.loc["control", "revenue_per_recipient"] == 15.0
    assert variants.loc["A", "revenue_per_recipient"] == 30.0
    row = result.comparisons.iloc[0]
    a, c = [50, 30, 0, 0, 70], [0, 40, 0, 20]
    var_a = sum((x - 30) ** 2 for x in a) / 4  # 850
    var_c = sum((x - 15) ** 2 for x in c) / 3  # 900 / 3
    se = math.sqrt(var_a / 5 + var_c / 4)
    assert row["rpr_difference"] == 15.0
    assert row["rpr_z"] == pytest.approx(15 / se)
    assert row["rpr_p_value"] == pytest.approx(2 * (1 - phi(15 / se)))
    assert row["rpr_difference_low"] == pytest.approx(15 - Z95 * se)
    assert row["rpr_relative_lift"] == pytest.approx(1.0)
    assert row["rpr_p_value_adjusted"] == pytest.approx(row["rpr_p_value"])
    assert "revenue per recipient 30.00 vs 15.00" in row["reading"]
    assert "per recipient" in repr(result)


def test_revenue_from_the_events(tiny_base):
    split = pd.DataFrame({"contact_id": [1, 2, 3, 4, 5, 6],
                          "group": ["mail", "mail", "mail", "holdout", "holdout", "holdout"]})
    result = ab_test(tiny_base, split, "purchased", start="2026-10-20", days=7,
                     revenue="purchase.amount")
    # purchases with 2026-10-20 < t <= 2026-10-27: contact 1 (50 on 10-20 10:00 and 30 on
    # 10-25), contact 4 (20 on 10-22); contact 3's on 10-27 10:00 is after the end
    variants = result.variants.set_index("variant")
    assert variants.loc["mail", "revenue"] == 80.0
    assert variants.loc["holdout", "revenue"] == 20.0
    assert variants.loc["mail", "revenue_per_recipient"] == pytest.approx(80 / 3)
    with pytest.raises(ParameterError, match="no property 'amout'"):
        ab_test(tiny_base, split, "purchased", start="2026-10-20", days=7,
                revenue="purchase.amout")
    with pytest.raises(ParameterError, match="neither a contact column"):
        ab_test(tiny_base, split, "purchased", start="2026-10-20", days=7, revenue="amount")


def test_minimum_detectable_effect_is_the_inverse_of_sample_size():
    for n, rate, ratio in ((5000, 0.10, 1.0), (1200, 0.03, 0.5), (20000, 0.2, 3.0)):
        n_control = round(n / ratio)
        lift = minimum_detectable_effect(n, rate, n_control=n_control)
        assert sample_size(rate, lift, ratio=n / n_control) == n_control
        assert sample_size(rate, lift * 0.99, ratio=n / n_control) > n_control
        # by hand: the power at that lift is the 80 % asked for
        p1, p2 = rate, rate * (1 + lift)
        r = n / n_control
        pooled = (p1 + r * p2) / (1 + r)
        se0 = math.sqrt(pooled * (1 - pooled) * (1 / n_control + 1 / n))
        se1 = math.sqrt(p1 * (1 - p1) / n_control + p2 * (1 - p2) / n)
        assert 1 - phi((Z95 * se0 - (p2 - p1)) / se1) == pytest.approx(0.8, abs=0.002)
        # and close to the textbook approximation (z_a + z_b) sqrt(2 p (1 - p) / n) / p
        rough = (Z95 + Z80) * math.sqrt(p1 * (1 - p1) * (1 / n + 1 / n_control)) / p1
        assert lift == pytest.approx(rough, rel=0.15)
    assert minimum_detectable_effect(10, 0.5) == math.inf
    with pytest.raises(ParameterError, match="baseline_rate"):
        minimum_detectable_effect(100, 1.5)


def test_detectable_effects_per_variant_with_holm():
    sizes = {"holdout": 2000, "A": 4000, "B": 1000}
    table = detectable_effects(sizes, 0.05).set_index("variant")
    assert table["control"].eq("holdout").all()
    assert table["alpha"].tolist() == [0.025, 0.025]  # two variants: alpha / 2
    for variant in ("A", "B"):
        assert table.loc[variant, "mde_relative"] == pytest.approx(minimum_detectable_effect(
            sizes[variant], 0.05, n_control=2000, alpha=0.025))
        assert table.loc[variant, "detectable_rate"] == pytest.approx(
            0.05 * (1 + table.loc[variant, "mde_relative"]))
    assert table.loc["B", "mde_relative"] > table.loc["A", "mde_relative"]  # smaller group
    plain = detectable_effects(sizes, 0.05, correction="none").set_index("variant")
    assert (plain["mde_relative"] < table["mde_relative"]).all()


def test_detectable_effects_of_a_variant_plan():
    base = se.load_sample()
    plan = (se.VariantPlan(base, default="control")
            .add('loyalty_tier = "gold"', variant="gold")
            .add("purchases_365d >= 1", variant="buyers"))
    assigned = plan.assign()
    table = detectable_effects(assigned, 0.04).set_index("variant")
    counts = assigned["variant"].value_counts()
    assert table.loc["gold", "n"] == counts["gold"]
    assert table.loc["gold", "control_n"] == counts["control"]
    assert table.loc["gold", "mde_relative"] > table.loc["buyers", "mde_relative"]
    with pytest.raises(ParameterError, match="a control and at least one variant"):
        detectable_effects({"A": 100}, 0.1)
