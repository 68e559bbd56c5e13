"""discover: recovers planted groups, rules report exactly what the rule engine selects."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score, precision_score, recall_score

import segexplore as se
from segexplore.datasets.generate import generate_base
from segexplore.ml.discover import DEFAULT_FEATURES, discover, discover_frame
from segexplore.rules.engines.sql import run_duckdb


@pytest.fixture(scope="module")
def base() -> se.ContactBase:
    tables = generate_base(3000, seed=3)
    return se.read_base(tables["contacts"], tables["events"], tables["orders"], clean=False)


@pytest.fixture(scope="module")
def found(base):
    return discover(base, k=4)


def planted(sizes=(400, 300, 200), seed=0) -> tuple[pd.DataFrame, np.ndarray]:
    """Three well-separated groups in four columns (one of them pure noise)."""
    rng = np.random.default_rng(seed)
    centres = np.array([[0, 0, 0], [6, 0, 3], [0, 7, -4]], dtype=float)
    truth = np.repeat(np.arange(len(sizes)), sizes)
    values = centres[truth] + rng.normal(0, 1, (len(truth), 3))
    frame = pd.DataFrame(values, columns=["spend", "visits", "tenure"])
    frame["noise"] = rng.normal(0, 1, len(truth))
    order = rng.permutation(len(truth))  # groups not in row order
    return frame.iloc[order].reset_index(drop=True), truth[order]


def test_recovers_planted_groups():
    frame, truth = planted()
    found = discover_frame(frame, k=range(2, 7))
    assert found.k == 3
    assert adjusted_rand_score(truth, found.labels) > 0.8
    assert found.scores["selected"].sum() == 1
    best = found.scores.loc[found.scores["silhouette"].idxmax()]
    assert best["k"] == 3 and best["selected"]


@pytest.mark.parametrize("method", ["minibatch", "gmm", "dbscan"])
def test_other_methods_recover_planted_groups(method):
    frame, truth = planted()
    found = discover_frame(frame, method=method, k=range(2, 6))
    kept = found.labels.to_numpy() >= 0  # DBSCAN's noise left aside
    assert kept.mean() > 0.9
    assert adjusted_rand_score(truth[kept], found.labels[kept]) > 0.8


def test_fits_on_a_sample_and_assigns_every_row():
    frame, truth = planted((4000, 3000, 2000))
    found = discover_frame(frame, k=3, sample=600, silhouette_sample=300)
    assert len(found._fit_rows) == 600
    assert found.labels.notna().all() and len(found.labels) == len(frame)
    assert adjusted_rand_score(truth, found.labels) > 0.8


def test_every_contact_gets_a_cluster_numbered_by_size(base, found):
    labels = found.labels
    assert labels.index.equals(base.contacts.index)
    assert set(labels.unique()) == set(range(found.k))
    sizes = found.clusters["size"].tolist()
    assert sizes == sorted(sizes, reverse=True)
    assert sizes == labels.value_counts().sort_index().tolist()
    assert found.clusters["share"].sum() == pytest.approx(1.0)
    assert list(found.scores.columns) == ["k", "silhouette", "davies_bouldin",
                                          "calinski_harabasz", "selected"]
    assert found.features == list(DEFAULT_FEATURES)


def test_rules_have_exactly_the_precision_and_recall_they_report(base, found):
    for rec in found.clusters.itertuples():
        truth = (found.labels == rec.cluster).to_numpy()
        # recomputed independently: the same rule text run through DuckDB's SQL
        selected = run_duckdb(rec.rule, base).to_numpy()
        assert (selected == base.segment(rec.rule, save=False).mask.to_numpy()).all()
        assert rec.precision == pytest.approx(precision_score(truth, selected), abs=1e-12)
        assert rec.recall == pytest.approx(recall_score(truth, selected), abs=1e-12)
    # the clusters of a well-structured base are described well by short rules
    assert (found.clusters["precision"] > 0.6).all()
    assert (found.clusters["recall"] > 0.6).all()


def test_rules_read_in_real_units(base, found):
    for rule in found.clusters["rule"]:
        parsed = se.parse(rule)
        assert str(parsed) == rule  # canonical text: edits round-trip
        assert parsed.fields() <= set(DEFAULT_FEATURES)
        for node in parsed.walk():
            if getattr(node, "field", "").startswith(("purchases_", "opens_", "clicks_")) \
                    and hasattr(node, "value"):
                assert isinstance(node.value, int)  # counts compared with whole numbers


def test_missing_values_follow_the_tree_in_the_rule():
    rng = np.random.default_rng(1)
    n = 600
    recency = rng.uniform(0, 30, n)
    recency[: n // 3] = np.nan  # a third never bought: "longer ago than anything seen"
    frame = pd.DataFrame({"days_since_last_purchase": recency,
                          "days_since_signup": rng.uniform(0, 1000, n)})
    found = discover_frame(frame, k=2)
    never = found.labels[: n // 3].mode()[0]
    assert (found.labels[: n // 3] == never).all() and (found.labels[n // 3:] != never).all()
    assert found.clusters.set_index("cluster").loc[never, "rule"] == (
        "days_since_last_purchase is missing")
    for rec in found.clusters.itertuples():
        selected = found.segment(rec.cluster, save=False).mask.to_numpy()
        truth = (found.labels == rec.cluster).to_numpy()
        assert rec.precision == pytest.approx(precision_score(truth, selected))


def test_booleans_read_as_true_or_false_and_counts_as_whole_numbers():
    rng = np.random.default_rng(2)
    n = 400
    group = np.arange(n) < n // 2
    frame = pd.DataFrame({"cart_abandoner": group,  # a real boolean column
                          "purchases_30d": (~group).astype(np.int64),  # 0/1 counts
                          "engagement_score": rng.uniform(0, 100, n)})
    found = discover_frame(frame, k=2)
    rules = set(found.clusters["rule"])
    assert rules & {"cart_abandoner = true", "cart_abandoner = false", "purchases_30d >= 1",
                    "purchases_30d <= 0"}
    assert "purchases_30d = true" not in " ".join(rules)
    assert (found.clusters["precision"] == 1).all() and (found.clusters["recall"] == 1).all()
    assert "cart_abandoner" in " ".join(found.clusters["name"])


def test_segment_is_a_named_editable_segment(base, found):
    seg = found.segment(0)
    assert seg.text == found.clusters.loc[0, "rule"]
    assert seg.name == found.clusters.loc[0, "name"]
    assert base.segments[seg.name] is seg
    del base.segments[seg.name]
    narrowed = base.segment('consent = "given"', parent=found.segment(1, save=False))
    assert narrowed.size <= found.segment(1, save=False).size


def test_profiles_compare_each_cluster_with_the_rest(found):
    profiles = found.profiles
    assert set(profiles["cluster"]) == set(found.clusters["cluster"])
    first = profiles[profiles["cluster"] == 0]
    assert first["effect_size"].abs().is_monotonic_decreasing
    assert first["reading"].str.len().gt(0).all()


def test_names_are_unique_and_readable(found):
    names = found.clusters["name"]
    assert names.is_unique
    assert all(isinstance(n, str) and n for n in names)
    assert "clusters</strong> found by kmeans" in found._repr_html_()
    assert "precision" in repr(found)


def test_projection_and_chart(found):
    from segexplore.display.charts_ml import cluster_projection

    points = found.projection
    assert list(points.columns) == ["pc1", "pc2", "cluster", "name"]
    assert len(points) == min(5000, len(found.labels))
    figure = cluster_projection(found)
    assert len(figure.data) == found.k


def test_bad_arguments(base):
    with pytest.raises(ValueError, match="at least 2"):
        discover(base, k=1)
    with pytest.raises(ValueError, match="unknown method"):
        discover(base, method="spectral", k=3)
    with pytest.raises(TypeError, match="not numeric"):
        discover(base, features=["city", "revenue_365d"], k=2)
