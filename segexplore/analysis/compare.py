"""Compare candidate segments: sizes, overlaps, tests against the rest of the base.

:func:`compare` answers the questions an analyst asks before choosing a segment: how big
are they, how much do they overlap, what makes each one different from the rest of the
base (with the right statistical test and an effect size), and how many conversions to
expect. The statistics are those of :mod:`scipy.stats` (``docs/compare.md`` explains how
to read them), computed without looping over contacts:

* every attribute is encoded once as integer codes over its sorted distinct values;
* the contacts are grouped by their pattern of membership (in A only, in A and B, ...);
  one ``bincount`` per attribute then gives the counts of every value in every segment;
* chi-square tables, Mann-Whitney rank sums (average ranks of the distinct values, with
  the tie correction), means, medians and quantiles are all read off those counts;
* a multi-valued attribute (interests) is counted per distinct combination of tags, then a
  0/1 matrix (combination x tag) turns those counts into the 2x2 table of every tag.

Both engines hand the comparison the same count tables (:mod:`segexplore.analysis.counts`:
the pandas engine's ``bincount`` of codes, a DuckDB base's ``GROUP BY`` queries), and every
table is computed from them by one code, so the two cannot differ.

This module owns the inputs and the tables of the comparison (sizes, overlap, intersections,
tests, distributions, expected conversions) and their plain-language readings. The codes
and counts are :mod:`segexplore.analysis.encoding`; the tests and effect sizes computed
from the counts are :mod:`segexplore.analysis.stats`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from segexplore.analysis.attributes import attribute_kind, attribute_table, mask_array
from segexplore.analysis.counts import EngineSource, FrameCounts, Patterns
from segexplore.analysis.encoding import Encoded, Groups, Tags, pool_rare, top_tags
from segexplore.analysis.findings import differences
from segexplore.analysis.implied import ImpliedAttributes
from segexplore.analysis.stats import (
    _categorical_test,
    _Numbers,
    benjamini_hochberg,
    wilson_interval,
)
from segexplore.errors import ParameterError, ParameterTypeError, closest_name
from segexplore.model import hooks

__all__ = ["Comparison", "compare", "MAX_CATEGORIES", "MAX_TAGS", "MIN_SEGMENT_SIZE"]

#: Categorical attributes keep their most frequent values; the rest are pooled as
#: :data:`~segexplore.analysis.encoding.OTHER` (missing values are
#: :data:`~segexplore.analysis.encoding.MISSING`).
MAX_CATEGORIES = 50
#: Multi-valued attributes (interests) keep their most frequent tags: one 2x2 test per tag.
MAX_TAGS = 30
#: Segments (and rests) smaller than this get a warning: their statistics are weak.
MIN_SEGMENT_SIZE = 30
#: Roles compared by default (consent is a category of its own role).
TESTED_ROLES = ("categorical", "consent", "numeric", "boolean", "date", "multi", "feature")
TEST_COLUMNS = ("segment", "versus", "attribute", "tag", "kind", "test", "statistic", "p_value",
                "p_adjusted", "significant", "effect_size", "effect_name", "cohens_d",
                "segment_mean", "rest_mean", "segment_median", "rest_median", "segment_n",
                "rest_n", "warning")
SUMMARY_STATS = ("count", "missing", "mean", "std", "min", "p5", "p25", "median", "p75",
                 "p95", "max")


@dataclass(frozen=True, eq=False, repr=False)
class Comparison:
    """Everything :func:`compare` found, as tidy DataFrames (see :func:`compare`)."""

    segments: tuple[str, ...]
    n_base: int
    alpha: float
    sizes: pd.DataFrame
    overlap: pd.DataFrame
    intersections: pd.DataFrame
    tests: pd.DataFrame
    distributions: pd.DataFrame
    numeric: pd.DataFrame
    base_numeric: pd.DataFrame
    differences: pd.DataFrame
    expected: pd.DataFrame
    warnings: pd.DataFrame
    attributes: pd.DataFrame = field(default_factory=pd.DataFrame)

    def overlap_matrix(self, kind: str = "count") -> pd.DataFrame:
        """Square segment x segment table of shared contacts.

        Parameters
        ----------
        kind : {"count", "jaccard", "share"}
            ``count``: contacts in both; ``jaccard``: both / either; ``share``: both as a
            share of the row segment ("x% of A are also in B").
        """
        columns = {"count": "both", "jaccard": "jaccard", "share": "share_of_a"}
        if kind not in columns:
            raise ParameterError(f"Value of 'kind' is not a kind of overlap. Expected one of "
                                 f"{list(columns)} but received: {kind!r}")
        matrix = self.overlap.pivot(index="segment_a", columns="segment_b",
                                    values=columns[kind])
        matrix = matrix.reindex(index=list(self.segments), columns=list(self.segments))
        matrix.index.name, matrix.columns.name = None, None
        return matrix

    def to_html(self, path: str | Path) -> Path:
        """Write the comparison as a standalone HTML page that works offline."""
        return hooks.get("comparison_report")(self, path)  # display.report

    def _repr_html_(self) -> str:
        return hooks.get("comparison_html")(self)  # display.html: light tables

    def __repr__(self) -> str:
        sizes = ", ".join(f"{r.segment!r} {r.size:,}" for r in self.sizes.itertuples())
        significant = int(self.tests["significant"].sum()) if len(self.tests) else 0
        return (f"Comparison of {len(self.segments)} segments of {self.n_base:,} contacts "
                f"({sizes}): {len(self.tests)} tests, {significant} significant at "
                f"alpha={self.alpha}, {len(self.warnings)} warnings")


def compare(segments: Any, base: Any = None, *, attributes: Sequence[str] | None = None,
            pairwise: bool = False, rate: str | pd.Series | None = "purchases_90d",
            alpha: float = 0.05) -> Comparison:
    """Compare segments with each other and with the rest of the base.

    Parameters
    ----------
    segments : list of Segment, or dict of name -> boolean mask (or Segment)
        The candidates. Masks are boolean Series over the contacts (aligned on the index)
        or arrays; names must be unique.
    base : ContactBase, DuckDBBase or DataFrame, optional
        Where the segments come from; default the base of the first Segment. Needed when
        the segments are masks. On a DuckDB base (``read_base(..., engine="duckdb")``)
        every count is grouped in DuckDB and only the count tables reach Python (masks
        there are in the contacts' order); the Comparison is the pandas engine's, frame
        for frame.
    attributes : list of str, optional
        Contact columns and features to test. Default: contact columns whose role is
        categorical, consent, numeric, boolean, date or multi, and every behaviour feature.
        Categorical attributes with more than 50 values keep the 50 most frequent and pool
        the rest as ``"other"``; missing values are a category (``"(missing)"``).
        Multi-valued attributes (interests) are tested per tag (has the tag or not, tags
        compared ignoring case), for their 30 most frequent tags.
    pairwise : bool, default False
        Also test every pair of segments against each other (``versus`` is the other
        segment's name), besides each segment against the rest of the base.
    rate : str, boolean Series or None, default "purchases_90d"
        The historical outcome behind ``expected``: a feature or column name (a contact
        converts when its value is >= 1, or True), or a boolean Series over the contacts.
        ``None`` skips ``expected``.
    alpha : float, default 0.05
        Significance level of the Benjamini-Hochberg adjusted p-values and confidence level
        (``1 - alpha``) of the Wilson intervals.

    Returns
    -------
    Comparison
        ``sizes`` (segment, size, share); ``overlap`` (segment_a, segment_b, both, jaccard,
        share_of_a; diagonal included) and :meth:`Comparison.overlap_matrix`;
        ``intersections`` (one boolean column per segment, degree, size, share: contacts
        in exactly that combination, largest first, contacts in no segment left out);
        ``tests`` (one row per segment, opponent and attribute, and per tag of a
        multi-valued attribute, named in ``tag``: chi-square or Fisher's exact
        test with Cramér's V for categories and tags, Mann-Whitney U with the rank-biserial
        correlation and Cohen's d for numbers and dates; p-values adjusted with
        Benjamini-Hochberg over the whole comparison; in pairwise rows the ``rest_*``
        columns describe the ``versus`` segment); ``distributions`` (segment,
        attribute, value, count, share, base_share, index = 100 * share / base_share; for
        a multi-valued attribute the value is a tag and the share that of the contacts
        holding it);
        ``numeric`` and ``base_numeric`` (count, missing, mean, std, min, p5, p25, median,
        p75, p95, max per segment, and for the whole base); ``differences`` (per segment,
        the attributes, and tags, ranked by absolute effect size with a plain-language
        ``reading`` and ``finding``; ``in_rule`` marks the attributes of the segment's
        rule, ``implied`` (and ``implied_by``) those a field of the rule determines or is
        determined by in the base, such as the department given the region);
        ``expected`` (historical conversion rate with its Wilson interval, and expected
        conversions = size * rate); ``warnings``; ``attributes`` (what was compared).

    Examples
    --------
    >>> import segexplore as se
    >>> from segexplore.analysis.compare import compare
    >>> base = se.load_sample()
    >>> android = base.segment('device = "Android"', name="Android")
    >>> buyers = base.segment("purchases_365d >= 1", name="Buyers")
    >>> comparison = compare([android, buyers], attributes=["device", "revenue_365d"])
    >>> comparison.sizes["size"].tolist() == [android.size, buyers.size]
    True
    >>> int(comparison.overlap_matrix("count").loc["Android", "Buyers"]) == int(
    ...     (android.mask & buyers.mask).sum())
    True
    >>> comparison.differences.loc[0, "reading"]
    '100% have device = Android, 2.3x the base (44%)'
    """
    if not 0 < alpha < 1:
        raise ParameterError(f"Value of 'alpha' must be between 0 and 1 but received: "
                             f"{alpha!r}")
    names, members, source, fields = _segments(segments, base)
    with _count_source(source, members) as counts:
        return _compared(counts, names, fields, attributes, pairwise, rate, alpha)


def _count_source(source: Any, members: Any) -> Any:
    """The count source of the base (:mod:`segexplore.analysis.counts`): a DuckDB or
    connected base's counts are grouped in its engine, a pandas base's or DataFrame's by
    ``bincount``."""
    if _on_engine(source):
        return EngineSource(source, members)
    return FrameCounts(attribute_table(source, include_features=_is_base(source)), members)


def _compared(counts: Any, names: list[str], fields: dict[str, frozenset[str]],
              attributes: Sequence[str] | None, pairwise: bool, rate: Any, alpha: float
              ) -> Comparison:
    """The comparison read off a count source: the one path of both engines."""
    n_base = counts.n_base
    groups = counts.patterns()
    sizes = groups.sizes
    collector = _Collector(names, n_base, alpha, fields)
    for name, size in zip(names, sizes, strict=True):
        if size < MIN_SEGMENT_SIZE:
            collector.warn(name, "", "", f"only {_contacts(size)} (< {MIN_SEGMENT_SIZE}): "
                                         f"statistics are weak")
        if n_base - size < MIN_SEGMENT_SIZE:
            rest = _contacts(n_base - size)
            collector.warn(name, "rest", "", f"the rest of the base has only {rest} "
                                             f"(< {MIN_SEGMENT_SIZE})")
    if pairwise:
        both = groups.both()
        for a in range(len(names)):
            for b in range(a + 1, len(names)):
                if both[a, b]:
                    collector.warn(names[a], names[b], "", f"{int(both[a, b]):,} contacts are "
                                   "in both segments: the pairwise tests treat them as "
                                   "independent samples")
    columns = counts.columns()
    kinds = {c: attribute_kind(values, role) for c, (values, role, _) in columns.items()}
    chosen = _attributes(columns, kinds, attributes)
    implied = ImpliedAttributes(counts, names, fields, kinds)
    implied.prepare(chosen)
    for column, kind in chosen:
        _, role, separator = columns[column]
        encoded, base, per_segment = counts.counts(column, kind)
        if kind == "multi":
            # counts per distinct combination of tags, then per tag through a 0/1 matrix
            tags = top_tags(encoded.labels, base, separator, MAX_TAGS)
            collector.tags(column, role, tags, (base, per_segment), sizes, pairwise)
            continue
        collector.implied.update({(name, column): by for name, by in
                                  implied.implying(column, kind, encoded, base).items()})
        collector.attribute(column, role, kind, encoded, (base, per_segment), sizes, pairwise)
    expected = _expected(rate, counts, list(columns), sizes, names, alpha, collector)
    return collector.build(groups, expected)


def _did_you_mean(name: str, known: Any) -> str:
    guess = closest_name(str(name), [str(k) for k in known])
    return f"; did you mean {guess!r}?" if guess else ""


def _contacts(count: int) -> str:
    return f"{count:,} contact" + ("" if count == 1 else "s")


# -- inputs -----------------------------------------------------------------------------------

def _is_base(source: Any) -> bool:
    from segexplore.model.base import ContactBase

    return isinstance(source, ContactBase)


def _segments(segments: Any, base: Any
              ) -> tuple[list[str], Any, Any, dict[str, frozenset[str]]]:
    """Names, the members, the base they come from and the fields each segment's rule reads.

    The members are a (contacts x segments) boolean matrix on a pandas base or DataFrame; on
    a DuckDB base a list of, per segment, the query of its members' positions (a Segment of
    that base: no mask leaves DuckDB) or a boolean array."""
    from segexplore.engines.server import ServerSegment
    from segexplore.model.segments import Segment

    if isinstance(segments, (Segment, ServerSegment)):
        segments = [segments]
    if isinstance(segments, Mapping):
        items = [(str(name), value) for name, value in segments.items()]
    elif isinstance(segments, Sequence) and not isinstance(segments, str):
        items = []
        for position, value in enumerate(segments):
            if not isinstance(value, (Segment, ServerSegment)):
                raise ParameterTypeError(
                    f"Value of 'segments' must be a list of Segment objects or a dict of "
                    f"name -> boolean mask but item {position} is a {type(value).__name__}")
            items.append((value.name, value))
    else:
        raise ParameterTypeError(f"Value of 'segments' must be a list of Segment objects or a "
                                 f"dict of name -> boolean mask but received: "
                                 f"{type(segments).__name__}")
    if not items:
        raise ParameterError("Value of 'segments' is empty: give at least one segment")
    names = [name for name, _ in items]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ParameterError(f"Value of 'segments' repeats the names {repeated}: give each "
                             f"segment a unique name")
    reserved = sorted(set(names) & {"degree", "size", "share"})
    if reserved:
        raise ParameterError(f"Value of 'segments' uses the names {reserved}, which are "
                             f"columns of the intersections table: rename those segments")
    if base is None:
        base = next((v.base for _, v in items if isinstance(v, (Segment, ServerSegment))),
                    None)
        if base is None:
            raise ParameterError("Value of 'base' is required when the segments are masks")
    if _on_server(base):
        return names, _server_members(items, base), base, {
            name: value.effective_rule.fields() for name, value in items}
    if _on_engine(base):
        return names, _duckdb_members(items, base), base, {
            name: value.effective_rule.fields() for name, value in items
            if isinstance(value, Segment)}
    index = base.contacts.index if _is_base(base) else getattr(base, "index", None)
    if index is None:
        raise ParameterTypeError(f"Value of 'base' must be a ContactBase or a DataFrame but "
                                 f"received: {type(base).__name__}")
    columns, fields = [], {}
    for name, value in items:
        if isinstance(value, Segment):
            if value.base is not base and not value.base.contacts.index.equals(index):
                raise ParameterError(f"Segment {name!r} belongs to another base than 'base'")
            fields[name] = value.effective_rule.fields()
            value = value.mask
        columns.append(mask_array(value, index, parameter=f"segments[{name!r}]"))
    return names, np.column_stack(columns), base, fields


def _on_engine(source: Any) -> bool:
    """Whether ``source`` is a DuckDB base or a connected one (counted in its engine)."""
    from segexplore.engines.duckdb import DuckDBBase

    return isinstance(source, DuckDBBase) or _on_server(source)


def _on_server(source: Any) -> bool:
    from segexplore.engines.server import ServerBase

    return isinstance(source, ServerBase)


def _server_members(items: list[tuple[str, Any]], base: Any) -> list[str]:
    """Per segment of a connected base, the engine's query of its members' ids."""
    from segexplore.engines.server import ServerSegment

    members = []
    for name, value in items:
        if not isinstance(value, ServerSegment):
            raise ParameterError(f"segments[{name!r}]: a connected base compares segments of "
                                 f"its own rules (base.segment(...)), not masks: its "
                                 f"contacts stay in the engine")
        if value.base._store is not base._store:
            raise ParameterError(f"Segment {name!r} belongs to another base than 'base'")
        members.append(base.sql(value.effective_rule))
    return members


def _duckdb_members(items: list[tuple[str, Any]], base: Any) -> list[Any]:
    """Per segment of a DuckDB base, the SQL of its members' positions (a Segment of the
    base) or a boolean array in the contacts' order (a mask, a Segment of a view)."""
    from segexplore.model.segments import Segment

    index = pd.RangeIndex(base.contact_count)
    members: list[Any] = []
    for name, value in items:
        if isinstance(value, Segment):
            if value.base is base:
                members.append(base.evaluator().sql(value.effective_rule))
                continue
            if not _on_engine(value.base) or value.base._store is not base._store:
                raise ParameterError(f"Segment {name!r} belongs to another base than 'base'")
            value = value.mask.to_numpy(dtype=bool)  # its own base's members, as in pandas
        members.append(mask_array(value, index, parameter=f"segments[{name!r}]"))
    return members


