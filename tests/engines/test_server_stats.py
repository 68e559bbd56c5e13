"""profile() and compare() of a connected base (``se.connect``) are counted inside
PostgreSQL 15, Spark and a DuckDB connection (tests/servers.py starts the servers) and give
the pandas engine's Profile and Comparison on the same tables, frame for frame.

Exact equality everywhere except on the features that add up amounts (``SUMS``: revenue
and basket): the engine adds them in its own order, so that a total may differ from
pandas's in the last bit (as tests/feature_parity.py allows), which can split two totals
pandas finds equal; those rows are compared within a relative 5e-3 (a count of distinct
values may move by a few), the p-values adjusted over the whole comparison within 1e-3 too, and
everything else bit for bit."""

from __future__ import annotations

import pandas as pd
import pytest
import servers
from frame_parity import same_frame
from servers import connected_base

# the segments and frames test_duckdb_compare checks on a DuckDB base
from test_duckdb_compare import FRAMES, SEGMENT_RULES

import segexplore as se
from segexplore.analysis.compare import compare
from segexplore.analysis.profile import profile
from segexplore.errors import ParameterError

postgres_server, postgres, spark = servers.postgres_server, servers.postgres, servers.spark

ENGINES = ["postgres", "spark", "duckdb"]


@pytest.fixture(scope="module")
def pandas_base() -> se.ContactBase:
    """The sample with its text columns as plain text (an engine's tables hold no pandas
    categories), opened by the pandas engine as it is."""
    return plain_text_sample()


def plain_text_sample() -> se.ContactBase:
    """A new :func:`pandas_base` (for a test that changes it: an erasure)."""
    sample = se.load_sample(clean=False)
    contacts = sample.contacts.copy()
    for name in contacts.columns:
        if isinstance(contacts[name].dtype, pd.CategoricalDtype):
            contacts[name] = contacts[name].astype(object).where(
                contacts[name].notna(), None).astype("str")
    return se.read_base(contacts, sample.events, sample.orders, clean=False,
                        now=sample.as_of)


def _connected(engine: str, base: se.ContactBase, request) -> se.ServerBase:
    tables = {"contacts": base.contacts, "events": base.events, "orders": base.orders}
    return connected_base(request, engine, tables, prefix="st_", as_of=base.as_of)


@pytest.mark.parametrize("engine", ENGINES)
def test_compare_is_the_pandas_comparison(request, engine, pandas_base):
    expected = compare([pandas_base.segment(rule, name=name)
                        for name, rule in SEGMENT_RULES.items()])
    with _connected(engine, pandas_base, request) as connected:
        got = compare([connected.segment(rule, name=name)
                       for name, rule in SEGMENT_RULES.items()])
        pairwise = compare([connected.segment(SEGMENT_RULES[n], name=n)
                            for n in ("Android", "Buyers")],
                           attributes=["device", "city", "interests", "rfm_group",
                                       "purchases_90d", "signup_date"], pairwise=True)
    # not vacuous: every kind of attribute, implied attributes, an empty segment
    assert set(expected.attributes["kind"]) >= {"categorical", "boolean", "numeric", "date",
                                                "multi"}
    assert expected.differences["implied"].any() and (expected.sizes["size"] == 0).any()
    assert (got.segments, got.n_base, got.alpha) == (expected.segments, expected.n_base,
                                                      expected.alpha)
    checked = sum(same_frame(getattr(expected, frame), getattr(got, frame), frame)
                  for frame in FRAMES)
    assert checked > 1500
    want = compare([pandas_base.segment(SEGMENT_RULES[n], name=n)
                    for n in ("Android", "Buyers")],
                   attributes=["device", "city", "interests", "rfm_group", "purchases_90d",
                               "signup_date"], pairwise=True)
    assert (want.tests["versus"] != "rest").any()
    for frame in FRAMES:  # no SUMS attribute: bit for bit
        pd.testing.assert_frame_equal(getattr(pairwise, frame), getattr(want, frame),
                                      check_exact=True, obj=frame)


@pytest.mark.parametrize("engine", ENGINES)
def test_profile_is_the_pandas_profile(request, engine, pandas_base):
    rule = 'city = "Lyon" or purchases_365d >= 2'
    with _connected(engine, pandas_base, request) as connected:
        whole = connected.profile()
        members = connected.segment(rule, name="Lyon or buyers").profile()
    for got, want in ((whole, profile(pandas_base)),
                      (members, profile(pandas_base.segment(rule, name="Lyon or buyers")))):
        assert got.name == want.name if hasattr(want, "name") else True
        for frame in ("summary", "top_values", "tags", "histograms", "suggestions"):
            if hasattr(want, frame):
                same_frame(getattr(want, frame), getattr(got, frame), frame)
    assert int(whole.summary.set_index("attribute").loc["city", "missing"]) == int(
        pandas_base.contacts["city"].isna().sum())


def test_a_mask_on_a_connected_base_is_refused_with_the_reason(request, pandas_base):
    with _connected("duckdb", pandas_base, request) as connected:
        android = connected.segment('device = "Android"', name="Android")
        with pytest.raises(ParameterError, match="stay in the engine"):
            compare({"Android": android, "Lyon": pandas_base.contacts["city"] == "Lyon"},
                    base=connected)
        with pytest.raises(ParameterError, match="name a feature or contact column"):
            compare([android], rate=pandas_base.contacts["city"] == "Lyon")
