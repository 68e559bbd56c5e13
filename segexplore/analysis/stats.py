"""Statistical tests and effect sizes read off counts, for :mod:`segexplore.analysis.compare`.

:func:`~segexplore.analysis.compare.compare` counts every value of an attribute in every segment
once; this module turns those counts into the statistics of :mod:`scipy.stats` without
rebuilding the samples (``docs/compare.md`` explains how to read them):

* categories and tags: chi-square, or Fisher's exact test for a sparse 2x2 table, with
  Cramér's V (phi for a 2x2 table) as effect size (``_categorical_test``);
* numbers and dates: Mann-Whitney U with the tie correction (average ranks of the distinct
  values), the rank-biserial correlation and Cohen's d, plus the summary statistics
  (mean, std, quantiles) of each segment (``_Numbers``);
* p-values adjusted over a whole comparison with Benjamini-Hochberg
  (:func:`benjamini_hochberg`), and the Wilson score interval of a proportion
  (:func:`wilson_interval`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import special, stats

from segexplore.analysis.attributes import to_timestamp
from segexplore.analysis.encoding import Encoded, counted_quantiles

__all__ = ["wilson_interval", "benjamini_hochberg", "EXACT_LIMIT"]

#: Mann-Whitney's exact distribution (scipy's choice for <= 8 values without ties) is only
#: computed when both samples together hold at most this many values.
EXACT_LIMIT = 10_000
#: Quantiles of the summary statistics (p5, p25, median, p75, p95).
_SUMMARY_QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


# -- statistics from counts -------------------------------------------------------------------

def _categorical_test(first: np.ndarray, second: np.ndarray) -> dict[str, Any] | str:
    """Chi-square (or Fisher's exact test for a sparse 2x2 table) and Cramér's V."""
    keep = (first + second) > 0
    observed = np.vstack([first[keep], second[keep]])
    if observed.shape[1] < 2:
        return "a single value in the compared contacts: no test"
    n = observed.sum()
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0)) / n
    plain_chi2 = float(((observed - expected) ** 2 / expected).sum())
    cramers_v = math.sqrt(plain_chi2 / (n * (min(observed.shape) - 1)))
    sparse = int((expected < 5).sum())
    warning = ""
    if observed.shape == (2, 2) and sparse:
        result = stats.fisher_exact(observed)
        test, statistic = "fisher_exact", float(result.statistic)
        warning = "expected count under 5: Fisher's exact test"
    else:
        result = stats.chi2_contingency(observed)
        test, statistic = "chi2", float(result.statistic)
        if sparse:
            warning = (f"{sparse} of {observed.size} expected counts under 5: the chi-square "
                       f"p-value is approximate")
    return {"test": test, "statistic": statistic, "p_value": float(result.pvalue),
            "effect_size": cramers_v, "effect_name": "cramers_v", "warning": warning}


@dataclass(frozen=True)
class _Moments:
    """Count, sum and sum of squares of a numeric group, around a common shift."""

    n: int
    total: float
    squares: float

    def __sub__(self, other: _Moments) -> _Moments:
        return _Moments(self.n - other.n, self.total - other.total,
                        self.squares - other.squares)

    @property
    def mean(self) -> float:
        return self.total / self.n if self.n else math.nan

    @property
    def variance(self) -> float:
        if self.n < 2:
            return math.nan
        return max(self.squares - self.total ** 2 / self.n, 0.0) / (self.n - 1)


class _Numbers:
    """One numeric attribute: sorted distinct values, counts per segment and what every
    statistic reuses (cumulative counts, moments, the base's average ranks)."""

    def __init__(self, encoded: Encoded, base: np.ndarray, per_segment: np.ndarray) -> None:
        self.encoded, self.values = encoded, encoded.values
        self.missing_base, self.missing = int(base[-1]), per_segment[-1]
        self.base_counts, self.counts = base[:-1], per_segment[:-1]
        self.base_cumulative = np.cumsum(self.base_counts)
        self.cumulative = np.cumsum(self.counts, axis=0)
        is_date = encoded.is_date
        self.offset = int(self.values[0]) if is_date and len(self.values) else 0
        self.scale = 86_400e9 if is_date else 1.0  # dates in days: readable moments
        floats = (self.values - self.offset).astype(np.float64) / self.scale
        n = int(self.base_cumulative[-1]) if len(floats) else 0
        self.shift = _dot(self.base_counts, floats) / n if n else 0.0
        deviation = floats - self.shift  # centred values keep sums of squares accurate
        self.deviation = deviation
        squares = deviation * deviation
        self.base_moments = _Moments(n, _dot(self.base_counts, deviation),
                                     _dot(self.base_counts, squares))
        self.segment_moments = [
            _Moments(int(self.cumulative[-1, s]) if len(floats) else 0,
                     _dot(self.counts[:, s], deviation), _dot(self.counts[:, s], squares))
            for s in range(self.counts.shape[1])]
        self.squares = squares
        # against the rest, both samples together are the whole base: its ranks serve all
        self.base_ranks = _average_ranks(self.base_counts)
        self.base_ties = _tie_term(self.base_counts)

    def value(self, centred: float) -> Any:
        """A statistic back in the attribute's unit (Timestamp for dates)."""
        if math.isnan(centred):
            return pd.NaT if self.encoded.is_date else math.nan
        plain = (centred + self.shift) * self.scale
        return to_timestamp(self.offset + plain) if self.encoded.is_date else plain

    def quantiles(self, cumulative: np.ndarray, quantiles: Sequence[float]) -> list[Any]:
        """:func:`numpy.quantile` (linear) of the values with these cumulative counts."""
        n = int(cumulative[-1]) if len(cumulative) else 0
        if n == 0:
            return [self.value(math.nan)] * len(quantiles)
        return [self.value(float(c))
                for c in counted_quantiles(self.deviation, cumulative, quantiles)]

    def summary(self, segment: int | None) -> dict[str, Any]:
        """count, missing, mean, std, min, quantiles, max of a segment (None: the base)."""
        if segment is None:
            cumulative, moments, missing = self.base_cumulative, self.base_moments, \
                self.missing_base
        else:
            cumulative, moments = self.cumulative[:, segment], self.segment_moments[segment]
            missing = int(self.missing[segment])
        row: dict[str, Any] = {"count": moments.n, "missing": missing,
                               "mean": self.value(moments.mean)}
        std = math.sqrt(moments.variance) if moments.n > 1 else math.nan
        if self.encoded.is_date:
            row["std"] = pd.NaT if math.isnan(std) else pd.Timedelta(days=std)
        else:
            row["std"] = std
        extremes = self.quantiles(cumulative, (0.0, 1.0))
        row["min"], row["max"] = extremes
        for name, value in zip(("p5", "p25", "median", "p75", "p95"),
                               self.quantiles(cumulative, _SUMMARY_QUANTILES), strict=True):
            row[name] = value
        return row

    def test(self, segment: int, other: int | None) -> dict[str, Any] | str:
        """Mann-Whitney U (two-sided, as scipy.stats.mannwhitneyu), rank-biserial, Cohen's d
        of ``segment`` against the rest (``other`` None) or against segment ``other``."""
        first, one = self.counts[:, segment], self.segment_moments[segment]
        first_cumulative = self.cumulative[:, segment]
        if other is None:
            second, two = self.base_counts - first, self.base_moments - one
            second_cumulative = self.base_cumulative - first_cumulative
            ranks, ties = self.base_ranks, self.base_ties
        else:
            second, two = self.counts[:, other], self.segment_moments[other]
            second_cumulative = self.cumulative[:, other]
            together = first + second
            ranks, ties = _average_ranks(together), _tie_term(together)
        n1, n2 = one.n, two.n
        if n1 == 0 or n2 == 0:
            return "no known value on one side: no test"
        u1 = _dot(first, ranks) - n1 * (n1 + 1) / 2
        if min(n1, n2) <= 8 and ties == 0 and n1 + n2 <= EXACT_LIMIT:
            # scipy's exact distribution: rebuild the two (small) samples
            result = stats.mannwhitneyu(np.repeat(self.values, first),
                                        np.repeat(self.values, second))
            p_value = float(result.pvalue)
        else:
            p_value = _mann_whitney_p(u1, n1, n2, ties)
        pooled = ((n1 - 1) * one.variance + (n2 - 1) * two.variance) / (n1 + n2 - 2) \
            if n1 > 1 and n2 > 1 else math.nan
        cohens_d = (one.mean - two.mean) / math.sqrt(pooled) if pooled > 0 else math.nan
        return {"test": "mann_whitney_u", "statistic": u1, "p_value": p_value,
                "effect_size": 2 * u1 / (n1 * n2) - 1, "effect_name": "rank_biserial",
                "cohens_d": cohens_d, "segment_mean": self.value(one.mean),
                "rest_mean": self.value(two.mean),
                "segment_median": self.quantiles(first_cumulative, (0.5,))[0],
                "rest_median": self.quantiles(second_cumulative, (0.5,))[0],
                "segment_n": n1, "rest_n": n2, "warning": ""}


def _dot(counts: np.ndarray, values: np.ndarray) -> float:
    """Sum of counts times values, without BLAS: its threads busy-wait and cost more CPU
    than they save on vectors of this length."""
    return float(np.sum(counts * values))


def _tie_term(counts: np.ndarray) -> float:
    """Sum of t^3 - t over the groups of tied values (0 when there is no tie)."""
    tied = counts[counts > 1].astype(np.float64)
    return float(np.sum(tied ** 3 - tied))


def _average_ranks(counts: np.ndarray) -> np.ndarray:
    """Average rank (1-based, ties averaged) of each distinct value holding ``counts``."""
    cumulative = np.cumsum(counts, dtype=np.float64)
    return cumulative - (counts - 1) / 2


def _mann_whitney_p(u1: float, n1: int, n2: int, tie_term: float) -> float:
    """Two-sided asymptotic p-value with tie and continuity corrections (scipy's formula)."""
    n = n1 + n2
    u = max(u1, n1 * n2 - u1)
    spread = math.sqrt(n1 * n2 / 12 * ((n + 1) - tie_term / (n * (n - 1))))
    if spread == 0:
        return 1.0
    z = (u - n1 * n2 / 2 - 0.5) / spread
    return float(min(max(2 * special.ndtr(-z), 0.0), 1.0))


def wilson_interval(successes: int, n: int, alpha: float = 0.05) -> tuple[float, float]:
    """Wilson score interval of a proportion at confidence ``1 - alpha``."""
    if n == 0:
        return math.nan, math.nan
    z = float(special.ndtri(1 - alpha / 2))
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return max(centre - half, 0.0), min(centre + half, 1.0)


def benjamini_hochberg(p_values: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (:func:`scipy.stats.false_discovery_control`)."""
    return stats.false_discovery_control(p_values, method="bh")
