"""Customer value: BG/NBD repeat purchases and Gamma-Gamma spend, validated on a holdout.

The timeline, for the base seen as of ``T`` (``base.as_of``) and a calibration end ``c``
(default ``T - horizon``)::

    calibration: purchases up to c (inclusive)  -> summary table -> fit (BG/NBD, Gamma-Gamma)
    holdout:     purchases in (c, T]             -> compared with what the fit predicted
    scores:      purchases up to T, same fitted parameters -> p_alive, expected purchases, CLV

The models come from PyMC-Marketing (``pymc_marketing.clv.BetaGeoModel``, or its
``ModifiedBetaGeoModel`` and ``ParetoNBDModel``, and ``GammaGammaModel``, fitted by maximum a
posteriori), installed with the optional extra
``pip install 'segexplore[clv]'``; no likelihood is written here. This module only builds the
standard summary table from the purchases, vectorised over every contact, and keeps the
bookkeeping: which purchases each step may see, the naive baseline, the validation tables.

Summary definitions (Fader, Hardie & Lee 2005, as in ``lifetimes``/PyMC-Marketing's
``rfm_summary``): purchases are counted by calendar **day** (several orders on one day are
one purchase occasion, their amounts summed); ``frequency`` is the number of repeat purchase
days (days with a purchase, minus the first), ``recency`` the time from the first to the last
purchase day, ``T`` the time from the first purchase day to the end day, ``monetary_value``
the mean value of the repeat purchase days (0 without repeat). Times are in ``time_unit``.

Nothing after ``c`` reaches the fit: the calibration summary is computed from the purchases
with ``t <= c`` only (``tests/ml/test_clv.py`` adds huge orders after ``c`` and checks that the
summary, the parameters and the predictions do not move).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from html import escape
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from segexplore.errors import ValidationError, closest_name
from segexplore.features.times import to_naive_ns

if TYPE_CHECKING:
    from segexplore.model.base import ContactBase

__all__ = ["CustomerValue", "clv", "purchase_summary", "SCORE_DEFINITIONS", "TIME_UNIT_DAYS",
           "TRANSACTION_MODELS"]

#: Length of each accepted ``time_unit`` in days (a month is a twelfth of 365.25 days).
TIME_UNIT_DAYS = {"days": 1.0, "weeks": 7.0, "months": 365.25 / 12}


@dataclass(frozen=True)
class _TransactionModel:
    """A repeat-purchase model of PyMC-Marketing: its class, parameters and display name."""

    library_class: str
    params: tuple[str, ...]
    title: str


#: Transaction models accepted by :func:`clv` (the library's models for non-contractual,
#: continuous-time purchases; all take frequency, recency and T).
TRANSACTION_MODELS = {
    "bgnbd": _TransactionModel("BetaGeoModel", ("r", "alpha", "a", "b"), "BG/NBD"),
    # a customer may also leave right after the first purchase (Batislam et al. 2007)
    "mbgnbd": _TransactionModel("ModifiedBetaGeoModel", ("r", "alpha", "a", "b"), "MBG/NBD"),
    # dropout at any moment, not only after a purchase (Schmittlein, Morrison & Colombo 1987)
    "pareto_nbd": _TransactionModel("ParetoNBDModel", ("r", "alpha", "s", "beta"),
                                    "Pareto/NBD"),
}
MODELS = tuple(TRANSACTION_MODELS)
SPEND_MODELS = ("gamma_gamma",)

#: One-sentence definition of each score column (``docs/clv.md`` explains them at length).
SCORE_DEFINITIONS = {
    "p_alive": "probability that the customer has not dropped out, given their frequency, "
               "recency and T as of as_of; 1 for a single purchase in the BG/NBD",
    "expected_purchases_<h>": "expected number of repeat purchase days in (as_of, as_of + h]",
    "expected_order_value": "expected value of one future purchase day (Gamma-Gamma): the "
                            "customer's own mean repeat value shrunk towards the population "
                            "mean, the population mean without repeat purchases",
    "predicted_clv_<h>": "expected_order_value x expected purchase days in (as_of, as_of + h], "
                         "discounted month by month at discount_rate a year",
}

_NS_PER_DAY = pd.Timedelta(days=1).value
_NAT = np.iinfo(np.int64).min
_PUBLISHED_NOTE = "Fader, Hardie & Lee (2005), CDNOW sample, 39 weeks, weekly units"
#: Maximum-likelihood estimates published for the CDNOW sample (BG/NBD; Gamma-Gamma from
#: Fader & Hardie 2013, "The Gamma-Gamma model of monetary value").
CDNOW_PUBLISHED = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426,
                   "p": 6.25, "q": 3.74, "v": 15.44}
#: Pareto/NBD maximum-likelihood estimates on the same data (Fader, Hardie & Lee 2005, "A
#: note on implementing the Pareto/NBD model in MATLAB").
CDNOW_PUBLISHED_PARETO = {"r": 0.5533, "alpha": 10.5776, "s": 0.6061, "beta": 11.6650}


# --------------------------------------------------------------------------- summary table

def _unit_days(time_unit: str) -> float:
    if time_unit not in TIME_UNIT_DAYS:
        guess = closest_name(str(time_unit), TIME_UNIT_DAYS)
        hint = f"; did you mean {guess!r}?" if guess else ""
        raise ValidationError(f"time_unit must be one of {', '.join(TIME_UNIT_DAYS)}, "
                              f"not {time_unit!r}{hint}")
    return TIME_UNIT_DAYS[time_unit]


def _day(stamp: pd.Timestamp) -> int:
    """Calendar day number of a timestamp (naive UTC, as the activity table stores them)."""
    return int(to_naive_ns(pd.Series([pd.Timestamp(stamp)]))[0] // _NS_PER_DAY)


def _purchase_days(base: ContactBase, end: pd.Timestamp
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One row per (contact, calendar day) with a purchase at or before ``end``.

    Returns ``(position, day, value)`` sorted by position then day; ``value`` is the sum of
    the known amounts of that day (NaN when no order of the day has an amount).
    """
    activity = base.activity
    if activity.n_events("purchase") == 0:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty, np.empty(0)
    lo, hi = activity.window_bounds("purchase", None, end)
    part = activity._slice("purchase")
    positions = part.positions[lo:hi].astype(np.int64)
    days = part.times[lo:hi] // _NS_PER_DAY
    if "amount" in activity.property_names("purchase"):
        amounts = activity._float_values("purchase", "amount")[lo:hi]
    else:
        amounts = np.full(hi - lo, np.nan)
    if not len(days):
        return positions, days, amounts
    first = int(days.min())
    span = int(days.max()) - first + 1
    keys, inverse = np.unique(positions * span + (days - first), return_inverse=True)
    known = ~np.isnan(amounts)
    totals = np.bincount(inverse, weights=np.where(known, amounts, 0.0), minlength=len(keys))
    n_known = np.bincount(inverse, weights=known, minlength=len(keys))
    values = np.where(n_known > 0, totals, np.nan)
    return keys // span, keys % span + first, values


