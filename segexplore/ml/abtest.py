"""A/B and holdout tests on conversion rates: per-variant rates, tests against control, sizes.

:func:`ab_test` takes who got which variant (an export split's ``contact_id, group`` table,
a Series or a column) and whether each contact converted (an event within some days of the
send, computed from the base's events, or a boolean column), and reports:

* per variant: ``n``, ``conversions``, ``rate`` and its Wilson confidence interval;
* per variant against the control: the difference (with a Wald interval), the relative
  lift, the pooled two-proportion z-test, the chi-square test of the 2x2 table (the same
  p-value as the z-test without Yates' correction; with it when ``yates=True``) and
  Fisher's exact test, which is the one reported when an expected count is below 5.

Several variants against one control are several tests: at ``alpha = 0.05`` one in twenty
comparisons of identical variants comes out significant. No correction is applied.

:func:`sample_size` gives the contacts needed per group to detect a lift.
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

__all__ = ["ABResult", "ab_test", "sample_size", "OUTCOMES"]

#: Outcome words and the event type each one counts.
OUTCOMES = {"opened": "open", "clicked": "click", "purchased": "purchase", "visited": "visit",
            "added_to_cart": "add_to_cart"}
_CONTROL_NAMES = ("control", "holdout", "témoin", "temoin", "a")


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


def _reading(row: dict[str, Any], control: str, alpha: float) -> str:
    lift = (f", {row['relative_lift']:+.0%} relative" if np.isfinite(row["relative_lift"])
            else "")
    verdict = ("significant" if row["significant"] else "not significant")
    return (f"{row['variant']} converts at {row['rate']:.2%} vs {row['control_rate']:.2%} for "
            f"{control} ({100 * row['difference']:+.2f} points{lift}); {row['test']} "
            f"p = {row['p_value']:.3g}: {verdict} at the {alpha:.0%} level")


class ABResult:
    """What :func:`ab_test` found.

    Attributes
    ----------
    variants : DataFrame
        ``variant, n, conversions, rate, ci_low, ci_high`` (Wilson interval at
        ``1 - alpha``).
    comparisons : DataFrame
        One row per variant other than the control: rates, ``difference`` (with
        ``difference_low``/``high``, a Wald interval), ``relative_lift``, ``z``,
        ``p_value_z`` (pooled two-proportion z-test), ``chi2``, ``p_value_chi2``,
        ``p_value_fisher``, ``min_expected``, ``test`` (the test behind ``p_value``),
        ``p_value``, ``significant`` and a plain-language ``reading``.
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
            lines.append(f"  {rec.variant:<16}{rec.n:>10,}{rec.conversions:>9,}  "
                         f"{rec.rate:7.2%}  [{rec.ci_low:.2%}, {rec.ci_high:.2%}]")
        lines += [f"  {text}" for text in self.comparisons["reading"]]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        variants = self.variants.to_html(index=False, float_format=lambda v: f"{v:.4f}")
        readings = "".join(f"<li>{escape(t)}</li>" for t in self.comparisons["reading"])
        return (f"<div><strong>A/B test</strong> on {escape(self.outcome)}, control "
                f"<em>{escape(self.control)}</em>{variants}<ul>{readings}</ul></div>")


def ab_test(base_or_frame: ContactBase | pd.DataFrame, assignment: Any, outcome: Any, *,
            start: Any = None, days: float | None = None, alpha: float = 0.05,
            control: str | None = None, yates: bool = False) -> ABResult:
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
    groups, converted, described = _observations(base_or_frame, assignment, outcome, start,
                                                  days)
    counts = pd.DataFrame({"variant": groups.to_numpy(), "converted": converted.to_numpy()})
    table = counts.groupby("variant", sort=True)["converted"].agg(["size", "sum"])
    if len(table) < 2:
        raise ParameterError(f"an A/B test needs at least two variants, got {list(table.index)}")
    rows = []
    for variant, (n, conversions) in table.iterrows():
        low, high = _wilson(int(conversions), int(n), 1 - alpha)
        rows.append({"variant": str(variant), "n": int(n), "conversions": int(conversions),
                     "rate": conversions / n, "ci_low": low, "ci_high": high})
    variants = pd.DataFrame(rows)
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
        row["reading"] = _reading(row, reference, alpha)
        comparisons.append(row)
    return ABResult(variants, pd.DataFrame(comparisons), reference, alpha, described)


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
