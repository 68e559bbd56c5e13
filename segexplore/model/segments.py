"""``Segment``: a named rule evaluated on a base — a filter, never a deletion."""

from __future__ import annotations

import os
import sys
import warnings
import weakref
from html import escape
from typing import Any

import pandas as pd

from segexplore.errors import RuleEvaluationError, RuleValueWarning
from segexplore.model import hooks
from segexplore.model.pii import mask_pii as pseudonymise

__all__ = ["Segment"]


class _State:
    """What a segment's mask depends on: the base's as_of, its tables (by identity, held
    weakly), the saved segments its rule refers to, and the parent's mask."""

    __slots__ = ("as_of", "tables", "refs", "parent_mask")

    def __init__(self, base: Any, refs: frozenset[str],
                 parent_mask: pd.Series | None) -> None:
        self.as_of = base.as_of
        self.tables = tuple(None if t is None else weakref.ref(t)
                            for t in (base.contacts, base.events, base.orders))
        self.refs = _saved_refs(base, refs) if refs else ()
        self.parent_mask = parent_mask

    def same_as(self, other: _State) -> bool:
        return (self.as_of == other.as_of
                and all((a is None and b is None) or (a is not None and b is not None
                                                      and a() is not None and a() is b())
                        for a, b in zip(self.tables, other.tables, strict=True))
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
    for message in hooks.get("value_hints")(segment.rule, segment.base):
        where = f"segment {segment.name!r}: " if segment.name != segment.text else ""
        warnings.warn(where + message, RuleValueWarning, stacklevel=_caller_stacklevel())


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

    def __init__(self, base: Any, rule: Any, *, name: str | None = None,
                 description: str = "", parent: Segment | None = None) -> None:
        try:
            self.text = rule if isinstance(rule, str) else str(rule)
        except RecursionError:  # a rule built in Python thousands of levels deep
            raise RuleEvaluationError("the rule is nested too deeply to use (and/or/not "
                                      "inside each other thousands of levels deep); flatten "
                                      "it, e.g. And(*conditions)") from None
        self.rule = hooks.get("parse")(rule) if isinstance(rule, str) else rule
        self.name = name if name is not None else self.text
        self.description = description
        self.parent = parent
        self.base = base
        self._cache: tuple[_State, pd.Series] | None = None
        self._refs = self.rule.segment_refs()  # the parent's are in its own mask
        _warn_value_hints(self)

    @property
    def effective_rule(self) -> Any:
        """The parent's effective rule AND this rule."""
        if self.parent is None:
            return self.rule
        return self.parent.effective_rule & self.rule

    @property
    def mask(self) -> pd.Series:
        """Boolean Series over ``base.contacts`` (same index), True for members.

        Always for the base as it is now: after ``base.as_of = ...``, a replaced table or
        a redefined saved segment it refers to, the mask is evaluated again (once).
        """
        parent_mask = self.parent.mask if self.parent is not None else None
        state = _State(self.base, self._refs, parent_mask)
        cached = self._cache
        if cached is not None and cached[0].same_as(state):
            return cached[1]
        own = self.base.evaluator().mask(self.rule, text=self.text)
        if parent_mask is not None:
            own = own & parent_mask
        mask = own.rename(self.name)
        self._cache = (state, mask)
        return mask

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
        contacts = self.base.contacts[self.mask.to_numpy()]
        feature_names = hooks.get("feature_names")
        used = [f for f in self.effective_rule.fields() if f in feature_names
                and f not in contacts.columns]
        if columns is not None:
            wanted = ["contact_id"] + [c for c in columns if c != "contact_id"]
            from_contacts = [c for c in wanted if c in contacts.columns]
            used = [c for c in wanted if c not in contacts.columns]
            contacts = contacts[from_contacts]
        if used:
            features = self.base.features.loc[contacts.index, used]
            contacts = pd.concat([contacts, features], axis=1)
        return contacts

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