def purchase_summary(base: ContactBase, end: Any = None, time_unit: str = "days"
                     ) -> pd.DataFrame:
    """Frequency, recency, T and monetary value of every buyer, from purchases up to ``end``.

    Parameters
    ----------
    base : ContactBase
        Purchases are the base's purchase events, or its orders when the events hold none
        (as for the behaviour features).
    end : date-like, optional
        Purchases with ``t <= end`` are used; default ``base.as_of``. ``T`` runs to the
        calendar day of ``end``.
    time_unit : {"days", "weeks", "months"}
        Unit of ``recency`` and ``T`` (days divided by 1, 7 or 365.25 / 12).

    Returns
    -------
    DataFrame
        One row per contact with at least one purchase, indexed like ``base.contacts``:
        ``contact_id``, ``frequency`` (repeat purchase days), ``recency``, ``T``,
        ``monetary_value`` (mean value of the repeat days with a known amount, 0 without
        repeat), ``monetary_count`` (how many repeat days have a known amount),
        ``first_value`` (value of the first purchase day) and ``mean_value`` (mean value of
        all purchase days, the naive baseline's spend).

    Examples
    --------
    >>> import pandas as pd
    >>> import segexplore as se
    >>> contacts = pd.DataFrame({"contact_id": [1, 2, 3], "email": ["a@x.fr", "b@x.fr", "c@x.fr"]})
    >>> orders = pd.DataFrame({"order_id": [1, 2, 3, 4], "contact_id": [1, 1, 1, 2],
    ...     "timestamp": pd.to_datetime(["2026-01-01 09:00", "2026-01-01 18:00",
    ...                                  "2026-01-08 00:00", "2026-01-05 00:00"]),
    ...     "amount": [10.0, 5.0, 30.0, 12.0]})
    >>> base = se.read_base(contacts, orders=orders, clean=False, as_of="2026-01-15")
    >>> purchase_summary(base)[["contact_id", "frequency", "recency", "T", "monetary_value"]]
       contact_id  frequency  recency     T  monetary_value
    0           1          1      7.0  14.0            30.0
    1           2          0      0.0  10.0             0.0
    """
    end = base.as_of if end is None else pd.Timestamp(end)
    unit = _unit_days(time_unit)
    positions, days, values = _purchase_days(base, end)
    n = len(base.contacts)
    counts = np.bincount(positions, minlength=n)
    buyers = np.flatnonzero(counts)
    starts = (np.cumsum(counts[buyers]) - counts[buyers]).astype(np.int64)  # rows by position
    ends = starts + counts[buyers] - 1
    first_day, last_day = days[starts], days[ends]
    repeat = np.ones(len(days), dtype=bool)
    repeat[starts] = False
    known_repeat = repeat & ~np.isnan(values)
    repeat_total = np.bincount(positions[known_repeat], weights=values[known_repeat],
                               minlength=n)[buyers]
    repeat_known = np.bincount(positions[known_repeat], minlength=n)[buyers]
    known = ~np.isnan(values)
    all_total = np.bincount(positions[known], weights=values[known], minlength=n)[buyers]
    all_known = np.bincount(positions[known], minlength=n)[buyers]
    with np.errstate(invalid="ignore", divide="ignore"):
        monetary = np.where(repeat_known > 0, repeat_total / np.maximum(repeat_known, 1), 0.0)
        mean_value = np.where(all_known > 0, all_total / np.maximum(all_known, 1), np.nan)
    end_day = _day(end)
    frame = pd.DataFrame({
        "contact_id": base.contacts["contact_id"].to_numpy()[buyers],
        "frequency": counts[buyers] - 1,
        "recency": (last_day - first_day) / unit,
        "T": (end_day - first_day) / unit,
        "monetary_value": monetary,
        "monetary_count": repeat_known,
        "first_value": values[starts],
        "mean_value": mean_value,
    }, index=base.contacts.index[buyers])
    frame.attrs.update(end=end, time_unit=time_unit)
    return frame


