"""Which attributes a segment's rule implies in the base: the attributes no finding
should restate (``department`` given ``region = "Île-de-France"``, ``revenue_90d`` given a
90-day purchase). :func:`~segexplore.analysis.compare.compare` measures it with
:class:`ImpliedAttributes` and leaves those attributes out of the findings."""

from __future__ import annotations

import numpy as np

from segexplore.analysis.attributes import AttributeTable, attribute_kind
from segexplore.analysis.encoding import Encoded, Groups, encode

__all__ = ["IMPLIED_ENTROPY", "RULE_ITSELF", "ImpliedAttributes"]

#: An attribute is implied by a field of the rule when either one leaves at most this share
#: of the other's uncertainty (entropy) once known.
IMPLIED_ENTROPY = 0.05
#: ``implied_by`` of an attribute implied by the rule as a whole (see :class:`ImpliedAttributes`).
RULE_ITSELF = "the rule"
#: Numbers and dates are cut into this many bins of (about) equal counts to measure it.
_DEPENDENCE_BINS = 20
#: Categories held by fewer contacts are one code (a value seen a few times tells nothing).
_RARE_VALUE = 10


class ImpliedAttributes:
    """Which attributes a segment's rule implies, measured on the base.

    For each field ``A`` of a segment's rule (a contact column or feature) let ``A*`` be
    "the contact's value of ``A`` is one the segment's members hold" (``region`` is
    Île-de-France; ``purchases_90d`` is 1 or more). An attribute ``B`` is implied by ``A``
    when, over the whole base,

    * ``B`` determines ``A*``: ``H(A* | B) <= IMPLIED_ENTROPY * H(A*)`` (each department,
      city or postal code lies in one region; a 90-day revenue above 0 means a 90-day
      purchase), or
    * ``A`` determines ``B``: ``H(B | A) <= IMPLIED_ENTROPY * H(B)`` (the region gives the
      country).

    The rule as a whole is one more ``A`` (named :data:`RULE_ITSELF`), with ``A*`` and
    ``A`` "in the segment": an attribute that (nearly) determines membership restates the
    rule, which catches the conditions that read no column, such as
    ``count(purchase, last 90 days) >= 1`` (``purchases_90d``) or ``segment("VIP")``.

    ``H`` is the entropy of the counts; numbers and dates are cut into
    ``_DEPENDENCE_BINS`` bins of about equal counts (a value held by many contacts, such
    as 0, stays a bin of its own), categories held by fewer than ``_RARE_VALUE`` contacts
    are pooled, so that a column with nearly one value per contact does not "determine"
    everything.
    """

    def __init__(self, table: AttributeTable, names: list[str],
                 fields: dict[str, frozenset[str]], groups: Groups) -> None:
        self.names, self.fields = names, fields
        self.rules: dict[str, list[tuple[str, np.ndarray, int, np.ndarray, float]]] = {}
        coded: dict[str, tuple[Encoded, np.ndarray, np.ndarray, int]] = {}
        for s, name in enumerate(names):
            for column in sorted(fields.get(name, ())):
                if column not in table.columns:
                    continue  # an event condition, a saved segment
                kind = attribute_kind(table.columns[column], table.roles.get(column, "text"))
                kind = "categorical" if kind == "text" else kind
                if kind not in ("categorical", "boolean", "numeric", "date"):
                    continue
                if column not in coded:
                    encoded = encode(table.columns[column], kind)
                    base, per_segment = groups.counts(encoded.codes, encoded.n_bins)
                    coarse, n_coarse = _coarse(encoded, base, kind)
                    coded[column] = (encoded, per_segment, coarse, n_coarse)
                encoded, per_segment, coarse, n_coarse = coded[column]
                star = (per_segment[:, s] > 0)[encoded.codes].astype(np.intp)
                h_star = _entropy(np.bincount(star, minlength=2))
                if h_star > 0:
                    self.rules.setdefault(name, []).append(
                        (column, coarse, n_coarse, star, h_star))
            if name in fields:  # a Segment: its rule as a whole (event conditions too)
                member = groups.members[:, s].astype(np.intp)
                h_member = _entropy(np.bincount(member, minlength=2))
                if h_member > 0:
                    self.rules.setdefault(name, []).append(
                        (RULE_ITSELF, member, 2, member, h_member))

    def implying(self, column: str, kind: str, encoded: Encoded, base: np.ndarray
                 ) -> dict[str, str]:
        """``{segment: rule field}`` for the segments whose rule implies ``column``."""
        if not self.rules:
            return {}
        coarse, n_coarse = _coarse(encoded, base, kind)
        h_b = _entropy(np.bincount(coarse, minlength=n_coarse))
        found: dict[str, str] = {}
        for name, rule_fields in self.rules.items():
            if column in self.fields.get(name, ()):
                continue  # in the rule: in_rule says so
            for field_name, a, n_a, star, h_star in rule_fields:
                if field_name == column:
                    continue
                if (_conditional_entropy(star, 2, coarse, n_coarse)
                        <= IMPLIED_ENTROPY * h_star
                        or (h_b > 0 and _conditional_entropy(coarse, n_coarse, a, n_a)
                            <= IMPLIED_ENTROPY * h_b)):
                    found[name] = field_name
                    break
        return found


def _coarse(encoded: Encoded, base: np.ndarray, kind: str) -> tuple[np.ndarray, int]:
    """Codes for measuring dependence, and how many there are (see :class:`ImpliedAttributes`)."""
    n = encoded.n_bins
    known = base[:-1]
    if kind in ("categorical", "boolean"):
        lookup = np.arange(n, dtype=np.intp)
        lookup[:-1][known < _RARE_VALUE] = n  # the rare values: one code
        return lookup[encoded.codes], n + 1
    if n - 1 <= _DEPENDENCE_BINS:
        return encoded.codes, n
    total = known.sum()
    below = (np.cumsum(known) - known) / total if total else np.zeros(len(known))
    bins = np.minimum((below * _DEPENDENCE_BINS).astype(np.intp), _DEPENDENCE_BINS - 1)
    return np.r_[bins, _DEPENDENCE_BINS].astype(np.intp)[encoded.codes], _DEPENDENCE_BINS + 1


def _entropy(counts: np.ndarray) -> float:
    total = counts.sum()
    if not total:
        return 0.0
    p = counts[counts > 0] / total
    return float(-(p * np.log(p)).sum())


def _conditional_entropy(x: np.ndarray, n_x: int, y: np.ndarray, n_y: int) -> float:
    """``H(X | Y)`` of two code arrays (``n_x``, ``n_y`` codes)."""
    if n_x * n_y <= 1 << 22:
        joint = np.bincount(y * n_x + x, minlength=n_x * n_y)
    else:
        joint = np.unique(y.astype(np.int64) * n_x + x, return_counts=True)[1]
    return _entropy(joint) - _entropy(np.bincount(y, minlength=n_y))


# -- collecting the tables --------------------------------------------------------------------
