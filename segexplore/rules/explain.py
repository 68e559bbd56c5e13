"""Why is this contact in (or out)? One row per condition of a rule, for one contact.

:func:`explain` walks the rule with :class:`~segexplore.rules.walk.RuleWalk` (the walk every
engine runs), saved segments (``segment("name")``) expanded in place, and gives for each
node the contact's value, the threshold it is compared with and whether the node holds for
the contact. Each node's result is the base's evaluator (``base.evaluator().array(node)``)
at the contact's row, so it is what a segment's membership says, node by node. For an
event condition the row also gives the number of matching events in the window (and the
window itself), and the aggregate the threshold is compared with.

Examples
--------
>>> import segexplore as se
>>> base = se.load_sample()
>>> rule = 'country = "FR" and count(purchase, last 365 days) >= 1'
>>> contact = int(base.contacts.loc[base.evaluator().mask(rule), "contact_id"].iloc[0])
>>> why = explain(rule, base, contact)
>>> why[["path", "condition", "result"]].to_dict("records")  # doctest: +NORMALIZE_WHITESPACE
[{'path': '1', 'condition': 'country = "FR" and count(purchase, last 365 days) >= 1',
  'result': True},
 {'path': '1.1', 'condition': 'country = "FR"', 'result': True},
 {'path': '1.2', 'condition': 'count(purchase, last 365 days) >= 1', 'result': True}]
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from segexplore.errors import NotFoundError, ParameterError, ParameterTypeError
from segexplore.io.clean.contacts import normalise_emails
from segexplore.model import hooks
from segexplore.model.segments import Segment
from segexplore.rules import nodes as R
from segexplore.rules.engines.pandas import top_percent_threshold
from segexplore.rules.events import EventAggregate, LastPerformed, NotFollowedBy
from segexplore.rules.parser import parse
from segexplore.rules.text import format_name
from segexplore.rules.walk import RuleWalk, depth_guard
from segexplore.rules.windows import follow_up, shift_back_ns, window_bounds

if TYPE_CHECKING:
    from segexplore.model.base import ContactBase

__all__ = ["EXPLAIN_COLUMNS", "ExplainWalk", "explain", "explained", "plain_scalar"]

#: The columns of :func:`explain`'s table.
EXPLAIN_COLUMNS = ["path", "depth", "node", "condition", "field", "value", "threshold",
                   "window", "count", "result"]
#: Their dtypes: text and counts where every row has one, else object (None when a row
#: has nothing to say).
_DTYPES = {"path": "str", "depth": "int64", "node": "str", "condition": "str",
           "count": "Int64", "result": "bool"}


def _position(base: ContactBase, contact: Any) -> int:
    """The row of ``base.contacts`` of the contact with this email or contact_id."""
    contacts = base.contacts
    if isinstance(contact, str) and "@" in contact:
        key = normalise_emails(pd.Series([contact])).iloc[0]
        hits = np.flatnonzero((contacts["email"] == key).fillna(False).to_numpy(dtype=bool))
        what = "email"
    else:
        if isinstance(contact, (bool, float)) or contact is None:
            raise ParameterTypeError(f"contact must be an email or a contact_id, not "
                                     f"{contact!r}")
        ids = contacts["contact_id"]
        hits = np.flatnonzero((ids.astype("str").str.strip() == str(contact).strip())
                              .to_numpy(dtype=bool))
        what = "contact_id"
    if len(hits) == 0:
        raise NotFoundError(f"explain: no contact with {what} {contact!r} in the base")
    if len(hits) > 1:
        found = contacts["contact_id"].iloc[hits].tolist()
        raise ParameterError(f"explain: {len(hits)} contacts have {what} {contact!r} "
                             f"(contact_id {found}); give one contact_id")
    return int(hits[0])


def plain_scalar(value: Any) -> Any:
    """A numpy value as a plain Python one (NaN and NaT as None)."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if isinstance(value, np.datetime64):
        return pd.Timestamp(value)
    return value.item() if isinstance(value, np.generic) else value


def _stamp(ns: int) -> str:
    return f"{pd.Timestamp(ns, unit='ns'):%Y-%m-%d %H:%M}"