def _attributes(columns: Mapping[str, tuple[Any, str, str]], kinds: Mapping[str, str],
                attributes: Sequence[str] | None) -> list[tuple[str, str]]:
    """``(column, kind)`` of every attribute to compare (``columns``: a count source's)."""
    if attributes is None:
        return [(c, k) for c, k in kinds.items()
                if columns[c][1] in TESTED_ROLES
                and k in ("categorical", "boolean", "numeric", "date", "multi")]
    if isinstance(attributes, str):
        attributes = [attributes]
    chosen = []
    for column in attributes:
        if column not in kinds:
            raise ParameterError(f"Value of 'attributes' names {column!r}, which is not a "
                                 f"contact column or feature. Expected some of {list(kinds)}"
                                 f"{_did_you_mean(column, kinds)}")
        kind = kinds[column]
        if kind == "identifier":
            raise ParameterError(f"Value of 'attributes' names {column!r}, a {kind} column, "
                                 f"which cannot be compared; compare categorical, boolean, "
                                 f"numeric, date or multi-valued columns")
        chosen.append((column, "categorical" if kind == "text" else kind))
    return chosen


# -- attributes a rule implies ---------------------------------------------------------------


class _Collector:
    """Builds every table of the comparison while the attributes are walked once."""

    def __init__(self, names: list[str], n_base: int, alpha: float,
                 fields: dict[str, frozenset[str]]) -> None:
        self.names, self.n_base, self.alpha, self.fields = names, n_base, alpha, fields
        self.tests: list[dict[str, Any]] = []
        self.distributions: list[tuple] = []
        self.numeric: list[dict[str, Any]] = []
        self.base_numeric: list[dict[str, Any]] = []
        self.warnings: list[tuple[str, str, str, str]] = []
        self.attribute_rows: list[tuple] = []
        #: (segment, attribute) -> the field of the segment's rule that implies it
        self.implied: dict[tuple[str, str], str] = {}

    def warn(self, segment: str, versus: str, attribute: str, text: str) -> None:
        self.warnings.append((segment, versus, attribute, text))

    def attribute(self, column: str, role: str, kind: str, encoded: Encoded,
                  counts: tuple[np.ndarray, np.ndarray], sizes: np.ndarray,
                  pairwise: bool) -> None:
        base, per_segment = counts
        if np.count_nonzero(base) < 2:
            self.warn("", "", column, "a single value in the whole base: not compared")
            return
        opponents = self._opponents(sizes, pairwise)
        if kind in ("categorical", "boolean"):
            labels, base, per_segment = pool_rare(encoded.labels, base, per_segment,
                                                  MAX_CATEGORIES)
            self.attribute_rows.append((column, role, kind, int(np.count_nonzero(base))))
            shown = np.flatnonzero(base)
            base_shares = base[shown] / self.n_base
            for s, name in enumerate(self.names):
                shares = per_segment[shown, s] / sizes[s] if sizes[s] else \
                    np.full(len(shown), np.nan)
                self.distributions.extend(zip(
                    [name] * len(shown), [column] * len(shown), [labels[i] for i in shown],
                    per_segment[shown, s].tolist(), shares.tolist(), base_shares.tolist(),
                    (100 * shares / base_shares).tolist(), strict=True))

            def run(a: int, b: int | None) -> dict[str, Any] | str:
                first = per_segment[:, a]
                second = base - first if b is None else per_segment[:, b]
                result = _categorical_test(first, second)
                if isinstance(result, dict):
                    result.update(segment_n=int(first.sum()), rest_n=int(second.sum()))
                return result
        else:
            numbers = _Numbers(encoded, base, per_segment)
            self.attribute_rows.append((column, role, kind, int(np.count_nonzero(base[:-1]))))
            self.base_numeric.append({"attribute": column, "kind": kind,
                                      **numbers.summary(None)})
            for s, name in enumerate(self.names):
                self.numeric.append({"segment": name, "attribute": column, "kind": kind,
                                     **numbers.summary(s)})
            run = numbers.test
        for a, b in opponents:
            versus = "rest" if b is None else self.names[b]
            result = run(a, b)
            if isinstance(result, str):
                self.warn(self.names[a], versus, column, result)
                continue
            if result["warning"]:
                self.warn(self.names[a], versus, column, result["warning"])
            self.tests.append({"segment": self.names[a], "versus": versus, "attribute": column,
                               "kind": kind, **result})

    def _opponents(self, sizes: np.ndarray, pairwise: bool) -> list[tuple[int, int | None]]:
        """``(segment, other)`` of every test: other None is the rest of the base."""
        opponents: list[tuple[int, int | None]] = [(s, None) for s in range(len(self.names))
                                                   if 0 < sizes[s] < self.n_base]
        if pairwise:
            opponents += [(a, b) for a in range(len(self.names))
                          for b in range(a + 1, len(self.names)) if sizes[a] and sizes[b]]
        return opponents

    def tags(self, column: str, role: str, tags: Tags, counts: tuple[np.ndarray, np.ndarray],
             sizes: np.ndarray, pairwise: bool) -> None:
        """A multi-valued attribute: one 2x2 table (has the tag or not) per kept tag."""
        if not tags.names:
            self.warn("", "", column, "no tag in the whole base: not compared")
            return
        if tags.dropped:
            self.warn("", "", column, f"{tags.dropped:,} rarer tags not compared (only the "
                                      f"{MAX_TAGS} most frequent are)")
        self.attribute_rows.append((column, role, "multi", len(tags.names)))
        base, per_segment = counts
        base_tags = base @ tags.indicator  # contacts holding each tag
        member_tags = tags.indicator.T @ per_segment  # (tag, segment)
        base_shares = base_tags / self.n_base
        n_tags = len(tags.names)
        for s, name in enumerate(self.names):
            shares = member_tags[:, s] / sizes[s] if sizes[s] else np.full(n_tags, np.nan)
            self.distributions.extend(zip(
                [name] * n_tags, [column] * n_tags, tags.names, member_tags[:, s].tolist(),
                shares.tolist(), base_shares.tolist(), (100 * shares / base_shares).tolist(),
                strict=True))
        opponents = self._opponents(sizes, pairwise)
        for t, tag in enumerate(tags.names):
            for a, b in opponents:
                versus = "rest" if b is None else self.names[b]
                holding, size = member_tags[t, a], sizes[a]
                if b is None:
                    others, other_size = base_tags[t] - holding, self.n_base - size
                else:
                    others, other_size = member_tags[t, b], sizes[b]
                # [has the tag, has not]: Fisher's odds ratio > 1 when members hold it more
                result = _categorical_test(np.array([holding, size - holding]),
                                           np.array([others, other_size - others]))
                if isinstance(result, str):
                    self.warn(self.names[a], versus, column, f"tag {tag!r}: {result}")
                    continue
                if result["warning"]:
                    self.warn(self.names[a], versus, column,
                              f"tag {tag!r}: {result['warning']}")
                self.tests.append({"segment": self.names[a], "versus": versus,
                                   "attribute": column, "tag": tag, "kind": "multi", **result,
                                   "segment_n": int(size), "rest_n": int(other_size)})

    def build(self, groups: Groups | Patterns, expected: pd.DataFrame) -> Comparison:
        for s, name in enumerate(self.names):
            if groups.sizes[s] == 0:
                self.warn(name, "rest", "", "the segment is empty: no test")
            elif groups.sizes[s] == self.n_base:
                self.warn(name, "rest", "", "the segment is the whole base: no test")
        tests = pd.DataFrame(self.tests, columns=list(TEST_COLUMNS))
        tested = tests["p_value"].notna().to_numpy()
        adjusted = np.full(len(tests), np.nan)
        if tested.any():
            adjusted[tested] = benjamini_hochberg(
                tests.loc[tested, "p_value"].to_numpy(dtype=float))
        tests["p_adjusted"] = adjusted
        tests["significant"] = adjusted < self.alpha
        for column in ("segment_mean", "rest_mean", "segment_median", "rest_median"):
            tests[column] = tests[column].astype(object)
        tests["warning"] = tests["warning"].fillna("")
        tests["tag"] = tests["tag"].astype(object)  # missing for attributes without tags
        distributions = pd.DataFrame(self.distributions, columns=[
            "segment", "attribute", "value", "count", "share", "base_share", "index"])
        distributions["value"] = distributions["value"].astype(object)
        numeric = _stats_frame(self.numeric, ["segment", "attribute", "kind"])
        base_numeric = _stats_frame(self.base_numeric, ["attribute", "kind"])
        return Comparison(
            segments=tuple(self.names), n_base=self.n_base, alpha=self.alpha,
            sizes=_sizes(self.names, groups, self.n_base),
            overlap=_overlap(self.names, groups),
            intersections=_intersections(self.names, groups, self.n_base),
            tests=tests, distributions=distributions, numeric=numeric,
            base_numeric=base_numeric,
            differences=differences(self.names, tests, distributions, self.fields,
                                     self.implied),
            expected=expected,
            warnings=pd.DataFrame(self.warnings,
                                  columns=["segment", "versus", "attribute", "warning"]),
            attributes=pd.DataFrame(self.attribute_rows,
                                    columns=["attribute", "role", "kind", "n_values"]))


