"""Which segment a tab works on, and the optional modules the tabs draw on.

The Profile, Compare and Export tabs let the analyst pick the whole base, the segment being
built in the Build tab, or a saved segment (``base.segments``). :class:`SegmentChoices` lists
those choices and resolves a choice to a :class:`~segexplore.model.segments.Segment`.

:func:`optional_module` imports a module of the package that may not exist in this version
(the tabs then show :func:`placeholder_html` instead of failing).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from html import escape
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from segexplore.model.base import ContactBase
    from segexplore.model.segments import Segment

__all__ = ["WHOLE_BASE", "CURRENT", "SegmentChoices", "optional_module", "placeholder_html",
           "is_unnamed"]

#: Choice labels of the whole base and of the segment being built in the Build tab.
WHOLE_BASE = "(whole base)"
CURRENT = "(segment being built)"


def optional_module(name: str) -> ModuleType | None:
    """``segexplore.<name>`` if this version has it (and all it needs), else None."""
    try:
        return importlib.import_module(f"segexplore.{name}")
    except ImportError as error:  # the module, or a part of segexplore it needs, is missing
        missing = getattr(error, "name", None) or ""
        if missing.startswith("segexplore") or not isinstance(error, ModuleNotFoundError):
            return None
        raise


def placeholder_html(feature: str, module: str) -> str:
    """A clear note that a part of the app needs a module this version does not have."""
    return (f'<div class="se-placeholder" style="color:#777;padding:1em;border:1px dashed #bbb">'
            f"{escape(feature)} needs <code>segexplore.{escape(module)}</code>, which this "
            f"version of segexplore does not include yet.</div>")


def is_unnamed(segment: Segment) -> bool:
    """True for a segment built without a name (its name is its rule text)."""
    return segment.name == segment.text


class SegmentChoices:
    """The segments a tab can work on.

    Parameters
    ----------
    base : ContactBase
    current : callable, optional
        Returns the segment being built (or None when the builder has no rule).
    whole_base : bool
        Offer the whole base as a choice.
    """

    def __init__(self, base: ContactBase, current: Callable[[], Segment | None] | None = None,
                 *, whole_base: bool = False) -> None:
        self.base = base
        self.current = current
        self.whole_base = whole_base

    def options(self) -> list[str]:
        """Choice labels: whole base (if offered), the segment being built, saved names."""
        options = [WHOLE_BASE] if self.whole_base else []
        if self.current is not None:
            options.append(CURRENT)
        return options + list(self.base.segments)

    def resolve(self, choice: str | None) -> Segment | None:
        """The segment of a choice; None for the whole base or an empty builder."""
        if choice in (None, WHOLE_BASE):
            return None
        if choice == CURRENT:
            return self.current() if self.current is not None else None
        return self.base.segments.get(choice)
