"""A/B and holdout tests on conversion rates and revenue: per-variant results, tests
against control with Holm's correction, sizes and detectable effects before sending.

:func:`ab_test` takes who got which variant (an export split's ``contact_id, group`` table,
a variant plan's ``contact_id, variant``, a Series or a column) and whether each contact
converted (an event within some days of the send, computed from the base's events, or a
boolean column), and reports:

* per variant: ``n``, ``conversions``, ``rate`` and its Wilson confidence interval, and,
  with ``revenue=``, the revenue and the revenue per recipient;
* per variant against the control: the difference (with a Wald interval), the relative
  lift, the pooled two-proportion z-test, the chi-square test of the 2x2 table (the same
  p-value as the z-test without Yates' correction; with it when ``yates=True``) and
  Fisher's exact test, which is the one reported when an expected count is below 5; with
  ``revenue=``, the difference in revenue per recipient and its z-test (Welch standard
  error: a large-sample test, fit for campaign-sized groups).

Several variants against one control are several tests: at ``alpha = 0.05`` one in twenty
comparisons of identical variants comes out significant. So the p-values are adjusted with
Holm's step-down correction (``correction="holm"``, the default; ``"none"`` to turn it off)
and ``significant`` reads the adjusted p-value; with one variant and a control it changes
nothing.

:func:`sample_size` gives the contacts needed per group to detect a lift, and
:func:`minimum_detectable_effect` / :func:`detectable_effects` the lift each variant's size
can detect, before sending.
"""

from __future__ import annotations

import math
from html import escape
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

from segexplore.errors import ParameterError

if TYPE_CHECKING:
    from segexplore.model.base import ContactBase

__all__ = ["ABResult", "ab_test", "sample_size", "minimum_detectable_effect",
           "detectable_effects", "holm", "OUTCOMES", "CORRECTIONS"]

#: Outcome words and the event type each one counts.
OUTCOMES = {"opened": "open", "clicked": "click", "purchased": "purchase", "visited": "visit",
            "added_to_cart": "add_to_cart"}
_CONTROL_NAMES = ("control", "holdout", "témoin", "temoin", "a")
#: The multiple-comparison corrections of :func:`ab_test`.
CORRECTIONS = ("holm", "none")


# -- inputs --------------------------------------------------------------------------------

def _is_base(obj: Any) -> bool:
    from segexplore.model.base import ContactBase

    return isinstance(obj, ContactBase)


def _by_contact(values: pd.Series, contacts: pd.DataFrame) -> pd.Series:
    """``values`` over the contacts' rows: indexed like the contacts, or by contact_id."""
    if values.index.equals(contacts.index):
        return values
    return pd.Series(values.reindex(contacts["contact_id"].to_numpy()).to_numpy(),
                     index=contacts.index, name=values.name)


def _assignment(base: ContactBase, assignment: Any) -> pd.Series:
    contacts = base.contacts
    if isinstance(assignment, str):
        return contacts[assignment]
    if isinstance(assignment, pd.DataFrame):  # an export split: contact_id + one group column
        others = [c for c in assignment.columns if c != "contact_id"]
        if "contact_id" not in assignment or len(others) != 1:
            raise ParameterError("an assignment table needs a contact_id column and one group "
                                 f"column, got {list(assignment.columns)}")
        assignment = assignment.set_index("contact_id")[others[0]]
    if not assignment.index.equals(contacts.index):
        if not assignment.index.is_unique:
            raise ParameterError("a contact appears twice in the assignment")
        unknown = ~assignment.index.isin(contacts["contact_id"])
        if unknown.any():
            raise ParameterError(f"{int(unknown.sum())} assigned contact ids are not in the base, "
                                 f"e.g. {assignment.index[unknown][0]!r}")
    return _by_contact(assignment, contacts)


def _event_outcome(base: ContactBase, outcome: str, start: Any, days: float | None) -> pd.Series:
    event_type = OUTCOMES.get(outcome, outcome)
    if start is None:
        raise ParameterError(f"outcome {outcome!r} is read from the events: give start= (the send "
                             f"date) and days= (how long after it a {event_type} counts)")
    start = pd.Timestamp(start)
    end = start + pd.Timedelta(days=days) if days is not None else base.as_of
    # events with start < t <= end, like every window of segexplore
    counts = base.activity.count(event_type, start=start, end=end)
    return pd.Series(counts > 0, index=base.contacts.index, name=outcome)