def _stats_frame(rows: list[dict[str, Any]], keys: list[str]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=keys + list(SUMMARY_STATS))
    for column in SUMMARY_STATS[2:]:
        frame[column] = frame[column].astype(object)  # numbers and dates side by side
    return frame


def _sizes(names: list[str], groups: Groups | Patterns, n_base: int) -> pd.DataFrame:
    return pd.DataFrame({"segment": names, "size": groups.sizes,
                         "share": groups.sizes / n_base if n_base else np.nan})


def _overlap(names: list[str], groups: Groups | Patterns) -> pd.DataFrame:
    both = groups.both()
    sizes = groups.sizes
    union = sizes[:, None] + sizes[None, :] - both
    with np.errstate(invalid="ignore", divide="ignore"):
        jaccard = np.where(union > 0, both / union, np.nan)
        share = np.where(sizes[:, None] > 0, both / sizes[:, None], np.nan)
    k = len(names)
    return pd.DataFrame({"segment_a": np.repeat(names, k), "segment_b": np.tile(names, k),
                         "both": both.reshape(-1), "jaccard": jaccard.reshape(-1),
                         "share_of_a": share.reshape(-1)})


def _intersections(names: list[str], groups: Groups | Patterns, n_base: int) -> pd.DataFrame:
    keep = groups.patterns.any(axis=1)
    frame = pd.DataFrame(groups.patterns[keep], columns=names)
    frame["degree"] = groups.patterns[keep].sum(axis=1)
    frame["size"] = groups.pattern_sizes[keep].astype(np.int64)
    frame["share"] = frame["size"] / n_base
    return frame.sort_values(["size", "degree"], ascending=[False, True],
                             kind="stable").reset_index(drop=True)