class ExplainWalk(RuleWalk[None]):
    """Visit every node, parents first, and write its row; what it asks of the base
    (:meth:`_result`, :meth:`_value`, :meth:`_values`) an engine's walk answers there
    (:mod:`segexplore.engines.explain`)."""

    verb = "explain"

    def __init__(self, base: ContactBase, position: int) -> None:
        super().__init__(base.segments)
        self.base = base
        self.position = position
        self.evaluator = base.evaluator()
        self.as_of = base.as_of
        self.rows: list[dict[str, Any]] = []
        self.path: tuple[int, ...] = (1,)
        self.row: dict[str, Any] = {}

    @contextmanager
    def _child(self, number: int) -> Iterator[None]:
        outer, outer_row = self.path, self.row
        self.path = (*outer, number)
        try:
            yield
        finally:
            self.path, self.row = outer, outer_row

    def visit(self, rule: R.Rule, stack: tuple[str, ...] = ()) -> None:
        node = {R.And: "and", R.Or: "or", R.Not: "not", R.SegmentRef: "segment",
                R.ListRef: "list"}.get(
            type(rule), "event" if isinstance(rule, R.EventCondition) else "condition")
        self.row = {"path": ".".join(map(str, self.path)), "depth": len(self.path) - 1,
                    "node": node, "condition": str(rule), "field": None, "value": None,
                    "threshold": None, "window": None, "count": None,
                    "result": self._result(rule)}
        self.rows.append(self.row)
        super().visit(rule, stack)

    # -- what the base says of the contact (an engine's explain asks it there) -----------
    def _result(self, rule: R.Rule) -> bool:
        """Whether ``rule`` holds for the contact."""
        return bool(self.evaluator.array(rule)[self.position])

    def _value(self, field: str) -> Any:
        """The contact's value of a contact column or feature."""
        return plain_scalar(self.evaluator.column(field).iloc[self.position])

    def _values(self, field: str) -> np.ndarray:
        """Every contact's value of a numeric field, as floats (``top N%``'s threshold)."""
        return self.evaluator.column(field).to_numpy(dtype=float, na_value=np.nan)

    # -- and / or / not / segment("name"): their children below them ----------------------
    def all_of(self, children: Sequence[R.Rule], stack: tuple[str, ...]) -> None:
        for number, child in enumerate(children, 1):
            with self._child(number):
                self.visit(child, stack)

    any_of = all_of

    def negate(self, child: R.Rule, stack: tuple[str, ...]) -> None:
        self.all_of([child], stack)

    def saved(self, name: str, stack: tuple[str, ...]) -> None:
        rule = self.saved_rule(name, stack)  # the cycle and unknown-name checks
        self.row["threshold"] = f"the rule of segment {name!r}"
        with self._child(1):
            self.visit(rule, (*stack, name))

    # -- leaves ------------------------------------------------------------------------
    def condition(self, rule: R.Condition) -> None:
        row = self.row
        row["field"] = rule.field
        row["value"] = self._value(rule.field)
        right = str(rule)[len(format_name(rule.field)) + 1:]
        if isinstance(rule, (R.WithinLast, R.MoreThanAgo)):
            bound = _stamp(shift_back_ns(self.as_of, rule.duration))
            right += (f" (after {bound})" if isinstance(rule, R.WithinLast)
                      else f" (before {bound})")
        elif isinstance(rule, R.TopPercent):
            threshold = top_percent_threshold(self._values(rule.field), rule.percent)
            right += f" (>= {threshold:g})" if threshold is not None else " (no values)"
        elif isinstance(rule, R.Anniversary):
            end = self.as_of + pd.Timedelta(days=rule.days)
            right += f" (day and month from {self.as_of:%m-%d} to {end:%m-%d})"
        row["threshold"] = right

    def event(self, rule: R.EventCondition) -> None:
        row = self.row
        activity = self.base.activity
        where = self.evaluator._where_mask  # the engine's event-property filter
        at = self.position
        if isinstance(rule, EventAggregate):
            start, end = window_bounds(rule.window, self.as_of)
            mask = where(rule.event_type, rule.where)
            row["count"] = int(activity.count(rule.event_type, start=start, end=end,
                                              where=mask)[at])
            if rule.func == "count":
                row["value"] = row["count"]
            else:
                func = "mean" if rule.func == "avg" else rule.func
                row["value"] = plain_scalar(activity.aggregate(rule.event_type, rule.property, func,
                                                          start=start, end=end, where=mask)[at])
            row["field"] = rule.func + "(" + format_name(rule.event_type) + (
                "." + format_name(rule.property) if rule.property else "") + ")"
            row["window"] = _window_text(start, end)
            row["threshold"] = f"{rule.op} {rule.value:g}"
        elif isinstance(rule, NotFollowedBy):
            start, end = window_bounds(rule.window, self.as_of)
            within = follow_up(rule.within, self.as_of)
            first, then = rule.first.event_type, rule.then.event_type
            row["field"] = f"{first} not followed by {then}"
            row["count"] = 0 if within is None else int(activity.count_not_followed_by(
                first, then, within, as_of=self.as_of, start=start, end=end,
                first_where=where(first, rule.first.where),
                then_where=where(then, rule.then.where))[at])
            row["value"] = row["count"]
            row["window"] = _window_text(start, end)
            row["threshold"] = f">= 1 {first} without a {then} within {rule.within}"
        elif isinstance(rule, LastPerformed):
            kind = rule.event.event_type
            mask = where(kind, rule.event.where)
            row["field"] = f"last({format_name(kind)})"
            row["value"] = plain_scalar(activity.last(kind, end=self.as_of, where=mask)[at])
            row["count"] = int(activity.count(kind, end=self.as_of, where=mask)[at])
            row["window"] = _window_text(None, self.as_of)
            bound = _stamp(shift_back_ns(self.as_of, rule.duration))
            row["threshold"] = (f"before {bound}" if rule.relation == "more than ago"
                                else f"after {bound}")
        else:
            raise self.cannot(rule)