def _event_revenue(base: ContactBase, revenue: str, start: Any,
                   days: float | None) -> pd.Series:
    """``event_type.property`` summed per contact over the outcome's window."""
    event_type, _, prop = revenue.partition(".")
    if start is None:
        raise ParameterError(f"revenue {revenue!r} is read from the events: give start= (the "
                             "send date) and days=")
    start = pd.Timestamp(start)
    end = start + pd.Timedelta(days=days) if days is not None else base.as_of
    if prop not in base.activity.property_names(event_type):
        raise ParameterError(f"revenue {revenue!r}: the {event_type!r} events have no "
                             f"property {prop!r} (they have "
                             f"{base.activity.property_names(event_type)})")
    values = base.activity.aggregate(event_type, prop, "sum", start=start, end=end)
    return pd.Series(values, index=base.contacts.index, name=revenue)


def _revenue(data: Any, revenue: Any, start: Any, days: float | None,
             index: pd.Index) -> pd.Series | None:
    """Revenue per contact over ``index`` (missing: 0), or None without ``revenue``."""
    if revenue is None:
        return None
    if _is_base(data):
        if isinstance(revenue, str) and revenue not in data.contacts:
            if "." not in revenue:
                raise ParameterError(f"revenue {revenue!r} is neither a contact column nor "
                                     "an event property such as 'purchase.amount'")
            values = _event_revenue(data, revenue, start, days)
        else:
            raw = data.contacts[revenue] if isinstance(revenue, str) else revenue
            values = _by_contact(raw, data.contacts)
    else:
        values = data[revenue] if isinstance(revenue, str) else revenue
    values = pd.to_numeric(values.reindex(index), errors="coerce")
    return values.fillna(0.0).astype(float)


def _observations(data: Any, assignment: Any, outcome: Any, start: Any,
                  days: float | None) -> tuple[pd.Series, pd.Series, str]:
    """(group, converted) over the assigned rows, and the outcome's description."""
    if _is_base(data):
        groups = _assignment(data, assignment)
        if isinstance(outcome, str) and outcome not in data.contacts:
            converted = _event_outcome(data, outcome, start, days)
            event = OUTCOMES.get(outcome, outcome)
            until = f"{days:g} days" if days is not None else f"until {data.as_of:%Y-%m-%d}"
            described = f"{event} within {until} after {pd.Timestamp(start):%Y-%m-%d %H:%M}"
        else:
            raw = data.contacts[outcome] if isinstance(outcome, str) else outcome
            converted = _by_contact(raw, data.contacts)
            described = str(getattr(raw, "name", None) or "converted")
    else:
        frame = data
        groups = frame[assignment] if isinstance(assignment, str) else assignment
        converted = frame[outcome] if isinstance(outcome, str) else outcome
        converted = converted.reindex(groups.index)
        described = str(getattr(converted, "name", None) or "converted")
    assigned = groups.notna().to_numpy()
    if converted[assigned].isna().any():
        raise ParameterError("the outcome is missing for some assigned contacts")
    return (groups[assigned].astype(str), converted[assigned].astype(bool), described)


def _pick_control(variants: list[str], control: str | None) -> str:
    if control is not None:
        if control not in variants:
            raise ParameterError(f"control {control!r} is not a variant ({', '.join(variants)})")
        return control
    for name in _CONTROL_NAMES:
        for variant in variants:
            if variant.strip().lower() == name:
                return variant
    return variants[0]


# -- statistics ----------------------------------------------------------------------------

def _wilson(conversions: int, n: int, confidence: float) -> tuple[float, float]:
    if n == 0:
        return float("nan"), float("nan")
    ci = stats.binomtest(conversions, n).proportion_ci(confidence_level=confidence,
                                                        method="wilson")
    return float(ci.low), float(ci.high)


