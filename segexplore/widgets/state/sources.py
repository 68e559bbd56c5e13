"""Which segment a tab works on.

The Profile, Compare and Export tabs let the analyst pick the whole base, the segment being
built in the Build tab, or a saved segment (``base.segments``). :class:`SegmentChoices` lists
those choices and resolves a choice to a :class:`~segexplore.model.segments.Segment`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from segexplore.model.base import ContactBase
    from segexplore.model.segments import Segment

__all__ = ["WHOLE_BASE", "CURRENT", "SegmentChoices", "is_unnamed"]

#: Choice labels of the whole base and of the segment being built in the Build tab.
WHOLE_BASE = "(whole base)"
CURRENT = "(segment being built)"


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

    def refill(self, dropdown: Any) -> None:
        """Re-read the choices into ``dropdown`` (an ``ipywidgets.Dropdown``), keeping its
        value while it is still a choice (a saved segment may have been added or removed)."""
        current = dropdown.value
        dropdown.options = self.options()
        if current in dropdown.options:
            dropdown.value = current
