"""Findings that are findings (issue 17): no attribute of the rule or implied by it, only
significant differences, plain sentences with the base's share."""

from __future__ import annotations

import re

import pytest

import segexplore as se
from segexplore.analysis.compare import compare
from segexplore.widgets.compare_panel import comparison_parts, key_differences

IDF_RULE = 'region = "Île-de-France" and device = "Android"'
GEOGRAPHY = {"region", "department", "city", "postal_code", "country", "device"}


@pytest.fixture(scope="module")
def sample():
    return se.load_sample()


@pytest.fixture(scope="module")
def comparison(sample):
    return compare([sample.segment(IDF_RULE, name="IDF Android", save=False),
                    sample.segment("purchases_90d >= 1", name="90-day buyers", save=False)])


def test_implied_attributes_are_marked_from_the_data(comparison):
    table = comparison.differences
    idf = table[table["segment"] == "IDF Android"].set_index(["attribute", "value"],
                                                              drop=False)
    implied = set(idf.loc[idf["implied"], "attribute"])
    assert {"department", "city", "postal_code", "country"} <= implied
    assert set(idf.loc[idf["in_rule"], "attribute"]) == {"region", "device"}
    assert "loyalty_tier" not in implied and "gender" not in implied
    buyers = table[table["segment"] == "90-day buyers"]
    assert "revenue_90d" in set(buyers.loc[buyers["implied"], "attribute"])
    assert set(buyers.loc[buyers["in_rule"], "attribute"]) == {"purchases_90d"}
    by = dict(zip(buyers["attribute"], buyers["implied_by"], strict=True))
    assert by["revenue_90d"] == "purchases_90d"


def test_key_differences_are_significant_findings_only(comparison):
    table = key_differences(comparison.differences, 10)
    idf = table[table["segment"] == "IDF Android"]
    assert not set(idf["attribute"]) & GEOGRAPHY
    buyers = table[table["segment"] == "90-day buyers"]
    assert not set(buyers["attribute"]) & {"purchases_90d", "revenue_90d"}
    assert len(buyers)  # the buyers differ in other ways
    significant = comparison.differences.set_index(["segment", "attribute"])["significant"]
    for row in table.itertuples():
        assert significant.loc[(row.segment, row.attribute)].any()
    assert "significant" not in table.columns  # every row is


def test_findings_are_plain_sentences_with_the_base_share(comparison):
    table = key_differences(comparison.differences, 10)
    categorical = table[table["finding"].str.contains("x the base's")]
    assert len(categorical)
    for text in categorical["finding"]:
        assert re.fullmatch(r"[\d.]+% (have|are) .+, [\d.]+x the base's [\d.]+%", text), text
        assert "=" not in text and "_" not in text


def test_the_compare_tab_says_what_it_left_out(sample):
    parts = comparison_parts([sample.segment(IDF_RULE, name="IDF Android", save=False)],
                             sample)
    table = parts.tables["differences"]
    assert not set(table["attribute"]) & GEOGRAPHY
    note = parts.tables["differences"].attrs["note"]
    assert "Significant differences only" in note and "Benjamini-Hochberg" in note
    assert "department" in note and "region" in note  # what was left out, and why


def test_an_event_rule_implies_the_features_that_restate_it(sample):
    recent = sample.segment("count(purchase, last 90 days) >= 1", name="Recent buyers",
                            save=False)
    table = compare([recent]).differences
    by = dict(zip(table["attribute"], table["implied_by"], strict=True))
    assert by["purchases_90d"] == by["revenue_90d"] == "the rule"
    assert not table.loc[table["attribute"] == "loyalty_tier", "implied"].any()
    shown = key_differences(table, 10)
    assert not set(shown["attribute"]) & {"purchases_90d", "revenue_90d"}
