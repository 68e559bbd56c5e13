"""The one walk over a rule that every engine runs, and the names it resolves.

An engine says what each kind of node becomes (a NumPy mask for pandas, a sqlglot
expression for SQL, nothing when only checking) by subclassing :class:`RuleWalk`; the walk
itself is written once: and/or/not, saved segments (with their cycle and unknown-name
checks), event conditions, conditions on a contact field, in this order. So every engine
visits the same nodes in the same order and fails with the same error. :func:`field_table`
is the one place that says where a rule's field lives (a contact column or a behaviour
feature); :mod:`segexplore.rules.check` checks a rule with this walk before any engine runs
it.

Examples
--------
>>> from segexplore.rules.parser import parse
>>> class Fields(RuleWalk):
...     def all_of(self, children, stack):
...         return [f for c in children for f in self.visit(c, stack)]
...     any_of = all_of
...     def negate(self, child, stack):
...         return self.visit(child, stack)
...     def condition(self, rule):
...         return [rule.field]
>>> Fields().visit(parse('city = "Lyon" and not (age < 30 or age is missing)'))
['city', 'age', 'age']
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any, Generic, Literal, TypeVar

from segexplore.errors import RuleEvaluationError
from segexplore.features.registry import FEATURES
from segexplore.rules.nodes import (
    And,
    Condition,
    EventCondition,
    ListRef,
    Not,
    Or,
    Rule,
    SegmentRef,
)

__all__ = ["RuleWalk", "field_table", "known_fields", "saved_rule_of", "depth_guard"]

T = TypeVar("T")


def field_table(name: str, contact_columns: Collection[str]) -> Literal["contacts", "features"] | None:
    """Where the field ``name`` of a rule lives: a contact column (first), a behaviour
    feature, or neither (None).

    Examples
    --------
    >>> field_table("city", ["contact_id", "city"]), field_table("purchases_30d", ["city"])
    ('contacts', 'features')
    >>> field_table("citty", ["city"]) is None
    True
    """
    if name in contact_columns:
        return "contacts"
    if name in FEATURES:
        return "features"
    return None


def known_fields(contact_columns: Collection[str]) -> list[str]:
    """Every field a rule may name, in the order :func:`field_table` looks them up (what
    "did you mean" picks from).

    Examples
    --------
    >>> known_fields(["contact_id", "city"])[:3]
    ['contact_id', 'city', 'last_purchase_date']
    """
    return list(contact_columns) + list(FEATURES)


def saved_rule_of(saved: Any) -> Rule:
    """The rule of a saved segment (``base.segments`` holds Segments or plain Rules)."""
    return saved if isinstance(saved, Rule) else saved.effective_rule


class RuleWalk(Generic[T]):
    """Visit a rule depth first; subclasses say what each kind of node gives.

    Parameters
    ----------
    segments : mapping, optional
        Saved segments (name -> Segment or Rule) that ``segment("name")`` refers to.
    """

    #: The verb of the error for a node the engine cannot handle ("cannot evaluate ...").
    verb = "evaluate"

    def __init__(self, segments: Mapping[str, Any] | None = None) -> None:
        self.segments: Mapping[str, Any] = segments if segments is not None else {}

    def visit(self, rule: Rule, stack: tuple[str, ...] = ()) -> T:
        """What ``rule`` gives; ``stack`` holds the saved segments being expanded."""
        if isinstance(rule, And):
            return self.all_of(rule.children, stack)
        if isinstance(rule, Or):
            return self.any_of(rule.children, stack)
        if isinstance(rule, Not):
            return self.negate(rule.child, stack)
        if isinstance(rule, ListRef):
            self.require_list(rule.name)
            return self.saved(rule.name, stack)
        if isinstance(rule, SegmentRef):
            return self.saved(rule.name, stack)
        if isinstance(rule, EventCondition):
            return self.event(rule)
        if isinstance(rule, Condition):
            return self.condition(rule)
        raise self.cannot(rule)

    # -- what an engine says -----------------------------------------------------------
    def all_of(self, children: Sequence[Rule], stack: tuple[str, ...]) -> T:
        """``and``: visit the children in order (lazily: a 100,000-term rule need not hold
        100,000 results) and combine them."""
        raise NotImplementedError

    def any_of(self, children: Sequence[Rule], stack: tuple[str, ...]) -> T:
        """``or``: as :meth:`all_of`."""
        raise NotImplementedError

    def negate(self, child: Rule, stack: tuple[str, ...]) -> T:
        """``not``."""
        raise NotImplementedError

    def condition(self, rule: Condition) -> T:
        """A condition on one contact field (or, in a where-filter, one event property)."""
        raise NotImplementedError

    def event(self, rule: EventCondition) -> T:
        """A condition on the events (where-filters hold none)."""
        raise self.cannot(rule)

    def saved(self, name: str, stack: tuple[str, ...]) -> T:
        """``segment("name")``: by default, the saved segment's rule visited in its place."""
        return self.visit(self.saved_rule(name, stack), (*stack, name))

    # -- shared by every engine --------------------------------------------------------
    def saved_rule(self, name: str, stack: tuple[str, ...]) -> Rule:
        """The rule of the saved segment ``name``; an error for a cycle or an unknown name."""
        if name in stack:
            cycle = " -> ".join((*stack, name))
            raise RuleEvaluationError(f"segments refer to each other in a cycle: {cycle}")
        if name not in self.segments:
            raise self.unknown("segment", name, list(self.segments))
        return saved_rule_of(self.segments[name])

    def require_list(self, name: str) -> None:
        """``in_list("name")`` names a list: a saved segment of fixed members (one that
        says ``static``), not one defined by a rule."""
        if name not in self.segments:
            raise self.unknown("list", name, [n for n, s in self.segments.items()
                                              if getattr(s, "static", False)])
        if not getattr(self.segments[name], "static", False):
            raise RuleEvaluationError(
                f"in_list({name!r}): {name!r} is a segment defined by a rule, not a list; "
                f"write segment({name!r})".replace("'", '"'))

    def unknown(self, what: str, name: str, known: Sequence[str]) -> RuleEvaluationError:
        """The error for an unknown field, event type, property or segment ``name``."""
        return RuleEvaluationError(f"unknown {what} {name!r}")

    def cannot(self, rule: Rule) -> RuleEvaluationError:
        return RuleEvaluationError(f"cannot {self.verb} {type(rule).__name__} ({rule})")


class depth_guard:
    """Turn a RecursionError (a rule built in Python nested thousands of levels deep) into
    a RuleEvaluationError; rules parsed from text are limited to 100 levels already."""

    def __init__(self, verb: str = "evaluate") -> None:
        self.verb = verb

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, error, traceback) -> bool:
        if kind is not None and issubclass(kind, RecursionError):
            raise RuleEvaluationError(
                f"the rule is nested too deeply to {self.verb} (and/or/not inside each other "
                "thousands of levels deep); flatten it, e.g. And(*conditions)") from None
        return False
