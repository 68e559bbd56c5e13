"""Exceptions raised by segexplore.

Every exception subclasses both :class:`SegexploreError` and the matching builtin, so
``except ValueError`` keeps working for callers who do not know this library.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = [
    "SegexploreError",
    "FileFormatError",
    "SchemaError",
    "ValidationError",
    "RuleSyntaxError",
    "RuleEvaluationError",
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


class RuleEvaluationError(SegexploreError, ValueError):
    """A rule is well formed but cannot be evaluated on this base.

    Unknown field (with the closest existing one), a type mismatch, an unknown segment.
    """


def closest_name(name: str, candidates: Iterable[str]) -> str | None:
    """Return the candidate closest to ``name`` (for "did you mean" messages), or None."""
    candidates = list(candidates)
    lowered = {c.lower(): c for c in candidates}
    if name.lower() in lowered:
        return lowered[name.lower()]
    match = difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=0.5)
    return lowered[match[0]] if match else None