# --------------------------------------------------------------------------- the library

def _library():
    """PyMC-Marketing's CLV module, or an ImportError saying how to install it."""
    try:
        with warnings.catch_warnings():  # arviz and pymc announce API changes on import
            warnings.simplefilter("ignore")
            from pymc_marketing import clv as library
    except ImportError as error:
        raise ImportError("segexplore.clv needs PyMC-Marketing: pip install "
                          "'segexplore[clv]' (or pip install pymc-marketing)") from error
    return library


def _prior_config(priors: Any, names: tuple[str, ...]) -> dict | None:
    """``model_config`` for the library: None (its defaults), flat priors, or the user's."""
    if priors is None or priors == "default":
        return None
    if priors == "flat":
        from pymc_extras.prior import Prior

        # improper flat priors on (0, inf): the maximum a posteriori is the maximum likelihood
        return {name: Prior("HalfFlat") for name in names}
    if isinstance(priors, Mapping):
        chosen = {name: priors[name] for name in names if name in priors}
        return chosen or None
    raise ValidationError(f"priors must be 'default', 'flat' or a mapping of parameter name "
                          f"to pymc_extras Prior, not {priors!r}")


def _point(values) -> np.ndarray:
    """A (chain, draw, customer_id) prediction as one number per customer (posterior mean)."""
    dims = [d for d in ("chain", "draw") if d in values.dims]
    return np.asarray(values.mean(dims).values if dims else values.values, dtype=np.float64)


def _by_customer(values, ids: np.ndarray) -> np.ndarray:
    """Align a library prediction with ``ids``: xarray may reorder customers when merging."""
    dims = [d for d in ("chain", "draw") if d in values.dims]
    point = values.mean(dims) if dims else values
    order = pd.Index(np.asarray(point["customer_id"].values)).get_indexer(ids)
    return np.asarray(point.values, dtype=np.float64)[order]


def _fit_quietly(model, data: pd.DataFrame) -> None:
    import logging

    logger = logging.getLogger("pymc")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(data=data, method="map", progressbar=False)
    finally:
        logger.setLevel(level)


def _check_fit(title: str, params: dict[str, float], priors: Any,
               *predictions: np.ndarray) -> None:
    """Refuse a fit whose parameters or predictions are not usable numbers.

    A likelihood can be maximised at the edge of the parameter space. Some edges are
    meaningful limits: customers who all buy at one rhythm push r and alpha to infinity
    with a finite rate r / alpha, and nobody leaving pushes ``a`` to 0; the library still
    predicts from those. Others are not: the Pareto/NBD with flat priors on the bundled
    sample ends at r ~ 1e101 and alpha = 0, and the BG/NBD with flat priors on the rhythm
    case predicts NaN. Those are refused here rather than scored.
    """
    bad = {name: value for name, value in params.items()
           if not (math.isfinite(value) and value > 0)}
    broken = sum(int((~np.isfinite(values)).sum()) for values in predictions)
    if bad or broken:
        shown = bad or params
        found = ", ".join(f"{name}={value:.3g}" for name, value in shown.items())
        what = (f"{broken:,} predictions are not numbers" if broken
                else "parameters at the edge of their range")
        advice = ("fit with the default priors (priors='default'), which keep the "
                  "parameters in range" if priors == "flat" else
                  "try another model or tighter priors")
        raise ValidationError(f"the {title} fit cannot be used ({what}; {found}): the "
                              f"likelihood has no usable maximum on this data; {advice}")


