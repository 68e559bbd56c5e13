"""compare() on a DuckDB base gives the pandas engine's Comparison, frame for frame and bit
for bit: on the sample opened both ways (overlapping segments, feature rules, an empty one,
``attributes=`` subsets, pairwise tests, masks, rates) and on generated bases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

# the bundled sample opened both ways, and the generated contacts of the profile's tests
from test_duckdb_stats import contact_frames, sample_pair  # noqa: F401 (a fixture)

import segexplore as se
from segexplore.analysis.compare import compare

FRAMES = ("sizes", "overlap", "intersections", "tests", "distributions", "numeric",
          "base_numeric", "differences", "expected", "warnings", "attributes")
SEGMENT_RULES = {
    "Android": 'device = "Android"',
    "Champions": 'rfm_group = "champions"',
    "Buyers": "purchases_90d >= 2 or revenue_365d > 300",
    "Île-de-France": 'region = "Île-de-France"',
    "Nobody": 'city = "Nowhere"',
}


def _segments(base, names):
    return [base.segment(SEGMENT_RULES[name], name=name) for name in names]


def _same(expected, got) -> None:
    assert (got.segments, got.n_base, got.alpha) == (expected.segments, expected.n_base,
                                                      expected.alpha)
    for frame in FRAMES:
        pd.testing.assert_frame_equal(getattr(got, frame), getattr(expected, frame),
                                      check_exact=True, obj=frame)


@pytest.fixture(scope="module")
def everything(sample_pair):
    """Every default attribute, five segments (overlapping, feature rules, an empty one)."""
    pandas_base, duck = sample_pair
    names = list(SEGMENT_RULES)
    return compare(_segments(pandas_base, names)), compare(_segments(duck, names))


def test_every_frame_of_the_default_comparison_is_the_pandas_one(everything):
    expected, got = everything
    # not vacuous: every kind of attribute, implied attributes, an empty segment's warning
    assert set(expected.attributes["kind"]) >= {"categorical", "boolean", "numeric", "date",
                                                "multi"}
    assert expected.differences["implied"].any() and expected.differences["in_rule"].any()
    assert (expected.sizes["size"] == 0).any() and (expected.intersections["degree"] > 1).any()
    assert len(expected.tests) > 100 and len(expected.expected) == 5
    _same(expected, got)


@pytest.mark.parametrize("names, options", [
    (["Android", "Buyers"], {"attributes": ["device", "revenue_365d", "interests"]}),
    (["Champions", "Île-de-France", "Nobody"], {"attributes": ["department", "city", "age",
                                                               "signup_date", "consent"],
                                                "pairwise": True}),
    (["Android", "Champions", "Buyers", "Île-de-France"],
     {"attributes": ["rfm_group", "region", "purchases_90d", "gender"], "pairwise": True,
      "rate": "revenue_365d", "alpha": 0.01}),
    (["Buyers"], {"attributes": "postal_code", "rate": None}),
])
def test_subsets_and_options_are_the_pandas_comparison(sample_pair, names, options):
    pandas_base, duck = sample_pair
    _same(compare(_segments(pandas_base, names), **options),
          compare(_segments(duck, names), **options))


def test_masks_and_a_boolean_rate_are_the_pandas_comparison(sample_pair):
    pandas_base, duck = sample_pair
    android = pandas_base.segment(SEGMENT_RULES["Android"]).mask
    rate = pandas_base.segment("purchases_365d >= 1").mask
    positional = pd.Series(android.to_numpy())  # a DuckDB base's masks are by position
    expected = compare({"A": android, "not A": ~android}, pandas_base, rate=rate,
                       attributes=["region", "avg_basket"])
    got = compare({"A": positional, "not A": ~positional.to_numpy()}, duck,
                  rate=rate.to_numpy(), attributes=["region", "avg_basket"])
    _same(expected, got)


def test_a_segment_of_another_date_is_compared_by_its_own_members(sample_pair):
    pandas_base, duck = sample_pair
    rule = "purchases_365d >= 1"
    date = "2026-06-30"
    earlier = [pandas_base.at(date).segment(rule, name="then"),
               pandas_base.segment(rule, name="now")]
    mine = [duck.at(date).segment(rule, name="then"), duck.segment(rule, name="now")]
    options = {"attributes": ["device", "revenue_365d"]}
    _same(compare(earlier, pandas_base, **options), compare(mine, duck, **options))


def test_the_top_level_compare_reads_a_duckdb_base(sample_pair):
    _, duck = sample_pair
    got = se.compare(_segments(duck, ["Android", "Nobody"]), attributes=["device"])
    assert got.sizes["size"].tolist() == [duck.count(SEGMENT_RULES["Android"]), 0]


# -- generated bases -----------------------------------------------------------------------

RULES = ('band = "gold"', "visits >= 2", 'band in ("gold", "silver") and visits < 4',
         "score > 0 or visits = 0")


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(drawn=contact_frames(), rules=st.lists(st.sampled_from(RULES), min_size=1,
                                               max_size=3, unique=True),
       pairwise=st.booleans(), data=st.data())
def test_generated_bases_compare_alike(tmp_path_factory, drawn, rules, pairwise, data):
    frame, mask = drawn
    n = len(frame)
    masks = [mask] + data.draw(st.lists(st.lists(st.booleans(), min_size=n, max_size=n),
                                        max_size=2))
    folder = tmp_path_factory.mktemp("generated")
    frame.to_parquet(folder / "contacts.parquet", index=False)
    pandas_base = se.read_base(folder / "contacts.parquet", clean=False, as_of="2026-01-02")
    duck = se.read_base(folder / "contacts.parquet", engine="duckdb", as_of="2026-01-02")
    attributes = ["band", "note", "score", "visits", "seen", "flag"]
    # Segments of rules (their fields imply attributes) and masks
    _same(compare([pandas_base.segment(r, name=r) for r in rules], attributes=attributes,
                  pairwise=pairwise, rate="visits"),
          compare([duck.segment(r, name=r) for r in rules], attributes=attributes,
                  pairwise=pairwise, rate="visits"))
    named = {f"m{i}": np.asarray(m) for i, m in enumerate(masks)}
    _same(compare(named, pandas_base, attributes=attributes, rate="flag"),
          compare(named, duck, attributes=attributes, rate="flag"))


JOINT_COLUMNS = ("department", "city", "age", "signup_date", "consent", "gender",
                 "revenue_365d", "engagement_score", "purchases_90d")


@pytest.mark.parametrize("prepared", [False, True], ids=["one scan each", "prepared"])
def test_the_joint_counts_behind_the_implied_attributes_are_the_pandas_ones(sample_pair,
                                                                            prepared):
    """Each rule field's codes against each attribute's, counted by both engines: the same
    pairs, the same contacts (what the entropies of ImpliedAttributes are read off), whether
    each joint scans the base or is read off the table ``prepare`` codes once (numbers and
    dates binned by their edges in SQL, categories joined)."""
    from segexplore.analysis.attributes import attribute_kind, attribute_table
    from segexplore.analysis.counts import EngineSource, FrameCounts
    from segexplore.analysis.implied import ImpliedAttributes

    pandas_base, duck = sample_pair
    names = ["Champions", "Buyers", "Île-de-France"]
    mine, theirs = _segments(duck, names), _segments(pandas_base, names)
    fields = {s.name: s.effective_rule.fields() for s in theirs}
    frames = FrameCounts(attribute_table(pandas_base),
                         np.column_stack([s.mask.to_numpy() for s in theirs]))
    members = [duck.evaluator().sql(s.effective_rule) for s in mine]
    with frames, EngineSource(duck, members) as counts:
        kinds = {c: attribute_kind(v, r) for c, (v, r, _) in frames.columns().items()}
        implied = [ImpliedAttributes(source, names, fields, kinds)
                   for source in (frames, counts)]
        rules = [[entry for name in names for entry in each.rules.get(name, [])]
                 for each in implied]
        assert len(rules[0]) >= 6 and any(entry[1].column is None for entry in rules[0])
        if prepared:
            implied[1].prepare([(column, kinds[column]) for column in JOINT_COLUMNS])
        assert (counts.counter._joint is not None) == prepared
        for column in JOINT_COLUMNS:
            kind = kinds[column]
            codings = []
            for source in (frames, counts):
                encoded, base, _ = source.counts(column, kind)
                codings.append(implied[0].coding(column, kind, encoded, base))
            expected = frames.joints([e[1] for e in rules[0]], codings[0])
            got = counts.joints([e[1] for e in rules[1]], codings[1])
            for (a, b, n), (x, y, m) in zip([expected[i] for i in range(len(rules[0]))], got,
                                            strict=True):
                order = np.lexsort((y, x))
                assert (a.tolist(), b.tolist(), n.tolist()) == (
                    x[order].tolist(), y[order].tolist(), m[order].tolist()), column
        if prepared:  # every joint was read off the prepared table
            assert len(counts.counter._joint.counted) == len(JOINT_COLUMNS)


def test_counts_join_by_position_when_the_rows_do_not_pair(sample_pair, monkeypatch):
    """The membership is paired with a table row by row only once every row was checked to
    pair: two tables in other orders do not pair, and with the check failing the counts
    join by position and the comparison is still the pandas one."""
    from segexplore.engines.duckdb_counts import DuckDBCounts

    pandas_base, duck = sample_pair
    with DuckDBCounts(duck, [duck.evaluator().sql(se.parse('device = "iOS"'))]) as counts:
        connection = counts.connection
        assert counts._aligned == {duck._store.contacts_table: True}
        connection.execute("CREATE TEMP TABLE _reversed AS SELECT position FROM range(5) "
                           "AS r(position) ORDER BY position DESC")
        connection.execute("CREATE TEMP TABLE _forward AS SELECT position FROM range(5) "
                           "AS r(position) ORDER BY position")
        assert not counts._rows_pair("_reversed", "_forward")
        assert counts._rows_pair("_forward", "_forward")
    monkeypatch.setattr(DuckDBCounts, "_rows_pair", lambda self, table, members: False)
    names = ["Android", "Champions", "Île-de-France"]
    _same(compare(_segments(pandas_base, names)), compare(_segments(duck, names)))


@pytest.mark.parametrize("bits", [0, 63], ids=["a filter per segment", "by pattern"])
def test_counts_by_membership_pattern_or_by_filters_are_the_pandas_comparison(
        sample_pair, monkeypatch, bits):
    """Up to 63 segments the counts group by each contact's pattern of membership (its bits
    in one number) and are added up per segment in numpy; beyond, one filtered count per
    segment: both give the pandas comparison (overlapping segments, an empty one)."""
    from segexplore.engines import duckdb_counts

    monkeypatch.setattr(duckdb_counts, "_PATTERN_BITS", bits)
    pandas_base, duck = sample_pair
    names = ["Android", "Champions", "Buyers", "Nobody"]
    _same(compare(_segments(pandas_base, names)), compare(_segments(duck, names)))
    segments = _segments(duck, names)
    with duckdb_counts.DuckDBCounts(duck, [duck.evaluator().sql(s.rule) for s in segments]
                                    ) as counts:
        table = counts.value_counts("revenue_365d")
        grouped = "p" in counts.connection.execute(
            f"SELECT * FROM {counts.members_table} LIMIT 0").df().columns
    assert grouped == bool(bits)
    # sorted distinct values; per segment, what the pandas engine counts
    assert (np.diff(table.values) > 0).all()
    features = pandas_base.features
    for s, segment in enumerate(_segments(pandas_base, names)):
        held = features.loc[segment.mask.to_numpy(), "revenue_365d"].dropna()
        expected = held.value_counts()
        got = pd.Series(table.counts[:, 1 + s], index=table.values)
        got = got[got > 0]
        pd.testing.assert_series_equal(got.sort_index(), expected.sort_index(),
                                       check_names=False, check_index_type=False,
                                       check_dtype=False)
