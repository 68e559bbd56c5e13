"""Propensity and churn: no leakage from after the cutoff, better than recency, usable in rules."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import segexplore as se
from segexplore.datasets.generate import generate_base
from segexplore.ml.score import (
    PROPENSITY_FEATURES,
    add_scores,
    churn,
    gains_table,
    propensity,
    training_features,
)

HORIZON = pd.Timedelta(days=30)


@pytest.fixture(scope="module")
def tables() -> dict[str, pd.DataFrame]:
    return generate_base(8000, seed=5)


@pytest.fixture(scope="module")
def base(tables) -> se.ContactBase:
    return se.read_base(tables["contacts"], tables["events"], tables["orders"], clean=False)


@pytest.fixture(scope="module")
def model(base):
    return propensity(base, "purchase", "30 days")


def test_beats_the_recency_baseline(model):
    # purchases follow recent clicks and visits in the generated base: the model sees it
    assert model.auc > 0.8
    assert model.auc > model.baseline_auc + 0.03
    assert model.gains.loc[0, "lift"] > 3


def test_periods_follow_the_timeline(base, model):
    assert model.validation_cutoff == base.as_of - HORIZON
    assert model.cutoff == base.as_of - 2 * HORIZON
    summary = model.summary()
    assert summary["labels_until"].iloc[0] == summary["features_as_of"].iloc[1]
    # labels: a purchase in (cutoff, cutoff + 30 days], counted straight from the events
    events = base.events
    bought = events[(events["event_type"] == "purchase")
                    & (events["timestamp"] > model.cutoff)
                    & (events["timestamp"] <= model.cutoff + HORIZON)]["contact_id"].unique()
    ids = base.contacts.loc[model.train_features.index, "contact_id"]
    assert (ids.isin(bought).to_numpy() == model.train_labels).all()


def test_population_leaves_out_later_signups(base, model):
    signup = base.contacts.loc[model.train_features.index, "signup_date"]
    assert (signup.isna() | (signup <= model.cutoff)).all()
    later = (base.contacts["signup_date"] > model.cutoff).sum()
    assert len(model.train_features) == len(base.contacts) - later


def _extreme_events_after(tables, cutoff: pd.Timestamp) -> pd.DataFrame:
    """Half the contacts buy for a million, open and click 50 times, just after the cutoff."""
    ids = tables["contacts"]["contact_id"].to_numpy()[::2]
    stamp = cutoff + pd.Timedelta(hours=1)
    rows = []
    for kind, repeat, amount in (("purchase", 3, 1e6), ("open", 50, np.nan),
                                 ("click", 50, np.nan), ("visit", 20, np.nan)):
        rows.append(pd.DataFrame({"contact_id": np.repeat(ids, repeat), "timestamp": stamp,
                                  "event_type": kind, "amount": amount}))
    extra = pd.concat(rows, ignore_index=True)
    return pd.concat([tables["events"], extra], ignore_index=True)


def test_no_event_after_the_cutoff_reaches_the_features(tables, base, model):
    cutoff = model.cutoff
    events = _extreme_events_after(tables, cutoff)
    flooded_ids = tables["contacts"]["contact_id"].to_numpy()[::2]
    orders = pd.concat([tables["orders"], pd.DataFrame({
        "order_id": [f"X{i}" for i in range(len(flooded_ids))],
        "contact_id": flooded_ids,
        "timestamp": cutoff + pd.Timedelta(hours=1), "amount": 1e6})], ignore_index=True)
    flooded = se.read_base(tables["contacts"], events, orders, clean=False, as_of=base.as_of)
    pd.testing.assert_frame_equal(training_features(flooded, cutoff),
                                  training_features(base, cutoff))
    again = propensity(flooded, "purchase", "30 days", cutoff=cutoff,
                       validation_cutoff=model.validation_cutoff)
    pd.testing.assert_frame_equal(again.train_features, model.train_features)
    ids = base.contacts.loc[again.train_features.index, "contact_id"]
    assert again.train_labels[ids.isin(flooded_ids).to_numpy()].all()  # in the label window


def test_features_equal_those_of_a_base_without_the_future(tables, base, model):
    cutoff = model.cutoff
    past = {name: frame[frame["timestamp"] <= cutoff]
            for name, frame in tables.items() if name != "contacts"}
    truncated = se.read_base(tables["contacts"], past["events"], past["orders"], clean=False,
                             as_of=cutoff)
    pd.testing.assert_frame_equal(training_features(base, cutoff),
                                  training_features(truncated, cutoff))
    pd.testing.assert_frame_equal(training_features(base, cutoff), truncated.features[
        list(PROPENSITY_FEATURES)].astype(np.float64))


def test_any_model_with_fit_and_predict_proba(base, model):
    logistic = propensity(base, model=make_pipeline(StandardScaler(),
                                                    LogisticRegression(max_iter=500)))
    assert logistic.auc > 0.75
    assert logistic.cutoff == model.cutoff

    class Recency:  # not an sklearn estimator: used as given
        def fit(self, x, y):
            return self

        def predict_proba(self, x):
            column = PROPENSITY_FEATURES.index("days_since_last_activity")
            p = 1 / (1 + np.exp(x[:, column]))
            return np.column_stack([1 - p, p])

    plain = propensity(base, model=Recency())
    assert 0.6 < plain.auc < model.auc
    few = propensity(base, features=["clicks_90d", "visits_30d"])  # baseline still computed
    assert few.features == ["clicks_90d", "visits_30d"]
    assert few.baseline_auc == pytest.approx(model.baseline_auc) and few.auc > 0.6


def test_large_training_periods_are_sampled(base, model):
    small = propensity(base, sample=2000)
    assert len(small.train_features) == len(small.train_labels) == 2000
    assert len(small.validation_features) == len(model.validation_features)
    assert small.scores.notna().sum() == model.scores.notna().sum()


def test_scores_every_contact_as_of_now(base, model):
    scores = model.scores
    assert scores.name == "purchase_propensity"
    assert scores.index.equals(base.contacts.index)
    assert scores.between(0, 1).all()  # everyone has signed up by as_of
    assert model.predict(training_features(base, base.as_of).iloc[:5]) == pytest.approx(
        scores.iloc[:5])


def test_churn_among_past_buyers(base):
    risk = churn(base, "90 days")
    buyers = base.features["purchases_total"] > 0
    assert risk.scores.name == "churn_risk"
    assert risk.scores[buyers].notna().all() and risk.scores[~buyers].isna().all()
    bought_before = base.at(risk.cutoff).features["purchases_total"] > 0
    assert len(risk.train_features) == int(bought_before.sum())
    assert risk.auc > 0.65 and risk.auc > risk.baseline_auc


def test_scores_become_a_rule_field(base, model):
    scored = add_scores(base, model.scores)
    assert "purchase_propensity" not in base.contacts
    assert scored.count("purchase_propensity >= 0.2") == int((model.scores >= 0.2).sum())
    top = scored.segment("purchase_propensity in top 10%", save=False)
    threshold = np.sort(model.scores.to_numpy())[-int(np.ceil(len(model.scores) * 0.1))]
    assert top.size == int((model.scores >= threshold).sum())
    assert scored.activity is base.activity and scored.as_of == base.as_of
    by_id = model.scores.set_axis(base.contacts["contact_id"]).iloc[::2]
    again = add_scores(base, propensity_by_id=by_id)
    assert again.contacts["propensity_by_id"].isna().sum() == len(base.contacts) // 2
    with pytest.raises(ValueError, match="behaviour feature"):
        add_scores(base, engagement_score=model.scores)


def test_gains_and_calibration_tables(model):
    gains = gains_table(np.array([1, 1, 0, 0, 1, 0, 0, 0, 0, 0] * 10, dtype=bool),
                        np.linspace(1, 0, 100))
    # top 10 %: scores 1.0 .. 0.91, i.e. the pattern's first ten rows: 3 positives
    assert gains.loc[0, "positives"] == 3
    assert gains.loc[0, "lift"] == pytest.approx(1.0)
    assert gains["gain"].iloc[-1] == pytest.approx(1.0)
    calibration = model.calibration
    assert calibration["decile"].tolist() == list(range(1, 11))
    assert calibration["n"].sum() == len(model.validation_labels)
    assert calibration["predicted"].is_monotonic_decreasing
    assert calibration.loc[0, "observed"] > calibration.loc[9, "observed"]


def test_charts(model):
    from segexplore.display.charts_ml import calibration_chart, gains_chart

    assert len(gains_chart(model).data) == 3
    assert len(calibration_chart(model).data) == 2


def test_periods_must_not_overlap(base):
    with pytest.raises(ValueError, match="overlap"):
        propensity(base, cutoff=base.as_of - pd.Timedelta(days=40))
    with pytest.raises(ValueError, match="after"):
        propensity(base, validation_cutoff=base.as_of - pd.Timedelta(days=10))
