"""``Segment``: a named rule evaluated on a base — a filter, never a deletion."""

from __future__ import annotations

import os
import sys
import warnings
from html import escape
from typing import Any

import pandas as pd

from segexplore.errors import (
    BaseFrozenError,
    RuleEvaluationError,
    RuleValueWarning,
    closest_name,
)
from segexplore.model import hooks
from segexplore.model.pii import mask_pii as pseudonymise

__all__ = ["Membership", "Segment", "new_segment"]


class _State:
    """What a segment's membership on one base depends on besides the base itself (which
    does not change): the tables' version (an erasure replaces them), the saved segments
    its rule refers to, and the parent's mask."""

    __slots__ = ("version", "refs", "parent_mask")

    def __init__(self, base: Any, refs: frozenset[str],
                 parent_mask: pd.Series | None) -> None:
        self.version = base._tables.version
        self.refs = _saved_refs(base, refs) if refs else ()
        self.parent_mask = parent_mask

    def same_as(self, other: _State) -> bool:
        return (self.version == other.version
                and len(self.refs) == len(other.refs)
                and all(n == m and s is t for (n, s), (m, t) in zip(self.refs, other.refs,
                                                                    strict=True))
                and self.parent_mask is other.parent_mask)


def _saved_refs(base: Any, names: frozenset[str]) -> tuple[tuple[str, Any], ...]:
    """(name, saved segment or rule) of every saved segment reached from ``names``."""
    found: dict[str, Any] = {}
    todo = list(names)
    while todo:
        name = todo.pop()
        if name in found:
            continue
        saved = found[name] = base.segments.get(name)
        if saved is not None:
            inner = saved.effective_rule if isinstance(saved, Segment) else saved
            todo.extend(inner.segment_refs())
    return tuple(sorted(found.items(), key=lambda item: item[0]))


_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _caller_stacklevel() -> int:
    """The ``stacklevel`` that points a warning at the first frame outside segexplore."""
    level, frame = 1, sys._getframe(1)
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(
            _PACKAGE_DIR + os.sep):
        level += 1
        frame = frame.f_back
    return level


def _warn_value_hints(segment: Segment) -> None:
    """Warn once, when the segment is made, about values that match nobody (typos)."""
    if not segment._hinted:
        return
    for message in hooks.get("value_hints")(segment.rule, segment.base):
        where = f"segment {segment.name!r}: " if segment.name != segment.text else ""
        warnings.warn(where + message, RuleValueWarning, stacklevel=_caller_stacklevel())


class Membership:
    """Who is in a segment on one base: the mask, its size and share, the members.

    Made by ``segment.on(base)`` or ``base.evaluate(segment)``; it belongs to that base
    (its date, its tables), so nothing in it can go stale.

    Examples
    --------
    >>> import segexplore as se
    >>> base = se.load_sample()
    >>> android = base.segment('device = "Android"')
    >>> june = android.on(base.at("2026-06-30"))
    >>> june.size == int(june.mask.sum()), f"{june.base.as_of:%Y-%m-%d}"
    (True, '2026-06-30')
    """

    __slots__ = ("segment", "base", "mask")

    def __init__(self, segment: Segment, base: Any, mask: pd.Series) -> None:
        object.__setattr__(self, "segment", segment)
        object.__setattr__(self, "base", base)
        object.__setattr__(self, "mask", mask)

    def __setattr__(self, name: str, value: Any) -> None:
        raise BaseFrozenError("a Membership does not change; evaluate the segment again")

    @property
    def size(self) -> int:
        """Number of member contacts."""
        return int(self.mask.sum())

    @property
    def share(self) -> float:
        """Members as a share of the whole base (0..1)."""
        total = len(self.mask)
        return self.size / total if total else 0.0

    def members(self, columns: list[str] | None = None, *, mask_pii: bool = False) -> pd.DataFrame:
        """The member contacts with their columns and the features the rule uses.

        Parameters
        ----------
        columns : list of str, optional
            Restrict to these contact or feature columns (``contact_id`` always first).
        mask_pii : bool, default False
            Pseudonymise emails and names (see :func:`segexplore.model.pii.mask_pii`).
        """
        if mask_pii:
            return pseudonymise(self.members(columns))
        feature_names = hooks.get("feature_names")
        used = [f for f in self.segment.effective_rule.fields() if f in feature_names]
        return self.base._member_rows(self.mask, columns, used)

    def __repr__(self) -> str:
        return (f"Membership({self.segment.name!r}: {self.size:,} contacts, {self.share:.1%} "
                f"of the base, as of {self.base.as_of:%Y-%m-%d})")