def _compare(x1: int, n1: int, x0: int, n0: int, alpha: float, yates: bool) -> dict[str, Any]:
    """Variant (x1 of n1) against control (x0 of n0)."""
    p1, p0 = x1 / n1, x0 / n0
    difference = p1 - p0
    z_crit = stats.norm.ppf(1 - alpha / 2)
    wald = math.sqrt(p1 * (1 - p1) / n1 + p0 * (1 - p0) / n0)
    pooled = (x1 + x0) / (n1 + n0)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n0))
    z = difference / se if se > 0 else float("nan")
    p_z = float(2 * stats.norm.sf(abs(z))) if se > 0 else 1.0
    table = np.array([[x1, n1 - x1], [x0, n0 - x0]])
    if 0 < x1 + x0 < n1 + n0:
        chi2, p_chi2, _, expected = stats.chi2_contingency(table, correction=yates)
        smallest = float(expected.min())
    else:  # nobody (or everybody) converted: nothing to test
        chi2, p_chi2, smallest = 0.0, 1.0, 0.0
    p_fisher = float(stats.fisher_exact(table).pvalue)
    if smallest < 5:
        test, p_value = "fisher", p_fisher
    else:
        test, p_value = ("chi-square (Yates)", float(p_chi2)) if yates else ("z-test", p_z)
    return {"difference": difference, "difference_low": difference - z_crit * wald,
            "difference_high": difference + z_crit * wald,
            "relative_lift": difference / p0 if p0 > 0 else float("nan"),
            "z": z, "p_value_z": p_z, "chi2": float(chi2), "p_value_chi2": float(p_chi2),
            "p_value_fisher": p_fisher, "min_expected": smallest, "test": test,
            "p_value": p_value, "significant": bool(p_value < alpha)}


def holm(p_values: Any) -> np.ndarray:
    """Holm's step-down adjusted p-values, in the order given.

    The ``i``-th smallest of ``m`` p-values is multiplied by ``m - i + 1``; each adjusted
    value is the largest of those up to it (so the order is kept), capped at 1. Rejecting
    where the adjusted p-value is below ``alpha`` keeps the chance of any false positive
    among the ``m`` tests below ``alpha``.

    Examples
    --------
    >>> holm([0.01, 0.04, 0.03]).tolist()
    [0.03, 0.06, 0.06]
    """
    p = np.asarray(p_values, dtype=float)
    m = len(p)
    order = np.argsort(p, kind="stable")
    scaled = np.minimum(1.0, np.maximum.accumulate(p[order] * (m - np.arange(m))))
    out = np.empty(m)
    out[order] = scaled
    return out


def _compare_means(x1: np.ndarray, x0: np.ndarray, alpha: float) -> dict[str, Any]:
    """Revenue per recipient of a variant (``x1``) against the control (``x0``)."""
    m1, m0 = float(x1.mean()), float(x0.mean())
    v1 = float(x1.var(ddof=1)) if len(x1) > 1 else 0.0
    v0 = float(x0.var(ddof=1)) if len(x0) > 1 else 0.0
    se = math.sqrt(v1 / len(x1) + v0 / len(x0))
    difference = m1 - m0
    z_crit = stats.norm.ppf(1 - alpha / 2)
    z = difference / se if se > 0 else float("nan")
    return {"rpr_difference": difference, "rpr_difference_low": difference - z_crit * se,
            "rpr_difference_high": difference + z_crit * se,
            "rpr_relative_lift": difference / m0 if m0 > 0 else float("nan"),
            "rpr_z": z, "rpr_p_value": float(2 * stats.norm.sf(abs(z))) if se > 0 else 1.0}


def _reading(row: dict[str, Any], control: str, alpha: float) -> str:
    lift = (f", {row['relative_lift']:+.0%} relative" if np.isfinite(row["relative_lift"])
            else "")
    verdict = ("significant" if row["significant"] else "not significant")
    adjusted = (f", Holm-adjusted {row['p_value_adjusted']:.3g}"
                if row["correction"] == "holm" and row["comparisons"] > 1 else "")
    revenue = ""
    if "rpr_difference" in row:
        revenue = (f"; revenue per recipient {row['revenue_per_recipient']:.2f} vs "
                   f"{row['control_revenue_per_recipient']:.2f} "
                   f"({row['rpr_difference']:+.2f}, p = {row['rpr_p_value_adjusted']:.3g})")
    return (f"{row['variant']} converts at {row['rate']:.2%} vs {row['control_rate']:.2%} for "
            f"{control} ({100 * row['difference']:+.2f} points{lift}); {row['test']} "
            f"p = {row['p_value']:.3g}{adjusted}: {verdict} at the {alpha:.0%} level{revenue}")


