"""The explorer's charts count a distribution as the comparison does, and as pandas does."""

from __future__ import annotations

import pytest

import segexplore as se
from segexplore.analysis.compare import MAX_CATEGORIES, compare
from segexplore.analysis.encoding import MISSING, OTHER
from segexplore.widgets.state.distribution import distribution_table
from segexplore.widgets.state.fields import field_values


@pytest.fixture(scope="module")
def sample():
    return se.load_sample()


@pytest.fixture(scope="module")
def buyers(sample):
    return sample.segment("purchases_365d >= 1", name="Buyers", save=False)


@pytest.fixture(scope="module")
def comparison(buyers):
    return compare([buyers], attributes=["device", "city", "loyalty_tier", "gender",
                                         "consent", "interests"], rate=None)


@pytest.mark.parametrize("attribute", ["device", "city", "loyalty_tier", "gender", "consent",
                                       "interests"])
def test_widget_counts_are_the_comparison_counts(sample, buyers, comparison, attribute):
    rows = comparison.distributions
    rows = rows[(rows["segment"] == "Buyers") & (rows["attribute"] == attribute)]
    expected = {str(v): int(c) for v, c in zip(rows["value"], rows["count"], strict=True)}
    table = distribution_table(sample, buyers.mask.to_numpy(), attribute, top=MAX_CATEGORIES)
    shown = dict(zip(table["value"], table["segment_count"].astype(int), strict=True))
    if attribute == "interests":  # compared per tag: no "(missing)" row
        shown.pop(MISSING, None)
    assert shown == expected
    base = dict(zip(table["value"], table["base_count"], strict=True))
    for value, share in zip(rows["value"], rows["base_share"], strict=True):
        assert base[str(value)] == pytest.approx(share * len(sample.contacts))


@pytest.mark.parametrize("attribute", ["device", "loyalty_tier", "gender", "consent"])
def test_widget_counts_are_pandas_value_counts(sample, buyers, attribute):
    mask = buyers.mask.to_numpy()
    values = field_values(sample, attribute)
    table = distribution_table(sample, mask, attribute).set_index("value")
    members = values[mask]
    expected = {str(k): int(v) for k, v in members.value_counts().items() if v}
    if members.isna().any() or values.isna().any():
        expected[MISSING] = int(members.isna().sum())
    shown = table["segment_count"].astype(int).to_dict()
    assert {k: v for k, v in shown.items() if v or k in expected} == expected
    everyone = values.value_counts()
    assert table["base_count"].drop(MISSING, errors="ignore").to_dict() == {
        str(k): int(v) for k, v in everyone.items() if v}


def test_pooled_values_are_other_as_in_pandas(sample, buyers):
    mask = buyers.mask.to_numpy()
    values = field_values(sample, "city")
    table = distribution_table(sample, mask, "city", top=5).set_index("value")
    assert list(table.index[-1:]) == [OTHER]  # the city column has no missing value
    kept = table.index[:-1]
    assert list(kept) == [str(c) for c in values.value_counts().index[:5]]
    members = values[mask].astype(str).value_counts()
    assert table.loc[kept, "segment_count"].tolist() == members.reindex(kept).tolist()
    assert table.loc[OTHER, "segment_count"] == mask.sum() - members.reindex(kept).sum()