class Segment:
    """A named rule over a :class:`ContactBase`, optionally inside a parent segment.

    Membership is a boolean mask over the contacts; deleting a segment never deletes a
    contact. A segment built on a parent is the parent AND its own rule.

    Parameters
    ----------
    base : ContactBase
    rule : Rule or str
        The rule, or its text form (parsed with :func:`segexplore.parse`).
    name, description : str
    parent : Segment, optional

    Examples
    --------
    >>> import segexplore as se
    >>> base = se.load_sample()
    >>> android = base.segment('device = "Android"', name="Android")
    >>> 0 < android.size < len(base.contacts)
    True
    >>> lyon = base.segment('city = "Lyon"', name="Android in Lyon", parent=android)
    >>> str(lyon.effective_rule)
    'device = "Android" and city = "Lyon"'
    """

    #: Whether making one warns about values that match nobody (a static segment's ids
    #: are no typos).
    _hinted = True

    def __init__(self, base: Any, rule: Any, *, name: str | None = None,
                 description: str = "", parent: Segment | None = None) -> None:
        set_ = object.__setattr__
        try:
            set_(self, "text", rule if isinstance(rule, str) else str(rule))
        except RecursionError:  # a rule built in Python thousands of levels deep
            raise RuleEvaluationError("the rule is nested too deeply to use (and/or/not "
                                      "inside each other thousands of levels deep); flatten "
                                      "it, e.g. And(*conditions)") from None
        set_(self, "rule", hooks.get("parse")(rule) if isinstance(rule, str) else rule)
        set_(self, "name", name if name is not None else self.text)
        set_(self, "description", description)
        set_(self, "parent", parent)
        set_(self, "base", base)
        set_(self, "_memberships", {})  # id(base) -> (base, state, Membership)
        set_(self, "_refs", self.rule.segment_refs())  # the parent's are in its own mask
        _warn_value_hints(self)

    def __setattr__(self, name: str, value: Any) -> None:
        raise BaseFrozenError(f"a Segment does not change once made (setting {name!r}): "
                              "make another with base.segment(...)")

    def on(self, base: Any) -> Membership:
        """Who is in this segment on ``base`` (this segment's base at another date, or
        another base with the same columns): a :class:`Membership`.

        Asking again on the same base gives the same Membership, unless a saved segment
        the rule refers to was redefined or an erasure replaced the tables.
        """
        parent = self.parent.on(base) if self.parent is not None else None
        parent_mask = parent.mask if parent is not None else None
        state = _State(base, self._refs, parent_mask)
        held = self._memberships.get(id(base))
        if held is not None and held[0] is base and held[1].same_as(state):
            return held[2]
        own = base.evaluator().mask(self.rule, text=self.text)
        if parent_mask is not None:
            own = own & parent_mask
        membership = Membership(self, base, own.rename(self.name))
        if len(self._memberships) > 8:  # views of other dates come and go
            self._memberships.clear()
        self._memberships[id(base)] = (base, state, membership)
        return membership

    @property
    def effective_rule(self) -> Any:
        """The parent's effective rule AND this rule."""
        if self.parent is None:
            return self.rule
        return self.parent.effective_rule & self.rule

    @property
    def mask(self) -> pd.Series:
        """Boolean Series over ``base.contacts`` (same index), True for members: the mask
        of ``segment.on(segment.base)``."""
        return self.on(self.base).mask

    @property
    def size(self) -> int:
        """Number of member contacts."""
        return self.on(self.base).size

    @property
    def share(self) -> float:
        """Members as a share of the whole base (0..1)."""
        return self.on(self.base).share

    def members(self, columns: list[str] | None = None, *, mask_pii: bool = False) -> pd.DataFrame:
        """The member contacts with their columns and the features the rule uses
        (see :meth:`Membership.members`)."""
        return self.on(self.base).members(columns, mask_pii=mask_pii)

    def __repr__(self) -> str:
        parent = f" in {self.parent.name!r}" if self.parent is not None else ""
        return (f"Segment({self.name!r}{parent}: {self.size:,} contacts, {self.share:.1%} of "
                f"the base, as of {self.base.as_of:%Y-%m-%d})\n  rule: {self.text}")

    def _repr_html_(self) -> str:
        parent = (f" &middot; inside <em>{escape(self.parent.name)}</em>"
                  if self.parent is not None else "")
        return (f"<div><strong>{escape(self.name)}</strong>{parent}<br>"
                f"<span style='font-size:1.4em'>{self.size:,}</span> contacts "
                f"({self.share:.1%} of {len(self.mask):,}), as of {self.base.as_of:%Y-%m-%d}"
                f"<br><code>{escape(self.text)}</code>"
                + (f"<br><em>{escape(self.description)}</em>" if self.description else "")
                + "</div>")

    def explain(self, contact: Any) -> pd.DataFrame:
        """Why one contact (email or contact_id) is in this segment or not: one row per
        condition of the rule, with the contact's value, the threshold and the result
        (see :func:`segexplore.rules.explain.explain`)."""
        return hooks.get("explain")(self, self.base, contact)

    def freeze(self, name: str, *, folder: Any = None, description: str = ""):
        """Fix the members now, as a static segment ``name`` saved on the base: it keeps
        them when the data or the date change (see :mod:`segexplore.delivery.lists`);
        written to ``folder`` when given (read back by ``se.read_static``)."""
        return hooks.get("freeze")(self, name, folder=folder, description=description)

    def profile(self, **options: Any):
        """A :class:`~segexplore.analysis.profile.Profile` of the members only."""
        options.setdefault("name", self.name)
        return hooks.get("profile")(self.base, mask=self.mask, **options)

    # --- export (segexplore.delivery.export) ----------------------------------------------
    def waterfall(self, **options: Any):
        """The sendable-contacts waterfall: matched -> valid email -> consented -> not
        suppressed -> de-duplicated -> exported (see :func:`~segexplore.delivery.export.sendable_waterfall`)."""
        return hooks.get("sendable_waterfall")(self, **options)

    def to_csv(self, path, **options: Any):
        """Write the contacts of this segment who may be emailed, with a manifest.

        See :func:`segexplore.delivery.export.export_segment` for ``columns``, ``preset``
        (``"mailchimp"``, ``"brevo"``), ``excel`` and ``suppressions``.
        """
        return hooks.get("export_segment")(self, path, **options)

    def split(self, **options: Any) -> pd.DataFrame:
        """Seeded random A/B/holdout split (see :func:`segexplore.delivery.split.split`)."""
        return hooks.get("split")(self, **options)

    def export_split(self, directory, **options: Any):
        """One file per split group, the split in each manifest."""
        return hooks.get("export_split")(self, directory, **options)

    def to_dict(self) -> dict[str, Any]:
        """Name, description, parent name and rule (text and JSON form)."""
        return {"name": self.name, "description": self.description,
                "parent": self.parent.name if self.parent is not None else None,
                "rule": self.text, "rule_json": self.rule.to_dict()}


def new_segment(base: Any, rule: Any, *, name: str | None = None, description: str = "",
                parent: Any = None, save: bool = True) -> Segment:
    """A :class:`Segment` of ``base``, saved in ``base.segments`` when named: what every
    engine's ``base.segment(...)`` does (see :meth:`ContactBase.segment
    <segexplore.model.base.ContactBase.segment>`)."""
    if isinstance(parent, str):
        if parent not in base.segments:
            guess = closest_name(parent, base.segments)
            hint = f"; did you mean {guess!r}?" if guess else ""
            raise RuleEvaluationError(f"unknown parent segment {parent!r}{hint}")
        parent = base.segments[parent]
    segment = Segment(base, rule, name=name, description=description, parent=parent)
    if name is not None and save:
        base.segments[name] = segment
    return segment