class ABResult:
    """What :func:`ab_test` found.

    Attributes
    ----------
    variants : DataFrame
        ``variant, n, conversions, rate, ci_low, ci_high`` (Wilson interval at
        ``1 - alpha``); with ``revenue=``, also ``revenue`` and ``revenue_per_recipient``.
    comparisons : DataFrame
        One row per variant other than the control: rates, ``difference`` (with
        ``difference_low``/``high``, a Wald interval), ``relative_lift``, ``z``,
        ``p_value_z`` (pooled two-proportion z-test), ``chi2``, ``p_value_chi2``,
        ``p_value_fisher``, ``min_expected``, ``test`` (the test behind ``p_value``),
        ``p_value``, ``p_value_adjusted`` (Holm, over the ``comparisons`` tests; equal to
        ``p_value`` with ``correction="none"``), ``significant`` (adjusted p below
        ``alpha``) and a plain-language ``reading``. With ``revenue=``:
        ``revenue_per_recipient``, ``control_revenue_per_recipient``, ``rpr_difference``
        (``_low``/``_high``), ``rpr_relative_lift``, ``rpr_z``, ``rpr_p_value`` and
        ``rpr_p_value_adjusted``.
    control : str
    alpha : float
    outcome : str
    """

    def __init__(self, variants: pd.DataFrame, comparisons: pd.DataFrame, control: str,
                 alpha: float, outcome: str) -> None:
        self.variants = variants
        self.comparisons = comparisons
        self.control = control
        self.alpha = alpha
        self.outcome = outcome

    def __repr__(self) -> str:
        lines = [f"A/B test on {self.outcome!r}, control {self.control!r}, alpha {self.alpha}"]
        for rec in self.variants.itertuples(index=False):
            revenue = (f"  {rec.revenue_per_recipient:,.2f} per recipient"
                       if "revenue_per_recipient" in self.variants else "")
            lines.append(f"  {rec.variant:<16}{rec.n:>10,}{rec.conversions:>9,}  "
                         f"{rec.rate:7.2%}  [{rec.ci_low:.2%}, {rec.ci_high:.2%}]{revenue}")
        lines += [f"  {text}" for text in self.comparisons["reading"]]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        variants = self.variants.to_html(index=False, float_format=lambda v: f"{v:.4f}")
        readings = "".join(f"<li>{escape(t)}</li>" for t in self.comparisons["reading"])
        return (f"<div><strong>A/B test</strong> on {escape(self.outcome)}, control "
                f"<em>{escape(self.control)}</em>{variants}<ul>{readings}</ul></div>")


