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
    "CatalogConflictError",
    "LockTimeoutError",
    "ExportError",
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