def _window_text(start: pd.Timestamp | None, end: pd.Timestamp) -> str:
    if start is not None and start >= end:
        return "empty"
    low = "all time" if start is None else f"after {start:%Y-%m-%d %H:%M}"
    return f"{low}, up to {end:%Y-%m-%d %H:%M}"


@hooks.implements("explain")
def explain(segment_or_rule: Any, base: ContactBase, contact: Any) -> pd.DataFrame:
    """Why ``contact`` is in (or not in) a segment: one row per node of its rule.

    Parameters
    ----------
    segment_or_rule : Segment, Rule or str
        A segment (its effective rule: its parent's conditions come first), a rule or
        its text.
    base : ContactBase
        The base (and so the date) to explain the membership on.
    contact : str or int
        An email (normalised as at load: trimmed, lower case) or a contact_id.

    Returns
    -------
    DataFrame
        One row per node, parents before children: ``path`` (``"1.2.1"``: the first child
        of the second child of the rule), ``depth``, ``node`` (and, or, not, segment,
        condition, event), ``condition`` (the node's text), ``field``, ``value`` (the
        contact's value; for an event condition the aggregate, for ``last(...)`` the time
        of the latest event), ``threshold`` (what it is compared with, with the bounds
        computed for ``within last``/``more than ... ago``, ``top N%`` and anniversaries),
        ``window`` and ``count`` (event conditions: the matching events in the window) and
        ``result``. A ``segment("name")`` row has the saved rule below it. ``attrs`` hold
        ``contact_id``, ``member`` (the result of the whole rule) and ``as_of``.

    Raises
    ------
    NotFoundError
        No contact has this email or id.
    ParameterError
        Several contacts share the email.
    RuleEvaluationError
        The rule cannot be evaluated on the base (unknown field, segment cycle...).

    Examples
    --------
    >>> import segexplore as se
    >>> base = se.load_sample()
    >>> email = base.contacts["email"].iloc[0]
    >>> why = explain('city = "Liège" or age >= 60', base, email.upper())
    >>> why[["condition", "value", "threshold", "result"]].to_dict("records")  # doctest: +NORMALIZE_WHITESPACE
    [{'condition': 'city = "Liège" or age >= 60', 'value': None, 'threshold': None,
      'result': True},
     {'condition': 'city = "Liège"', 'value': 'Liège', 'threshold': '= "Liège"',
      'result': True},
     {'condition': 'age >= 60', 'value': 30, 'threshold': '>= 60', 'result': False}]
    """
    if isinstance(segment_or_rule, Segment) or hasattr(segment_or_rule, "effective_rule"):
        rule = segment_or_rule.effective_rule
    elif isinstance(segment_or_rule, R.Rule):
        rule = segment_or_rule
    elif isinstance(segment_or_rule, str):
        rule = parse(segment_or_rule)
    else:
        raise ParameterTypeError(f"segment_or_rule must be a Segment, a Rule or rule text, "
                                 f"not {type(segment_or_rule).__name__}")
    if getattr(base, "engine", "pandas") != "pandas":  # the base is held in an engine
        return hooks.get("explain_in_engine")(rule, base, contact)
    position = _position(base, contact)
    return explained(ExplainWalk(base, position), rule,
                     plain_scalar(base.contacts["contact_id"].iloc[position]), base.as_of)


def explained(walk: ExplainWalk, rule: R.Rule, contact_id: Any, as_of: Any) -> pd.DataFrame:
    """The table of :func:`explain` from a walk over ``rule`` (an engine's walk too)."""
    with depth_guard("explain"):
        walk.visit(rule)
    out = pd.DataFrame({column: pd.Series([row[column] for row in walk.rows],
                                          dtype=_DTYPES.get(column, "object"))
                        for column in EXPLAIN_COLUMNS})
    out.attrs.update({"contact_id": contact_id, "member": bool(out["result"].iloc[0]),
                      "as_of": as_of})
    return out

