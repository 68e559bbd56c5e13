"""Which attributes a segment's rule implies in the base: the attributes no finding
should restate (``department`` given ``region = "Île-de-France"``, ``revenue_90d`` given a
90-day purchase). :func:`~segexplore.analysis.compare.compare` measures it with
:class:`ImpliedAttributes` and leaves those attributes out of the findings."""

from __future__ import annotations

from typing import Any

import numpy as np

from segexplore.analysis.counts import Coding
from segexplore.analysis.encoding import Encoded

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

    Everything is read off count tables (an attribute's counts per bin, and the joint counts
    of a rule field's codes with the attribute's), so that an engine whose contacts stay
    elsewhere measures it alike: ``source`` is a count source of
    :mod:`segexplore.analysis.counts`, ``kinds`` the kind of each of its columns.
    """

    def __init__(self, source: Any, names: list[str], fields: dict[str, frozenset[str]],
                 kinds: dict[str, str]) -> None:
        self.source, self.names, self.fields = source, names, fields
        #: segment -> (field, coding of its (coarse code, in A*) pairs, coarse codes, H(A*))
        self.rules: dict[str, list[tuple[str, Coding, int, float]]] = {}
        n_base = source.n_base
        for s, name in enumerate(names):
            for column in sorted(fields.get(name, ())):
                kind = kinds.get(column)
                if kind is None:
                    continue  # an event condition, a saved segment
                kind = "categorical" if kind == "text" else kind
                if kind not in ("categorical", "boolean", "numeric", "date"):
                    continue
                encoded, base, per_segment = source.counts(column, kind, keep=True)
                coarse, n_coarse = _coarse(encoded, base, kind)
                star = (per_segment[:, s] > 0).astype(np.intp)  # A* of each bin
                h_star = _entropy(_weighted(star, base, 2))
                if h_star > 0:
                    # one code per (coarse value, in A*): both conditional entropies
                    lookup = coarse * 2 + star
                    coding = Coding(2 * n_coarse, column, kind, lookup,
                                    per_contact=lookup[encoded.codes]
                                    if len(encoded.codes) else None)
                    self.rules.setdefault(name, []).append((column, coding, n_coarse, h_star))
            if name in fields:  # a Segment: its rule as a whole (event conditions too)
                size = int(source.patterns().sizes[s])
                h_member = _entropy(np.array([n_base - size, size], dtype=np.int64))
                if h_member > 0:
                    self.rules.setdefault(name, []).append(
                        (RULE_ITSELF, Coding(2, segment=s), 0, h_member))

    def prepare(self, attributes: list[tuple[str, str]]) -> None:
        """Tell a source that scans for each joint count (a DuckDB base) every joint that
        :meth:`implying` will ask of ``attributes`` (``(column, kind)``), so that it codes the
        contacts once for all of them."""
        if not self.rules or not self.source.prepares_joints:
            return
        firsts = [entry[1] for entries in self.rules.values() for entry in entries]
        seconds = []
        for column, kind in attributes:
            if kind != "multi":
                encoded, base, _ = self.source.counts(column, kind, keep=True)
                seconds.append(self.coding(column, kind, encoded, base))
        self.source.prepare_joints(firsts, seconds)

    def coding(self, column: str, kind: str, encoded: Encoded, base: np.ndarray) -> Coding:
        """The coarse codes of an attribute (see :func:`_coarse`) for its joint counts."""
        coarse, n_coarse = _coarse(encoded, base, kind)
        return Coding(n_coarse, column, kind, coarse,
                      per_contact=coarse[encoded.codes] if len(encoded.codes) else None)

    def implying(self, column: str, kind: str, encoded: Encoded, base: np.ndarray
                 ) -> dict[str, str]:
        """``{segment: rule field}`` for the segments whose rule implies ``column``."""
        if not self.rules:
            return {}
        attribute = self.coding(column, kind, encoded, base)
        coarse, n_coarse = attribute.lookup, attribute.n_codes
        h_b = _entropy(_weighted(coarse, base, n_coarse))
        asked = [(name, entry) for name, rule_fields in self.rules.items()
                 if column not in self.fields.get(name, ())  # in the rule: in_rule says so
                 for entry in rule_fields if entry[0] != column]
        # every joint count at once: one scan of the base on an engine that scans
        joints = self.source.joints([entry[1] for _, entry in asked], attribute)
        found: dict[str, str] = {}
        for i, (name, (field_name, coding, n_a, h_star)) in enumerate(asked):
            if name in found:
                continue  # the first field of the rule that implies it names it
            pair, b, n = joints[i]
            # a segment's coding is membership itself: A* and A are the same code
            star, a = (pair, pair) if coding.column is None else (pair % 2, pair // 2)
            n_a = 2 if coding.column is None else n_a
            if (_conditional_entropy(star, 2, b, n_coarse, n) <= IMPLIED_ENTROPY * h_star
                    or (h_b > 0 and _conditional_entropy(b, n_coarse, a, n_a, n)
                        <= IMPLIED_ENTROPY * h_b)):
                found[name] = field_name
        return found


def _coarse(encoded: Encoded, base: np.ndarray, kind: str) -> tuple[np.ndarray, int]:
    """The code of each bin for measuring dependence, and how many codes there are (see
    :class:`ImpliedAttributes`)."""
    n = encoded.n_bins
    known = base[:-1]
    if kind in ("categorical", "boolean"):
        lookup = np.arange(n, dtype=np.intp)
        lookup[:-1][known < _RARE_VALUE] = n  # the rare values: one code
        return lookup, n + 1
    if n - 1 <= _DEPENDENCE_BINS:
        return np.arange(n, dtype=np.intp), n
    total = known.sum()
    below = (np.cumsum(known) - known) / total if total else np.zeros(len(known))
    bins = np.minimum((below * _DEPENDENCE_BINS).astype(np.intp), _DEPENDENCE_BINS - 1)
    return np.r_[bins, _DEPENDENCE_BINS].astype(np.intp), _DEPENDENCE_BINS + 1


def _weighted(codes: np.ndarray, counts: np.ndarray, n_codes: int) -> np.ndarray:
    """Contacts per code, from the code of each bin and the contacts of each bin (exact:
    the sums of counts stay far below 2**53)."""
    return np.bincount(codes, weights=counts, minlength=n_codes).astype(np.int64)


def _entropy(counts: np.ndarray) -> float:
    total = counts.sum()
    if not total:
        return 0.0
    p = counts[counts > 0] / total
    return float(-(p * np.log(p)).sum())


def _conditional_entropy(x: np.ndarray, n_x: int, y: np.ndarray, n_y: int,
                         counts: np.ndarray) -> float:
    """``H(X | Y)`` from the pairs of codes held (``x``, ``y``) and their contacts.

    The joint counts are summed in the order of ``y * n_x + x``, as a ``bincount`` of the
    contacts' codes would hold them, so the entropy is the same to the bit.
    """
    keys, inverse = np.unique(y.astype(np.int64) * n_x + x, return_inverse=True)
    joint = np.bincount(inverse.reshape(-1), weights=counts, minlength=len(keys))
    return _entropy(joint.astype(np.int64)) - _entropy(_weighted(y, counts, n_y))