def ab_test(base_or_frame: ContactBase | pd.DataFrame, assignment: Any, outcome: Any, *,
            start: Any = None, days: float | None = None, alpha: float = 0.05,
            control: str | None = None, yates: bool = False, revenue: Any = None,
            correction: Literal["holm", "none"] = "holm") -> ABResult:
    """Compare the conversion rates of test variants (a holdout is a variant like any other).

    Parameters
    ----------
    base_or_frame : ContactBase or DataFrame
    assignment : DataFrame, Series or str
        The variant of each contact: a ``contact_id, group`` table (an export split), a
        Series indexed like the contacts or by contact id, or a column name. Contacts
        without a variant are left out.
    outcome : str or Series
        ``"opened"``, ``"clicked"``, ``"purchased"`` (or any event type): the contact has
        such an event with ``start < t <= start + days`` (needs a base); or a boolean Series
        / column name.
    start : date-like, optional
        The send date, for event outcomes.
    days : float, optional
        How many days after ``start`` an event counts; default until ``base.as_of``.
    alpha : float, default 0.05
        Significance level; the intervals are at ``1 - alpha``.
    control : str, optional
        The reference variant; default one named control, holdout or témoin (any case),
        else the first variant in sorted order.
    yates : bool, default False
        Use Yates' continuity correction in the chi-square test (and report it).
    revenue : str or Series, optional
        What each contact spent: a numeric column or Series (missing counts as 0), or on a
        base an event property such as ``"purchase.amount"``, summed over the outcome's
        window (``start < t <= start + days``). Adds the revenue per recipient (total
        revenue of a variant over its contacts, converted or not) and its test.
    correction : {"holm", "none"}, default "holm"
        Adjust the p-values for several variants facing one control (Holm's step-down
        method); the conversion tests and the revenue tests are adjusted separately.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"group": ["A"] * 1000 + ["B"] * 1000,
    ...                       "clicked": [True] * 100 + [False] * 900
    ...                                  + [True] * 130 + [False] * 870})
    >>> result = ab_test(frame, "group", "clicked")
    >>> result.variants[["variant", "n", "conversions", "rate"]]
      variant     n  conversions  rate
    0       A  1000          100  0.10
    1       B  1000          130  0.13
    >>> round(float(result.comparisons.loc[0, "p_value"]), 4)
    0.0355
    """
    if correction not in CORRECTIONS:
        raise ParameterError(f"correction must be 'holm' or 'none', not {correction!r}")
    groups, converted, described = _observations(base_or_frame, assignment, outcome, start,
                                                  days)
    spent = _revenue(base_or_frame, revenue, start, days, groups.index)
    counts = pd.DataFrame({"variant": groups.to_numpy(), "converted": converted.to_numpy()})
    if spent is not None:
        counts["revenue"] = spent.to_numpy()
    table = counts.groupby("variant", sort=True)["converted"].agg(["size", "sum"])
    if len(table) < 2:
        raise ParameterError(f"an A/B test needs at least two variants, got {list(table.index)}")
    rows = []
    for variant, (n, conversions) in table.iterrows():
        low, high = _wilson(int(conversions), int(n), 1 - alpha)
        rows.append({"variant": str(variant), "n": int(n), "conversions": int(conversions),
                     "rate": conversions / n, "ci_low": low, "ci_high": high})
    variants = pd.DataFrame(rows)
    by_variant = dict(tuple(counts.groupby("variant", sort=True)))
    if spent is not None:
        variants["revenue"] = [float(by_variant[v]["revenue"].sum()) for v in variants["variant"]]
        variants["revenue_per_recipient"] = variants["revenue"] / variants["n"]
    reference = _pick_control(variants["variant"].tolist(), control)
    ref = variants.set_index("variant").loc[reference]
    comparisons = []
    for rec in variants.itertuples(index=False):
        if rec.variant == reference:
            continue
        row = {"variant": rec.variant, "control": reference, "rate": rec.rate,
               "control_rate": ref["rate"],
               **_compare(rec.conversions, rec.n, int(ref["conversions"]), int(ref["n"]),
                          alpha, yates)}
        if spent is not None:
            row.update({"revenue_per_recipient": rec.revenue_per_recipient,
                        "control_revenue_per_recipient": ref["revenue_per_recipient"],
                        **_compare_means(by_variant[rec.variant]["revenue"].to_numpy(),
                                         by_variant[reference]["revenue"].to_numpy(), alpha)})
        comparisons.append(row)
    _adjust(comparisons, correction, alpha, revenue=spent is not None)
    for row in comparisons:
        row["reading"] = _reading(row, reference, alpha)
    return ABResult(variants, pd.DataFrame(comparisons), reference, alpha, described)


def _adjust(comparisons: list[dict[str, Any]], correction: str, alpha: float, *,
            revenue: bool) -> None:
    """Add the adjusted p-values (and ``significant`` from them) to each comparison."""
    pairs = [("p_value", "p_value_adjusted")] + (
        [("rpr_p_value", "rpr_p_value_adjusted")] if revenue else [])
    for raw, adjusted in pairs:
        values = [row[raw] for row in comparisons]
        fixed = holm(values) if correction == "holm" else np.asarray(values, dtype=float)
        for row, value in zip(comparisons, fixed, strict=True):
            row[adjusted] = float(value)
    for row in comparisons:
        row["correction"] = correction
        row["comparisons"] = len(comparisons)
        row["significant"] = bool(row["p_value_adjusted"] < alpha)