def _expected(rate: Any, counts: Any, known: list[str], sizes: np.ndarray, names: list[str],
              alpha: float, collector: _Collector) -> pd.DataFrame:
    """Historical conversion rate of each segment, its Wilson interval, expected conversions."""
    columns = ["segment", "size", "conversions", "rate", "rate_low", "rate_high",
               "expected_conversions", "expected_low", "expected_high", "base_rate", "lift"]
    if rate is None:
        return pd.DataFrame(columns=columns)
    if isinstance(rate, str):
        if rate not in known:
            if rate == "purchases_90d":  # the default, on a table without features
                collector.warn("", "", rate, "no 'purchases_90d' column: no expected "
                               "conversions (pass rate=)")
                return pd.DataFrame(columns=columns)
            raise ParameterError(f"Value of 'rate' is not a column or feature. Expected one of "
                                 f"{known} but received: {rate!r}"
                                 f"{_did_you_mean(rate, known)}")
        converted_base, converted = counts.conversions(rate)
    else:
        index = counts.table.index if isinstance(counts, FrameCounts) \
            else pd.RangeIndex(counts.n_base)
        converted_base, converted = counts.conversions(
            None, mask_array(rate, index, parameter="rate"))
    n_base = counts.n_base
    base_rate = converted_base / n_base if n_base else math.nan
    rows = []
    for s, name in enumerate(names):
        size, conversions = int(sizes[s]), int(converted[s])
        low, high = wilson_interval(conversions, size, alpha)
        value = conversions / size if size else math.nan
        rows.append((name, size, conversions, value, low, high, size * value if size else 0.0,
                     size * low if size else 0.0, size * high if size else 0.0, base_rate,
                     value / base_rate if base_rate else math.nan))
    return pd.DataFrame(rows, columns=columns)


# -- plain-language readings ------------------------------------------------------------------
