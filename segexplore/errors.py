"""Exceptions raised by segexplore: every exception class of the package is defined here.

Every exception subclasses both :class:`SegexploreError` and the matching builtin, so
``except ValueError`` keeps working for callers who do not know this library, and
``except SegexploreError`` catches every error segexplore raises on purpose.

Reading and checking data
    :class:`FileFormatError` (a file cannot be read), :class:`SchemaError` (a column is
    missing or mapped wrongly), :class:`ValidationError` (problems found, with their
    ``failure_cases``).
Arguments
    :class:`ParameterError` (``ValueError``): an argument of a function holds a value it
    does not accept: out of range, not one of the choices, at odds with another argument,
    or data that cannot serve (an A/B test with one variant, a training period with one
    label). :class:`ParameterTypeError` (``TypeError``): an argument, or a value given to a
    rule node, is of the wrong type.
Rules
    :class:`RuleBuildError` (``ValueError``): a rule node cannot be built from these values
    (an unknown operator, an empty list, a date with a time zone, a malformed duration);
    :class:`RuleSyntaxError`: a rule text does not follow the grammar;
    :class:`RuleFormatError`: a rule dictionary, JSON or YAML document does not follow the
    schema; :class:`RuleEvaluationError`: a rule cannot be evaluated on this base.
The data model
    :class:`BaseFrozenError` (``AttributeError``): a base or segment does not change once
    made; ``base.at(date)``, ``base.with_suppressions(...)`` give new ones.
Delivery
    :class:`CatalogError`, :class:`CatalogConflictError`, :class:`LockTimeoutError`,
    :class:`ExportError`, :class:`NotFoundError` (no contact with that email or id),
    :class:`SegmentNotFoundError` (no saved segment with that name),
    :class:`TemplateError` (a merge-field template of a variant plan cannot be used).
Widgets, dashboards and the command line
    :class:`IncompleteRowError` and :class:`CannotShowError` (signals between the rule
    builder's rows and their widgets), :class:`DashboardError`,
    :class:`DataSetRefusedError`, :class:`DashboardServerError`,
    :class:`DashboardStartError`.

Warnings: :class:`SegexploreWarning` and :class:`RuleValueWarning`. :func:`closest_name`
finds the "did you mean" name of a message.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = [
    "SegexploreError",
    "FileFormatError",
    "SchemaError",
    "ValidationError",
    "ParameterError",
    "ParameterTypeError",
    "RuleBuildError",
    "RuleSyntaxError",
    "RuleFormatError",
    "RuleEvaluationError",
    "CatalogError",
    "CatalogConflictError",
    "LockTimeoutError",
    "ExportError",
    "TemplateError",
    "BaseFrozenError",
    "NotFoundError",
    "SegmentNotFoundError",
    "IncompleteRowError",
    "CannotShowError",
    "DashboardError",
    "DataSetRefusedError",
    "DashboardServerError",
    "DashboardStartError",
    "SegexploreWarning",
    "RuleValueWarning",
    "closest_name",
]


class SegexploreError(Exception):
    """Base class of every error raised on purpose by segexplore."""


class FileFormatError(SegexploreError, ValueError):
    """A file cannot be read: empty, binary, no header, ragged rows, wrong encoding...

    The message names the file and, where it applies, the row and column.
    """

    def __init__(self, message: str, *, path: object = None, row: int | None = None,
                 column: str | None = None) -> None:
        super().__init__(message)
        self.path = path
        self.row = row
        self.column = column


class SchemaError(SegexploreError, KeyError):
    """A required column is missing or a column role mapping is wrong."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class ValidationError(SegexploreError, ValueError):
    """Validation found problems; ``failure_cases`` holds one row per problem.

    Columns of ``failure_cases``: ``table, file, row, column, value, problem``.
    """

    def __init__(self, message: str, failure_cases=None) -> None:
        super().__init__(message)
        self.failure_cases = failure_cases


class ParameterError(SegexploreError, ValueError):
    """An argument holds a value the function does not accept.

    Out of range (``k=1``), not one of the choices (``method="pie"``), at odds with another
    argument (``last=`` and ``between=``), or data that cannot serve (an A/B test with one
    variant). The message names the parameter, the value and what is expected.
    """


class ParameterTypeError(SegexploreError, TypeError):
    """An argument, or a value given to a rule node, is of the wrong type.

    ``parse(42)``, ``Compare("age", ">=", [30])``, a mask of numbers where booleans are
    expected. The message names the parameter or field and the type expected.
    """


class RuleBuildError(SegexploreError, ValueError):
    """A rule node cannot be built from these values.

    An unknown operator, an empty list of values, a date with a time zone, a duration such
    as ``"30 dayz"``, ``last=`` and ``between=`` together. Raised by the node classes of
    :mod:`segexplore.rules.nodes` and :mod:`segexplore.rules.events`, the builders and the
    text forms; :func:`segexplore.parse` reports it as a :class:`RuleSyntaxError` at the
    place in the text.
    """