def sample_size(baseline_rate: float, lift: float, alpha: float = 0.05, power: float = 0.8,
                ratio: float = 1.0, two_sided: bool = True, *,
                method: Literal["pooled", "arcsine"] = "pooled") -> int:
    """Contacts needed in the control group to detect a relative ``lift`` of a rate.

    Parameters
    ----------
    baseline_rate : float
        Expected rate of the control ``p1`` (0 < p1 < 1).
    lift : float
        Relative lift to detect: 0.2 means ``p2 = p1 * 1.2``.
    alpha, power : float
        Significance level and probability of detecting the lift.
    ratio : float, default 1
        Size of the variant group over the control group; the variant needs
        ``ceil(ratio * n)``.
    two_sided : bool
    method : {"pooled", "arcsine"}
        ``"pooled"`` (default), the normal approximation of the pooled two-proportion test
        (Fleiss, without continuity correction), with ``r = ratio`` and
        ``p = (p1 + r p2) / (1 + r)``::

            n = (z_a sqrt(p (1-p) (1 + 1/r)) + z_b sqrt(p1 (1-p1) + p2 (1-p2) / r))^2
                / (p2 - p1)^2

        ``"arcsine"``: Cohen's effect size ``h = 2 asin(sqrt(p2)) - 2 asin(sqrt(p1))`` and
        ``n = (z_a + z_b)^2 (1 + 1/r) / h^2`` (what statsmodels' ``NormalIndPower`` solves).
        ``z_a`` is the normal quantile at ``1 - alpha/2`` (two-sided) or ``1 - alpha``.

    Returns
    -------
    int
        Contacts in the control group, rounded up.

    Examples
    --------
    >>> sample_size(0.10, 0.20)
    3841
    >>> sample_size(0.10, 0.20, method="arcsine")
    3835
    """
    p1 = float(baseline_rate)
    p2 = p1 * (1 + lift)
    if not (0 < p1 < 1 and 0 < p2 < 1) or p1 == p2:
        raise ParameterError(f"need 0 < rates < 1 and a non-zero lift, got {p1} -> {p2}")
    z_a = stats.norm.ppf(1 - alpha / 2 if two_sided else 1 - alpha)
    z_b = stats.norm.ppf(power)
    if method == "arcsine":
        h = 2 * math.asin(math.sqrt(p2)) - 2 * math.asin(math.sqrt(p1))
        n = (z_a + z_b) ** 2 * (1 + 1 / ratio) / h ** 2
    elif method == "pooled":
        pooled = (p1 + ratio * p2) / (1 + ratio)
        n = (z_a * math.sqrt(pooled * (1 - pooled) * (1 + 1 / ratio))
             + z_b * math.sqrt(p1 * (1 - p1) + p2 * (1 - p2) / ratio)) ** 2 / (p2 - p1) ** 2
    else:
        raise ParameterError(f"method must be 'pooled' or 'arcsine', not {method!r}")
    return math.ceil(n - 1e-9)  # a hair below a whole number is that number


def _alpha_per_test(alpha: float, tests: int, correction: str) -> float:
    if correction not in CORRECTIONS:
        raise ParameterError(f"correction must be 'holm' or 'none', not {correction!r}")
    return alpha / tests if correction == "holm" else alpha


def minimum_detectable_effect(n_variant: int, baseline_rate: float, *,
                              n_control: int | None = None, alpha: float = 0.05,
                              power: float = 0.8, two_sided: bool = True) -> float:
    """The smallest relative lift of a rate that groups of these sizes detect.

    The inverse of :func:`sample_size` (its pooled normal approximation): the lift ``L``
    for which ``sample_size(baseline_rate, L, alpha, power, ratio=n_variant / n_control)``
    is ``n_control``, found by bisection to 1e-9. Roughly ``(z_a + z_b) sqrt(p (1 - p)
    (1/n_variant + 1/n_control)) / p``.

    Parameters
    ----------
    n_variant : int
        Contacts who get the variant.
    baseline_rate : float
        The control's expected rate (0 < p < 1).
    n_control : int, optional
        Contacts in the control (or holdout); default ``n_variant``.
    alpha, power : float
    two_sided : bool

    Returns
    -------
    float
        The relative lift (0.2: +20 %); ``inf`` when even a rate of 1 would not be detected.

    Examples
    --------
    >>> round(minimum_detectable_effect(3841, 0.10), 3)
    0.2
    >>> minimum_detectable_effect(10, 0.5)
    inf
    """
    n1 = int(n_variant)
    n0 = int(n_control) if n_control is not None else n1
    p1 = float(baseline_rate)
    if n1 < 1 or n0 < 1:
        raise ParameterError(f"group sizes must be >= 1, got {n1} and {n0}")
    if not 0 < p1 < 1:
        raise ParameterError(f"baseline_rate must be between 0 and 1, not {baseline_rate!r}")
    ratio = n1 / n0
    z_a = stats.norm.ppf(1 - alpha / 2 if two_sided else 1 - alpha)
    z_b = stats.norm.ppf(power)

    def needed(lift: float) -> float:  # sample_size's pooled formula, unrounded
        p2 = p1 * (1 + lift)
        pooled = (p1 + ratio * p2) / (1 + ratio)
        return (z_a * math.sqrt(pooled * (1 - pooled) * (1 + 1 / ratio))
                + z_b * math.sqrt(p1 * (1 - p1) + p2 * (1 - p2) / ratio)) ** 2 / (p2 - p1) ** 2

    high = (1 - 1e-12) / p1 - 1  # p2 just below 1
    if needed(high) > n0:
        return math.inf
    low = 1e-12
    while high - low > 1e-9:
        middle = (low + high) / 2
        if needed(middle) > n0:
            low = middle
        else:
            high = middle
    return high