def _params(model, names: tuple[str, ...]) -> dict[str, float]:
    result = model.fit_result
    return {name: float(np.asarray(result[name].values).mean()) for name in names}


# --------------------------------------------------------------------------- horizons

def _horizon(horizon: Any, as_of: pd.Timestamp) -> tuple[float, str]:
    """A horizon as a number of days from ``as_of`` and its label: "90 days" -> (90, "90d")."""
    from segexplore.rules import nodes as R
    from segexplore.rules.windows import duration_offset

    if isinstance(horizon, str):
        duration = R.Duration.parse(horizon)
        offset = duration_offset(duration)
        days = ((as_of + offset) - as_of) / pd.Timedelta(days=1)
        return float(days), f"{duration.amount}{duration.unit[0]}"
    if isinstance(horizon, (int, float, np.integer, np.floating)) and not isinstance(horizon,
                                                                                     bool):
        days = float(horizon)
    else:
        days = pd.Timedelta(horizon) / pd.Timedelta(days=1)
    if not days > 0:
        raise ValidationError(f"a horizon must be positive, not {horizon!r}")
    return days, f"{days:g}d"


# --------------------------------------------------------------------------- the model

@dataclass(eq=False, repr=False)
class CustomerValue:
    """A fitted repeat-purchase model (+ Gamma-Gamma): parameters, validation and scores.

    Attributes
    ----------
    model : str
        The transaction model: ``"bgnbd"`` (default), ``"mbgnbd"`` or ``"pareto_nbd"``.
    params : Series
        ``r``, ``alpha``, ``a``, ``b`` (BG/NBD and MBG/NBD; ``r``, ``alpha``, ``s``, ``beta``
        for the Pareto/NBD; ``alpha`` and ``beta`` in ``time_unit``) and ``p``, ``q``, ``v``
        (Gamma-Gamma) fitted on the calibration summary.
    summary : DataFrame
        The table the models were fitted on: one row per contact who bought at or before
        ``calibration_end`` (see :func:`purchase_summary`).
    current : DataFrame
        The same table as of ``base.as_of``: what the scores are computed from.
    scores : DataFrame
        Indexed like ``base.contacts``: ``p_alive``, ``expected_purchases_<h>`` for each
        horizon, ``expected_order_value`` and ``predicted_clv_<h>`` (NaN for contacts who
        never bought). ``se.add_scores(base, model.scores)`` makes them rule fields.
    holdout : DataFrame
        Per calibration customer: actual, predicted and naive repeat purchase days and value
        in the holdout period ``(calibration_end, as_of]``.
    validation : DataFrame
        MAE and Spearman correlation of the model and of the naive baseline (the past
        purchase rate carried forward), and the totals.
    by_frequency : DataFrame
        The calibration/holdout table: mean holdout purchases per calibration frequency.
    transaction_model, spend_model : pymc_marketing models
        The fitted library objects (``spend_model`` is None when ``spend=None``).
    """

    base: ContactBase
    model: str
    spend: str | None
    time_unit: str
    calibration_end: pd.Timestamp
    horizon_days: float
    horizon_label: str
    purchase_horizons: list[tuple[float, str]]
    discount_rate: float
    transaction_model: Any
    spend_model: Any
    summary: pd.DataFrame
    current: pd.DataFrame
    params: pd.Series
    notes: list[str] = field(default_factory=list)
    scores: pd.DataFrame = field(init=False)
    holdout: pd.DataFrame = field(init=False)
    validation: pd.DataFrame = field(init=False)
    by_frequency: pd.DataFrame = field(init=False)

    @property
    def as_of(self) -> pd.Timestamp:
        return self.base.as_of

    @property
    def unit_days(self) -> float:
        return TIME_UNIT_DAYS[self.time_unit]

    @property
    def holdout_days(self) -> float:
        """Length of the holdout in days, from the calibration end day to the as_of day."""
        return float(_day(self.as_of) - _day(self.calibration_end))

    @property
    def model_name(self) -> str:
        """The transaction model as written in the literature: "BG/NBD", "Pareto/NBD"..."""
        return TRANSACTION_MODELS[self.model].title

    @property
    def clv_column(self) -> str:
        return f"predicted_clv_{self.horizon_label}"

    # -- predictions from any summary table (vectorised: one library call per quantity) --
    def _library_frame(self, summary: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame({"customer_id": np.arange(len(summary)),
                             "frequency": summary["frequency"].to_numpy(dtype=np.float64),
                             "recency": summary["recency"].to_numpy(dtype=np.float64),
                             "T": summary["T"].to_numpy(dtype=np.float64)})

    def p_alive(self, summary: pd.DataFrame) -> np.ndarray:
        """Probability of being alive for each row of a summary table."""
        frame = self._library_frame(summary)
        if not len(frame):
            return np.empty(0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            values = self.transaction_model.expected_probability_alive(data=frame)
        return _by_customer(values, frame["customer_id"].to_numpy())

    def expected_purchases(self, summary: pd.DataFrame, days: float) -> np.ndarray:
        """Expected repeat purchase days in the next ``days`` days for each summary row."""
        frame = self._library_frame(summary)
        if not len(frame):
            return np.empty(0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            values = self.transaction_model.expected_purchases(
                data=frame, future_t=float(days) / self.unit_days)
        return _by_customer(values, frame["customer_id"].to_numpy())

    def expected_order_value(self, summary: pd.DataFrame) -> np.ndarray:
        """Expected value of one future purchase day for each summary row (Gamma-Gamma)."""
        if self.spend_model is None:
            return np.full(len(summary), np.nan)
        usable = ((summary["monetary_count"] > 0) & (summary["monetary_value"] > 0)).to_numpy()
        frame = pd.DataFrame({
            "customer_id": np.arange(len(summary)),
            # no usable repeat value: weight 0 on the customer, the population mean
            "frequency": np.where(usable, summary["monetary_count"], 0).astype(np.float64),
            "monetary_value": np.where(usable, summary["monetary_value"], 0.0)})
        if not len(frame):
            return np.empty(0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            values = self.spend_model.expected_customer_spend(data=frame)
        return _by_customer(values, frame["customer_id"].to_numpy())

    def predicted_value(self, summary: pd.DataFrame, days: float,
                        discount_rate: float | None = None) -> np.ndarray:
        """Expected value of the purchases in the next ``days`` days, discounted.

        With a positive yearly ``discount_rate`` the horizon is cut into steps of about a
        month; each step's expected purchases (difference of the cumulative expectation)
        are discounted by ``(1 + rate) ** (end of step in years)``.
        """
        rate = self.discount_rate if discount_rate is None else float(discount_rate)
        spend = self.expected_order_value(summary)
        if rate == 0:
            return spend * self.expected_purchases(summary, days)
        steps = max(1, round(days / (365.25 / 12)))
        total = np.zeros(len(summary))
        previous = np.zeros(len(summary))
        for k in range(1, steps + 1):  # a dozen vectorised calls, not a loop over contacts
            t = days * k / steps
            cumulative = self.expected_purchases(summary, t)
            total += (cumulative - previous) / (1.0 + rate) ** (t / 365.25)
            previous = cumulative
        return spend * total

    def p_alive_matrix(self, max_frequency: int | None = None, max_recency: float | None = None,
                       T: float | None = None, points: int = 40) -> pd.DataFrame:
        """P(alive) over a grid of frequency (rows) and recency (columns), at one ``T``.

        Defaults: frequencies up to the 99th percentile of the calibration summary, ``T``
        its largest value, recency from 0 to ``T`` (all in ``time_unit``).
        """
        summary = self.summary
        if T is None:
            T = float(summary["T"].max())
        if max_recency is None:
            max_recency = T
        if max_frequency is None:
            max_frequency = max(1, int(np.ceil(summary["frequency"].quantile(0.99))))
        recency = np.linspace(0.0, float(max_recency), points)
        frequency = np.arange(0, int(max_frequency) + 1)
        grid_f, grid_r = np.meshgrid(frequency, recency, indexing="ij")
        grid = pd.DataFrame({"frequency": grid_f.ravel(), "recency": grid_r.ravel(),
                             "T": float(T)})
        values = self.p_alive(grid).reshape(len(frequency), len(recency))
        matrix = pd.DataFrame(values, index=pd.Index(frequency, name="frequency"),
                              columns=pd.Index(np.round(recency, 3), name="recency"))
        matrix.attrs["T"] = float(T)
        return matrix

    # -- display --------------------------------------------------------------------------
    def _title(self) -> str:
        spend = " + Gamma-Gamma" if self.spend_model is not None else ""
        return f"{self.model_name}{spend}"

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v:.3g}" for k, v in self.params.items())
        row = self.validation.set_index("method")
        model, naive = row.iloc[0], row.iloc[1]
        return (f"CustomerValue({self._title()} fitted on {len(self.summary):,} customers "
                f"to {self.calibration_end:%Y-%m-%d}, {self.time_unit}: {params}; holdout "
                f"purchases MAE {model['purchases_mae']:.3f} vs naive "
                f"{naive['purchases_mae']:.3f}, value Spearman "
                f"{model['value_spearman']:.3f} vs {naive['value_spearman']:.3f})")

    def _repr_html_(self) -> str:
        params = self.params.to_frame("value").T.to_html(float_format=lambda v: f"{v:.4g}")
        validation = self.validation.to_html(index=False, float_format=lambda v: f"{v:.3f}",
                                             na_rep="")
        table = self.by_frequency.to_html(index=False, float_format=lambda v: f"{v:.3f}")
        notes = "".join(f"<li>{escape(n)}</li>" for n in self.notes)
        return (f"<div><strong>{escape(self._title())}</strong> fitted on "
                f"{len(self.summary):,} customers, calibration to "
                f"{self.calibration_end:%Y-%m-%d}, holdout to {self.as_of:%Y-%m-%d} "
                f"({escape(self.time_unit)}){params}{validation}"
                f"<details><summary>holdout purchases by calibration frequency</summary>"
                f"{table}</details>{'<ul>' + notes + '</ul>' if notes else ''}</div>")


def _spearman(x: np.ndarray, y: np.ndarray) -> float:
    from scipy.stats import spearmanr

    if len(x) < 2 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan")
    return float(spearmanr(x, y).statistic)


def _top_share(predicted: np.ndarray, actual: np.ndarray, share: float = 0.1) -> float:
    """Share of the actual total bought by the top ``share`` of customers by prediction.

    Ties at the threshold are ordered by position (as the deciles of the propensity
    tables), so exactly ``ceil(share * n)`` customers are counted.
    """
    total = float(actual.sum())
    if not len(actual) or total == 0 or np.isnan(predicted).all():
        return float("nan")
    k = math.ceil(len(actual) * share)
    top = np.argsort(-np.nan_to_num(predicted, nan=-np.inf), kind="stable")[:k]
    return float(actual[top].sum()) / total


def _validate(fitted: CustomerValue) -> None:
    """Holdout table, metrics and frequency buckets (fills the model's validation fields)."""
    base, cal = fitted.base, fitted.summary
    days = fitted.holdout_days
    later = purchase_summary(base, base.as_of, fitted.time_unit).reindex(cal.index)
    # repeat purchase days in the holdout: days seen by as_of minus days seen by the end of
    # calibration (a day straddling the calibration end counts once, in calibration)
    actual = (later["frequency"] - cal["frequency"]).to_numpy(dtype=np.float64)
    positions = base.contacts.index.get_indexer(cal.index)
    spent = base.activity.aggregate("purchase", "amount", "sum", start=fitted.calibration_end,
                                    end=base.as_of)[positions] \
        if "amount" in base.activity.property_names("purchase") else np.zeros(len(cal))
    predicted = fitted.expected_purchases(cal, days)
    T = cal["T"].to_numpy(dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(T > 0, cal["frequency"].to_numpy() / np.where(T > 0, T, 1.0), 0.0)
    naive = rate * days / fitted.unit_days
    naive_value = naive * np.nan_to_num(cal["mean_value"].to_numpy(), nan=0.0)
    predicted_value = (fitted.predicted_value(cal, days, discount_rate=0.0)
                       if fitted.spend_model is not None else np.full(len(cal), np.nan))
    fitted.holdout = pd.DataFrame({
        "contact_id": cal["contact_id"].to_numpy(),
        "frequency": cal["frequency"].to_numpy(), "recency": cal["recency"].to_numpy(),
        "T": T, "actual_purchases": actual, "predicted_purchases": predicted,
        "naive_purchases": naive, "actual_value": spent, "predicted_value": predicted_value,
        "naive_value": naive_value}, index=cal.index)
    rows = []
    repeat = cal["frequency"].to_numpy() > 0
    for method, purchases, value in (("model", predicted, predicted_value),
                                     ("naive", naive, naive_value)):
        rows.append({"method": method,
                     "purchases_mae": float(np.mean(np.abs(purchases - actual))),
                     "purchases_spearman": _spearman(purchases, actual),
                     "value_mae": float(np.mean(np.abs(value - spent))),
                     "value_spearman": _spearman(value, spent),
                     # the naive rate ties every one-time buyer at 0: ranks among repeaters
                     "value_spearman_repeat": _spearman(value[repeat], spent[repeat]),
                     "top10_value_share": _top_share(value, spent),
                     "total_purchases": float(purchases.sum()), "total_value": float(value.sum())})
    rows.append({"method": "actual", "total_purchases": float(actual.sum()),
                 "total_value": float(spent.sum())})
    fitted.validation = pd.DataFrame(rows)
    top = 7
    bucket = np.minimum(cal["frequency"].to_numpy(), top)
    table = pd.DataFrame({"bucket": bucket, "actual": actual, "model": predicted,
                          "naive": naive}).groupby("bucket").agg(
        customers=("actual", "size"), actual=("actual", "mean"), model=("model", "mean"),
        naive=("naive", "mean")).reset_index()
    table.insert(0, "frequency", [f"{b}+" if b == top else str(b) for b in table["bucket"]])
    fitted.by_frequency = table.drop(columns="bucket")


def clv(base: ContactBase, model: str = "bgnbd", spend: str | None = "gamma_gamma",
        calibration_end: Any = None, horizon: Any = "365 days", time_unit: str = "days", *,
        purchase_horizons: Any = ("90 days",), discount_rate: float = 0.0,
        priors: Any = "default") -> CustomerValue:
    """Fit BG/NBD (or MBG/NBD, Pareto/NBD) and Gamma-Gamma, validate and score every contact.

    Parameters
    ----------
    base : ContactBase
        Its purchases (purchase events, or orders) with their ``amount``.
    model : {"bgnbd", "mbgnbd", "pareto_nbd"}
        The repeat-purchase model, from PyMC-Marketing: ``BetaGeoModel`` (BG/NBD, the
        default), ``ModifiedBetaGeoModel`` (MBG/NBD: a customer may also leave right after
        the first purchase, so one-time buyers are not all alive) or ``ParetoNBDModel``
        (Pareto/NBD: dropout at any moment).
    spend : {"gamma_gamma"} or None
        The spend model (``GammaGammaModel``); None: no order value and no CLV score.
    calibration_end : date-like, optional
        Last moment of the calibration period the models are fitted on; the holdout is
        ``(calibration_end, base.as_of]``. Default ``base.as_of - horizon``.
    horizon : str, Timedelta or number of days, default "365 days"
        Horizon of ``predicted_clv_<h>`` (and of ``expected_purchases_<h>``).
    time_unit : {"days", "weeks", "months"}, default "days"
        Unit of recency, T and of the ``alpha`` parameter.
    purchase_horizons : sequence, default ("90 days",)
        Further ``expected_purchases_<h>`` scores.
    discount_rate : float, default 0
        Yearly discount rate of the CLV (0.1 = 10 % a year), applied month by month.
    priors : "default", "flat" or mapping
        The library's default priors (MAP with weakly informative priors), flat priors on
        every parameter (the MAP is then the maximum-likelihood estimate), or a mapping of
        parameter name to a ``pymc_extras.prior.Prior``.

    Returns
    -------
    CustomerValue

    Examples
    --------
    >>> import segexplore as se
    >>> base = se.load_sample()
    >>> value = se.clv(base)
    >>> sorted(value.params.index)
    ['a', 'alpha', 'b', 'p', 'q', 'r', 'v']
    >>> list(value.scores.columns)
    ['p_alive', 'expected_purchases_90d', 'expected_purchases_365d', 'expected_order_value', 'predicted_clv_365d']
    >>> scored = se.add_scores(base, value.scores)
    >>> scored.count("predicted_clv_365d in top 10%") >= 0.1 * len(value.current)
    True
    """
    library = _library()
    if model not in MODELS:
        guess = closest_name(str(model), MODELS)
        raise ValidationError(f"unknown model {model!r}" + (f"; did you mean {guess!r}?"
                                                             if guess else "")
                              + f" (known: {', '.join(MODELS)})")
    if spend is not None and spend not in SPEND_MODELS:
        guess = closest_name(str(spend), SPEND_MODELS)
        raise ValidationError(f"unknown spend model {spend!r}" + (f"; did you mean {guess!r}?"
                                                                   if guess else "")
                              + f" (known: {', '.join(SPEND_MODELS)}, or None)")
    _unit_days(time_unit)  # an unknown unit fails here, with a suggestion
    if not (isinstance(discount_rate, (int, float)) and math.isfinite(discount_rate)
            and discount_rate >= 0):
        raise ValidationError(f"discount_rate must be a yearly rate >= 0 (0.1 = 10 % a "
                              f"year), not {discount_rate!r}")
    as_of = base.as_of
    horizon_days, horizon_label = _horizon(horizon, as_of)
    if isinstance(purchase_horizons, str):
        purchase_horizons = [purchase_horizons]
    horizons = [_horizon(h, as_of) for h in purchase_horizons]
    if horizon_label not in [label for _, label in horizons]:
        horizons.append((horizon_days, horizon_label))
    if calibration_end is None:
        cal_end = as_of - pd.Timedelta(days=horizon_days)
    else:
        cal_end = pd.Timestamp(calibration_end)
        if cal_end.tzinfo is not None:
            cal_end = cal_end.tz_convert("UTC").tz_localize(None)
    if _day(cal_end) >= _day(as_of):
        raise ValidationError(f"calibration_end {cal_end} leaves no holdout day before as_of "
                              f"{as_of}; move it earlier")
    summary = purchase_summary(base, cal_end, time_unit)
    if len(summary) == 0:
        raise ValidationError(f"no purchase at or before calibration_end {cal_end:%Y-%m-%d}: "
                              f"clv needs orders (or purchase events) in the calibration "
                              f"period; move calibration_end later")
    if int((summary["frequency"] > 0).sum()) == 0:
        raise ValidationError(f"none of the {len(summary):,} customers of the calibration "
                              f"period (to {cal_end:%Y-%m-%d}) bought on two different days: "
                              f"{TRANSACTION_MODELS[model].title} cannot be fitted without "
                              f"repeat purchases")
    usable = (summary["monetary_count"] > 0) & (summary["monetary_value"] > 0)
    if spend is not None and int(usable.sum()) < 2:
        raise ValidationError("the Gamma-Gamma spend model needs repeat purchases with a "
                              "positive amount from at least two customers; pass "
                              "spend=None to score purchases only")
    notes: list[str] = []
    spec = TRANSACTION_MODELS[model]
    transactions = getattr(library, spec.library_class)(
        model_config=_prior_config(priors, spec.params))
    frame = pd.DataFrame({"customer_id": np.arange(len(summary)),
                          "frequency": summary["frequency"].to_numpy(dtype=np.float64),
                          "recency": summary["recency"].to_numpy(dtype=np.float64),
                          "T": summary["T"].to_numpy(dtype=np.float64)})
    _fit_quietly(transactions, frame)
    params = _params(transactions, spec.params)
    _check_fit(spec.title, params, priors)
    spend_model = None
    if spend is not None:
        repeat = summary["frequency"] > 0
        left_out = int((repeat & ~usable).sum())
        if left_out:
            notes.append(f"{left_out:,} repeat customers have no positive repeat value (no "
                         f"amount, or refunds): left out of the Gamma-Gamma fit, valued at "
                         f"the population mean")
        spend_frame = pd.DataFrame({
            "customer_id": np.arange(int(usable.sum())),
            "frequency": summary.loc[usable, "monetary_count"].to_numpy(dtype=np.float64),
            "monetary_value": summary.loc[usable, "monetary_value"].to_numpy(dtype=np.float64)})
        spend_model = library.GammaGammaModel(model_config=_prior_config(priors,
                                                                         ("p", "q", "v")))
        _fit_quietly(spend_model, spend_frame)
        spend_params = _params(spend_model, ("p", "q", "v"))
        _check_fit("Gamma-Gamma", spend_params, priors)
        params.update(spend_params)
        varied = len(spend_frame) > 2 and all(
            np.ptp(spend_frame[c]) > 0 for c in ("frequency", "monetary_value"))
        if varied:
            corr = np.corrcoef(spend_frame["frequency"], spend_frame["monetary_value"])[0, 1]
            notes.append(f"Gamma-Gamma assumes spend independent of frequency: their "
                         f"correlation among repeat customers is {corr:.2f}")
        if params["q"] <= 1:
            notes.append("q <= 1: the population mean order value is undefined (very heavy "
                         "tail); order values and CLV are not reliable")
    fitted = CustomerValue(
        base=base, model=model, spend=spend, time_unit=time_unit, calibration_end=cal_end,
        horizon_days=horizon_days, horizon_label=horizon_label, purchase_horizons=horizons,
        discount_rate=float(discount_rate), transaction_model=transactions,
        spend_model=spend_model, summary=summary,
        current=purchase_summary(base, as_of, time_unit),
        params=pd.Series(params, name="params"), notes=notes)
    _validate(fitted)
    _check_fit(spec.title, {name: params[name] for name in spec.params}, priors,
               fitted.holdout["predicted_purchases"].to_numpy())
    current = fitted.current
    columns: dict[str, np.ndarray] = {"p_alive": fitted.p_alive(current)}
    for days, label in horizons:
        columns[f"expected_purchases_{label}"] = fitted.expected_purchases(current, days)
    if spend_model is not None:
        columns["expected_order_value"] = fitted.expected_order_value(current)
        columns[fitted.clv_column] = fitted.predicted_value(current, horizon_days)
    scores = pd.DataFrame(np.nan, index=base.contacts.index, columns=list(columns))
    for name, values in columns.items():
        scores.loc[current.index, name] = values
    fitted.scores = scores
    return fitted