class RuleSyntaxError(SegexploreError, ValueError):
    """The text of a rule does not follow the grammar.

    ``position`` is the 0-based character offset in ``text`` where parsing failed.
    """

    def __init__(self, message: str, *, text: str = "", position: int = 0) -> None:
        self.text = text
        self.position = position
        pointer = ""
        if text:
            pointer = f"\n  {text}\n  {' ' * position}^"
        super().__init__(f"{message} (at position {position}){pointer}")


class RuleFormatError(SegexploreError, ValueError):
    """A rule dictionary, JSON or YAML document does not follow the rule schema.

    ``path`` locates the offending node, e.g. ``rule.children[1].value``.
    """

    def __init__(self, message: str, *, path: str = "rule") -> None:
        super().__init__(f"{message} (at {path})")
        self.path = path


class RuleEvaluationError(SegexploreError, ValueError):
    """A rule is well formed but cannot be evaluated on this base.

    Unknown field (with the closest existing one), a type mismatch, an unknown segment.
    """


class CatalogError(SegexploreError, ValueError):
    """A catalog operation or file breaks a rule: names, references, cycles, schema."""


class CatalogConflictError(SegexploreError, RuntimeError):
    """Another writer changed the same segment of a catalog file in another way.

    Raised by :meth:`segexplore.Catalog.save` when the file changed on disk since the
    catalog was loaded and the two versions cannot be merged (the same segment given two
    different definitions, or removed on one side and changed on the other). Nothing is
    written. ``path`` is the catalog file; ``conflicts`` holds one mapping per segment
    (``segment, ours, theirs``: the rule texts, ``None`` where one side removed it).
    """

    def __init__(self, message: str, *, path: object = None,
                 conflicts: Iterable[dict] = ()) -> None:
        super().__init__(message)
        self.path = path
        self.conflicts = list(conflicts)


class LockTimeoutError(SegexploreError, TimeoutError):
    """A file stayed locked by another process for longer than the timeout.

    ``path`` is the file being written (a catalog, a size history), ``lock_path`` the lock
    file beside it and ``timeout`` the seconds waited.
    """

    def __init__(self, message: str, *, path: object = None, lock_path: object = None,
                 timeout: float | None = None) -> None:
        super().__init__(message)
        self.path = path
        self.lock_path = lock_path
        self.timeout = timeout


class ExportError(SegexploreError, ValueError):
    """An export cannot be made as asked (bad option, unknown preset, clashing names...)."""


class TemplateError(SegexploreError, ValueError):
    """A merge-field template cannot be used: its syntax (an unclosed ``{``, an attribute
    ``{first_name.upper}``, a lone ``}``), an unknown field (with the closest name), or its
    length.

    ``position`` is the 0-based character offset in the template (None when the whole
    template is at fault) and ``field`` the field named, if any.
    """

    def __init__(self, message: str, *, position: int | None = None,
                 field: str | None = None) -> None:
        super().__init__(message)
        self.position = position
        self.field = field


class BaseFrozenError(SegexploreError, AttributeError):
    """A ContactBase or Segment does not change once made: ``base.at(date)`` and
    ``base.with_suppressions(...)`` give new bases."""


class NotFoundError(SegexploreError, LookupError):
    """No contact matches the email or contact_id given."""


class SegmentNotFoundError(SegexploreError, KeyError):
    """No saved segment has the name given (a report, the explorer's segments)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class IncompleteRowError(SegexploreError, ValueError):
    """A row is still missing its value (nothing selected yet); it adds no condition."""


class CannotShowError(SegexploreError, ValueError):
    """The row's value fits no editor: show the condition as an advanced row instead."""


class DashboardError(SegexploreError, ValueError):
    """An unknown dashboard name or a malformed segment file."""


class DataSetRefusedError(DashboardError, PermissionError):
    """The page's address names data the server was not started with.

    Its message never repeats what the address asked for (a path probed by whoever
    opened the page), only what may be asked for instead.
    """


class DashboardServerError(SegexploreError, RuntimeError):
    """The dashboard server was configured to listen beyond loopback without a token."""


class DashboardStartError(SegexploreError, RuntimeError):
    """Voilà did not start (port taken, missing package...)."""


class SegexploreWarning(UserWarning):
    """Base class of every warning issued by segexplore (``warnings.simplefilter`` on it)."""


class RuleValueWarning(SegexploreWarning):
    """A rule value matches no contact but is close to values that exist.

    ``region = "Ile-de-France"`` on a base that spells it ``"Île-de-France"``: the rule is
    valid and selects nobody, which is almost never what was meant. The message names the
    condition and the closest existing value(s); see :func:`segexplore.rules.hints.value_hints`.
    """


def closest_name(name: str, candidates: Iterable[str]) -> str | None:
    """Return the candidate closest to ``name`` (for "did you mean" messages), or None."""
    candidates = list(candidates)
    lowered = {c.lower(): c for c in candidates}
    if name.lower() in lowered:
        return lowered[name.lower()]
    match = difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=0.5)
    return lowered[match[0]] if match else None
