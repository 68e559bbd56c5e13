"""Propensity and churn scores, trained on the past, validated on a later period, usable in rules.

The timeline, for a horizon ``h`` and the base seen as of ``T`` (``base.as_of``)::

    train:      features as of  cutoff  (default T - 2h),  label = event in (cutoff, cutoff + h]
    validation: features as of  vcut    (default T - h),   label = event in (vcut, vcut + h]
    scores:     features as of  T,                        what happens in (T, T + h] is unknown

Features at a date are computed by ``base.at(date)``, which ignores every event after that
date, so nothing the model learns from comes from after its cutoff (``tests/ml/test_score.py``
proves it by adding extreme events after the cutoff). Contacts who signed up after a
cutoff are not part of that period's population.

The validated model is the one that scores the base: the AUC, calibration and gains tables
describe the scores you get. :func:`add_scores` puts the scores next to the contact columns
so that rules such as ``purchase_propensity >= 0.5`` or ``purchase_propensity in top 10%``
evaluate.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from html import escape
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from segexplore.errors import ParameterError, ParameterTypeError
from segexplore.ml.discover import feature_preprocessor, fit_threads
from segexplore.rules import nodes as R

if TYPE_CHECKING:
    from segexplore.model.base import ContactBase

__all__ = ["PROPENSITY_FEATURES", "PropensityModel", "add_scores", "churn", "propensity",
           "training_features"]

#: Behaviour features the models learn from by default (see ``docs/features.md``).
PROPENSITY_FEATURES = (
    "days_since_last_purchase", "days_since_last_open", "days_since_last_click",
    "days_since_last_visit", "days_since_last_activity", "purchases_30d", "purchases_90d",
    "purchases_365d", "purchases_total", "revenue_90d", "revenue_365d", "revenue_total",
    "avg_basket", "opens_30d", "opens_90d", "clicks_30d", "clicks_90d", "visits_30d",
    "visits_90d", "carts_abandoned_30d", "engagement_score", "days_since_signup",
)

#: Outcome words accepted for an event type ("purchased" -> "purchase").
EVENT_ALIASES = {"purchased": "purchase", "opened": "open", "clicked": "click",
                 "visited": "visit", "added_to_cart": "add_to_cart"}

_NEVER_DAYS = 1e9  # recency of "never" for the recency-only baseline


def _offset(horizon: Any) -> pd.DateOffset | pd.Timedelta:
    """``"30 days"``, ``"3 months"``, a Timedelta or a number of days -> a date offset."""
    from segexplore.rules.windows import duration_offset

    if isinstance(horizon, str):
        return duration_offset(R.Duration.parse(horizon))
    if isinstance(horizon, (int, float, np.integer, np.floating)):
        return pd.Timedelta(days=float(horizon))
    return pd.Timedelta(horizon)


def _exists_at(base: ContactBase, date: pd.Timestamp) -> np.ndarray:
    """Contacts already signed up at ``date`` (unknown signup dates count as signed up)."""
    if "signup_date" not in base.contacts:
        return np.ones(len(base.contacts), dtype=bool)
    signup = pd.to_datetime(base.contacts["signup_date"])
    if getattr(signup.dtype, "tz", None) is not None:
        signup = signup.dt.tz_convert("UTC").dt.tz_localize(None)
    return (signup.isna() | (signup <= date)).to_numpy()


def training_features(base: ContactBase, cutoff: Any,
                      features: Sequence[str] | None = None) -> pd.DataFrame:
    """The features of every contact as of ``cutoff``, from ``base.at(cutoff)`` only.

    Numbers as float (NaN where missing), booleans as 0/1; same index as the contacts.

    Examples
    --------
    >>> import segexplore as se
    >>> base = se.load_sample()
    >>> past = training_features(base, base.as_of - pd.Timedelta(days=60))
    >>> past.shape == (len(base.contacts), len(PROPENSITY_FEATURES))
    True
    """
    names = list(features) if features is not None else list(PROPENSITY_FEATURES)
    cutoff = pd.Timestamp(cutoff)
    seen = base if cutoff == base.as_of else base.at(cutoff)  # ignores events after cutoff
    evaluator = seen.evaluator()
    columns = {}
    for name in names:
        values = evaluator.column(name)
        if not (pd.api.types.is_numeric_dtype(values.dtype)
                or pd.api.types.is_bool_dtype(values.dtype)):
            raise ParameterTypeError(f"feature {name!r} is not numeric (dtype {values.dtype})")
        columns[name] = values.to_numpy(dtype=np.float64, na_value=np.nan)
    return pd.DataFrame(columns, index=base.contacts.index)


def _default_model(seed: int = 0):
    from sklearn.ensemble import HistGradientBoostingClassifier

    # rare positives: small steps, leaves of a decent size, early stopping on held-out rows
    return HistGradientBoostingClassifier(learning_rate=0.05, max_iter=300, max_leaf_nodes=15,
                                          min_samples_leaf=50, l2_regularization=1.0,
                                          early_stopping=True, validation_fraction=0.15,
                                          n_iter_no_change=20, random_state=seed)


def _deciles(score: np.ndarray) -> np.ndarray:
    """Decile 1..10 of each score, 1 = highest (ties split by position, so deciles are even)."""
    order = np.argsort(-score, kind="stable")
    ranks = np.empty(len(score), dtype=np.int64)
    ranks[order] = np.arange(len(score))
    return ranks * 10 // max(len(score), 1) + 1


def calibration_table(y_true: np.ndarray, y_score: np.ndarray) -> pd.DataFrame:
    """Per decile of predicted probability: ``decile, n, predicted, observed, positives``.

    Decile 1 holds the highest predictions. A calibrated model has ``predicted`` close to
    ``observed`` on every row.
    """
    frame = pd.DataFrame({"decile": _deciles(y_score), "y": y_true.astype(float), "p": y_score})
    table = frame.groupby("decile").agg(n=("y", "size"), predicted=("p", "mean"),
                                        observed=("y", "mean"), positives=("y", "sum"))
    table["positives"] = table["positives"].astype(np.int64)
    return table.reset_index()


def gains_table(y_true: np.ndarray, y_score: np.ndarray) -> pd.DataFrame:
    """Per decile of score (1 = top 10 %): positives captured, cumulative gain and lift.

    ``gain`` is the share of all positives found when targeting the deciles down to this
    one; ``lift`` is the decile's rate over the overall rate (1 = no better than random).
    """
    frame = pd.DataFrame({"decile": _deciles(y_score), "y": y_true.astype(float)})
    table = frame.groupby("decile").agg(n=("y", "size"), positives=("y", "sum"))
    table["positives"] = table["positives"].astype(np.int64)
    overall = table["positives"].sum() / table["n"].sum()
    table["rate"] = table["positives"] / table["n"]
    table["lift"] = table["rate"] / overall if overall else np.nan
    table["contacts_share"] = table["n"].cumsum() / table["n"].sum()
    total = table["positives"].sum()
    table["gain"] = table["positives"].cumsum() / total if total else np.nan
    table["cumulative_lift"] = table["gain"] / table["contacts_share"]
    return table.reset_index()


def _auc(y_true: np.ndarray, y_score: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    if y_true.all() or not y_true.any():
        return float("nan")
    return float(roc_auc_score(y_true, y_score))


@dataclass(eq=False, repr=False)
class PropensityModel:
    """A fitted score: its validation (AUC, calibration, gains) and the scores of the base.

    Attributes
    ----------
    scores : Series
        Probability for every contact as of ``base.as_of`` (NaN outside the population, e.g.
        non-buyers for churn), named ``"<target>_propensity"`` or ``"churn_risk"``.
    auc, baseline_auc : float
        Validation AUC of the model and of the recency-only ``baseline``.
    calibration, gains : DataFrame
        See :func:`calibration_table` and :func:`gains_table` (validation period).
    preprocessor : sklearn Pipeline
        Imputation, log1p of heavy tails and scaling, as in
        :func:`~segexplore.ml.discover.feature_preprocessor`, fitted on the training rows.
    model : estimator
        The fitted model; :meth:`predict` chains both.
    cutoff, validation_cutoff : Timestamp
        Dates of the training and validation features; labels run for ``horizon`` after.
    train_features, validation_features : DataFrame
        What the model learnt from and was validated on (population rows only), with
        ``train_labels``, ``validation_labels`` and ``validation_scores``.
    """

    base: ContactBase
    description: str
    features: list[str]
    horizon: pd.DateOffset | pd.Timedelta
    cutoff: pd.Timestamp
    validation_cutoff: pd.Timestamp
    preprocessor: Any
    model: Any
    train_features: pd.DataFrame
    train_labels: np.ndarray
    validation_features: pd.DataFrame
    validation_labels: np.ndarray
    baseline: str
    baseline_scores: np.ndarray
    validation_scores: np.ndarray = field(init=False)
    scores: pd.Series = field(init=False)
    auc: float = field(init=False)
    baseline_auc: float = field(init=False)
    calibration: pd.DataFrame = field(init=False)
    gains: pd.DataFrame = field(init=False)

    @property
    def name(self) -> str:
        return str(self.scores.name)

    def predict(self, features: pd.DataFrame) -> np.ndarray:
        """Probabilities for rows of features (columns as in :func:`training_features`)."""
        with fit_threads(len(features)):
            return self.model.predict_proba(self.preprocessor.transform(features))[:, 1]

    def summary(self) -> pd.DataFrame:
        """Periods, sizes, positive rates and AUCs, one row per period."""
        rows = []
        for period, features, labels, start in (
                ("train", self.train_features, self.train_labels, self.cutoff),
                ("validation", self.validation_features, self.validation_labels,
                 self.validation_cutoff)):
            rows.append({"period": period, "features_as_of": start,
                         "labels_until": start + self.horizon, "contacts": len(features),
                         "positives": int(labels.sum()), "rate": float(labels.mean())})
        table = pd.DataFrame(rows)
        table["auc"] = [np.nan, self.auc]
        table["baseline_auc"] = [np.nan, self.baseline_auc]
        return table

    def __repr__(self) -> str:
        top = self.gains.iloc[0]
        return (f"PropensityModel({self.name}: {self.description}; validation AUC "
                f"{self.auc:.3f} vs {self.baseline_auc:.3f} for {self.baseline}; top 10% "
                f"captures {top['gain']:.0%} of positives, lift {top['lift']:.1f})")

    def _repr_html_(self) -> str:
        gains = self.gains.to_html(index=False, float_format=lambda v: f"{v:.3f}")
        summary = self.summary().to_html(index=False, float_format=lambda v: f"{v:.3f}")
        return (f"<div><strong>{escape(self.name)}</strong>: {escape(self.description)}"
                f"<br>validation AUC <strong>{self.auc:.3f}</strong> (baseline "
                f"{escape(self.baseline)}: {self.baseline_auc:.3f}){summary}"
                f"<details><summary>gains by decile</summary>{gains}</details></div>")


def _fit(base: ContactBase, *, name: str, description: str, horizon: Any,
         label: Callable[[ContactBase, pd.Timestamp, pd.Timestamp], np.ndarray],
         population: Callable[[ContactBase, pd.Timestamp], np.ndarray],
         baseline: tuple[str, float], model: Any, features: Sequence[str] | None,
         cutoff: Any, validation_cutoff: Any, sample: int | None) -> PropensityModel:
    from sklearn.base import clone

    offset = _offset(horizon)
    as_of = base.as_of
    vcut = pd.Timestamp(validation_cutoff) if validation_cutoff is not None else as_of - offset
    cut = pd.Timestamp(cutoff) if cutoff is not None else vcut - offset
    if cut + offset > vcut:
        raise ParameterError(f"the training labels (until {cut + offset}) would overlap the "
                             f"validation period (from {vcut}); move cutoff earlier")
    if vcut + offset > as_of:
        raise ParameterError(f"the validation labels need events until {vcut + offset}, after "
                             f"as_of {as_of}; move validation_cutoff earlier")
    names = list(features) if features is not None else list(PROPENSITY_FEATURES)
    baseline_name, sign = baseline
    wanted = names if baseline_name in names else [*names, baseline_name]

    def period(start: pd.Timestamp) -> tuple[pd.DataFrame, np.ndarray]:
        rows = population(base, start)
        frame = training_features(base, start, wanted)[rows]
        return frame, label(base, start, start + offset)[rows]

    train_x, train_y = period(cut)
    if sample is not None and len(train_x) > sample:  # uniform: rates stay calibrated
        keep = np.sort(np.random.default_rng(0).choice(len(train_x), sample, replace=False))
        train_x, train_y = train_x.iloc[keep], train_y[keep]
    valid_x, valid_y = period(vcut)
    valid_baseline = valid_x[baseline_name].to_numpy()
    train_x, valid_x = train_x[names], valid_x[names]
    if train_y.all() or not train_y.any():
        raise ParameterError(f"every contact of the training period has the same label "
                             f"({int(train_y.sum())} positives of {len(train_y)})")
    estimator = model if model is not None else _default_model()
    try:
        estimator = clone(estimator)
    except TypeError:  # not an sklearn estimator: used as given
        pass
    preprocessor = feature_preprocessor(train_x).fit(train_x)
    with fit_threads(len(train_x)):
        estimator.fit(preprocessor.transform(train_x), train_y)
    fitted = PropensityModel(
        base=base, description=description, features=names, horizon=offset, cutoff=cut,
        validation_cutoff=vcut, preprocessor=preprocessor, model=estimator,
        train_features=train_x, train_labels=train_y, validation_features=valid_x,
        validation_labels=valid_y, baseline=f"recency ({baseline_name})",
        baseline_scores=sign * np.nan_to_num(valid_baseline, nan=_NEVER_DAYS))
    valid_p = fitted.validation_scores = fitted.predict(valid_x)
    fitted.auc = _auc(valid_y, valid_p)
    fitted.baseline_auc = _auc(valid_y, fitted.baseline_scores)
    fitted.calibration = calibration_table(valid_y, valid_p)
    fitted.gains = gains_table(valid_y, valid_p)
    now_rows = population(base, as_of)
    now_x = training_features(base, as_of, names)[now_rows]
    fitted.scores = pd.Series(np.nan, index=base.contacts.index, name=name)
    if len(now_x):
        fitted.scores[now_rows] = fitted.predict(now_x)
    return fitted


def propensity(base: ContactBase, target: str = "purchase", horizon: Any = "30 days", *,
               model: Any = None, features: Sequence[str] | None = None, cutoff: Any = None,
               validation_cutoff: Any = None, sample: int | None = 200_000) -> PropensityModel:
    """Probability that each contact does ``target`` within ``horizon``.

    Parameters
    ----------
    base : ContactBase
    target : str, default "purchase"
        An event type (``purchase``, ``click``, ``open``, ``visit``, ``add_to_cart``; or
        ``purchased``, ``clicked``...).
    horizon : str, Timedelta or number of days, default "30 days"
    model : estimator, optional
        Anything with ``fit`` and ``predict_proba`` (cloned when it is an sklearn estimator);
        default a seeded ``HistGradientBoostingClassifier``. It receives imputed,
        log-transformed and standardised features.
    features : list of str, optional
        Numeric behaviour features or contact columns; default :data:`PROPENSITY_FEATURES`.
    cutoff, validation_cutoff : date-like, optional
        Dates of the training and validation features; default ``as_of - 2 * horizon`` and
        ``as_of - horizon``.
    sample : int or None, default 200,000
        Train on a random sample of this many contacts of the training period (None: all
        of them). Validation and scoring always cover every contact.

    Returns
    -------
    PropensityModel
        ``.scores`` is named ``"<target>_propensity"``.

    Examples
    --------
    >>> import segexplore as se
    >>> base = se.load_sample()
    >>> model = propensity(base, "purchase", "30 days")
    >>> model.scores.name
    'purchase_propensity'
    >>> bool(model.auc > 0.5)
    True
    >>> scored = add_scores(base, model.scores)
    >>> scored.count("purchase_propensity in top 10%") >= len(base.contacts) // 10
    True
    """
    event_type = EVENT_ALIASES.get(target, target)
    base.activity.n_events(event_type)  # an unknown event type fails here, with a suggestion

    def label(b: ContactBase, start: pd.Timestamp, end: pd.Timestamp) -> np.ndarray:
        return b.activity.count(event_type, start=start, end=end) > 0

    return _fit(base, name=f"{event_type}_propensity",
                description=f"probability of a {event_type} within {horizon}",
                horizon=horizon, label=label, population=_exists_at,
                baseline=("days_since_last_activity", -1.0), model=model, features=features,
                cutoff=cutoff, validation_cutoff=validation_cutoff, sample=sample)


def churn(base: ContactBase, horizon: Any = "90 days", *, model: Any = None,
          features: Sequence[str] | None = None, cutoff: Any = None,
          validation_cutoff: Any = None, sample: int | None = 200_000) -> PropensityModel:
    """Probability that a past buyer makes no purchase within ``horizon``.

    Only contacts with at least one purchase at or before each cutoff are trained on,
    validated on and scored; ``scores`` (named ``"churn_risk"``) is NaN for the others. The
    baseline is the time since the last purchase. Parameters are those of
    :func:`propensity`.

    Examples
    --------
    >>> import segexplore as se
    >>> base = se.load_sample()
    >>> risk = churn(base)
    >>> buyers = base.features["purchases_total"] > 0
    >>> bool(risk.scores[buyers].notna().all() and risk.scores[~buyers].isna().all())
    True
    """
    def buyers(b: ContactBase, date: pd.Timestamp) -> np.ndarray:
        return _exists_at(b, date) & (b.activity.count("purchase", end=date) > 0)

    def label(b: ContactBase, start: pd.Timestamp, end: pd.Timestamp) -> np.ndarray:
        return b.activity.count("purchase", start=start, end=end) == 0

    return _fit(base, name="churn_risk",
                description=f"probability that a past buyer makes no purchase within {horizon}",
                horizon=horizon, label=label, population=buyers,
                baseline=("days_since_last_purchase", 1.0), model=model, features=features,
                cutoff=cutoff, validation_cutoff=validation_cutoff, sample=sample)


def add_scores(base: ContactBase, *scores: pd.Series | pd.DataFrame,
               **named: pd.Series) -> ContactBase:
    """A base whose contacts table has extra per-contact columns that rules can use.

    The new base shares the events, orders, activity table, features and report of
    ``base`` and gets a copy of its saved segments; ``base`` itself is not changed.

    Parameters
    ----------
    *scores : Series or DataFrame
        Named Series, indexed like ``base.contacts`` or by ``contact_id`` (contacts absent
        from it get NaN). ``PropensityModel.scores`` and ``Discovery.labels`` qualify. A
        DataFrame adds each of its columns (``CustomerValue.scores`` from
        :func:`segexplore.ml.clv.clv`).
    **named : Series
        The same, under the keyword's name.

    Examples
    --------
    >>> import segexplore as se
    >>> base = se.load_sample()
    >>> risk = churn(base)
    >>> scored = add_scores(base, risk.scores)
    >>> seg = scored.segment("churn_risk >= 0.9 and revenue_365d > 100")
    >>> seg.size <= scored.count("churn_risk >= 0.9")
    True
    """
    from segexplore.features.registry import FEATURES
    from segexplore.model.roles import Roles

    columns: dict[str, pd.Series] = {}
    for series in scores:
        if isinstance(series, pd.DataFrame):  # several scores at once, one per column
            columns.update({str(name): series[name] for name in series.columns})
            continue
        if series.name is None:
            raise ParameterError("a score passed by position needs a name (series.name)")
        columns[str(series.name)] = series
    columns.update(named)
    if base.engine != "pandas":  # a base held in DuckDB: scores by contact id or position
        ids = base.contact_ids
        return base.with_contact_columns({
            column: (series.to_numpy() if series.index.equals(pd.RangeIndex(len(ids)))
                     else series.reindex(ids).to_numpy())
            for column, series in columns.items()})
    contacts = base.contacts
    assigned = {}
    roles = dict(base.roles.roles)
    for column, series in columns.items():
        if column in FEATURES or column == "contact_id":
            raise ParameterError(f"{column!r} is a behaviour feature or the id; name the score "
                                 f"differently")
        if series.index.equals(contacts.index):
            values = series.to_numpy()
        else:  # indexed by contact id
            values = series.reindex(contacts["contact_id"].to_numpy()).to_numpy()
        assigned[column] = values
        roles[column] = "numeric" if pd.api.types.is_numeric_dtype(series.dtype) else "categorical"
    return base.with_contact_columns(assigned, roles=Roles(roles, dict(base.roles.separators)))