def detectable_effects(sizes: Any, baseline_rate: float, *, control: str | None = None,
                       alpha: float = 0.05, power: float = 0.8, two_sided: bool = True,
                       correction: Literal["holm", "none"] = "holm") -> pd.DataFrame:
    """Before sending: the lift each variant can detect against the control, for its size.

    Parameters
    ----------
    sizes : mapping, Series or DataFrame
        ``{variant: contacts}``, or who gets what: a ``contact_id`` + one group column
        table (a split, a variant plan's ``assign()``) or a Series of variants.
    baseline_rate : float
        The control's expected rate (a past campaign's click rate, say).
    control : str, optional
        As in :func:`ab_test` (default: one named control, holdout or témoin, else the
        first in sorted order).
    alpha, power, two_sided
    correction : {"holm", "none"}, default "holm"
        With ``m`` variants facing the control, size them at ``alpha / m``, the level
        Holm's correction gives the smallest p-value: each variant is detectable whatever
        the others show.

    Returns
    -------
    DataFrame
        One row per variant other than the control: ``variant, n, control, control_n,
        alpha`` (per test), ``mde_relative``, ``mde_absolute`` (points of rate) and
        ``detectable_rate`` (the rate the variant must reach).

    Examples
    --------
    >>> table = detectable_effects({"holdout": 2000, "A": 4000, "B": 4000}, 0.05)
    >>> table[["variant", "n", "control", "control_n"]].to_dict("records")
    [{'variant': 'A', 'n': 4000, 'control': 'holdout', 'control_n': 2000}, {'variant': 'B', 'n': 4000, 'control': 'holdout', 'control_n': 2000}]
    >>> round(float(table.loc[0, "mde_relative"]), 2)
    0.4
    """
    if isinstance(sizes, pd.DataFrame):
        others = [c for c in sizes.columns if c != "contact_id"]
        if len(others) != 1:
            raise ParameterError("sizes: a table needs a contact_id column and one group "
                                 f"column, got {list(sizes.columns)}")
        sizes = sizes[others[0]]
    if isinstance(sizes, pd.Series):
        sizes = sizes.dropna().astype(str).value_counts().to_dict()
    counts = {str(k): int(v) for k, v in dict(sizes).items()}
    if len(counts) < 2:
        raise ParameterError(f"sizes: need a control and at least one variant, got {counts}")
    names = sorted(counts)
    reference = _pick_control(names, control)
    per_test = _alpha_per_test(alpha, len(names) - 1, correction)
    rows = []
    for variant in names:
        if variant == reference:
            continue
        lift = minimum_detectable_effect(counts[variant], baseline_rate,
                                         n_control=counts[reference], alpha=per_test,
                                         power=power, two_sided=two_sided)
        rows.append({"variant": variant, "n": counts[variant], "control": reference,
                     "control_n": counts[reference], "alpha": per_test,
                     "mde_relative": lift, "mde_absolute": baseline_rate * lift,
                     "detectable_rate": baseline_rate * (1 + lift)})
    return pd.DataFrame(rows)
