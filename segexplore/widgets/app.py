"""The explorer app: one page with the tabs Profile, Build, Compare and Export.

:func:`explore` is what an analyst calls in a notebook or a Voilà dashboard::

    import segexplore as se
    from segexplore.widgets import explore

    explore(se.load_sample())

The tabs share the base and its saved segments: a segment saved in Build appears in the
field list of the rows (``segment("name")``), as a parent, and in Compare and Export.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from html import escape
from typing import TYPE_CHECKING, Any

import ipywidgets as W

from .builder import SegmentBuilder
from .compare_panel import ComparePanel
from .export_panel import ExportPanel
from .profile_panel import ProfilePanel
from .sources import CURRENT

if TYPE_CHECKING:
    from segexplore.core.base import ContactBase
    from segexplore.core.segments import Segment

__all__ = ["Explorer", "explore", "TAB_TITLES", "register_segments"]

#: Titles of the tabs, in order.
TAB_TITLES = ("Profile", "Build", "Compare", "Export")


def register_segments(base: ContactBase, segments: Any) -> list[str]:
    """Save segments into ``base.segments`` and return their names.

    Parameters
    ----------
    base : ContactBase
    segments : mapping or iterable, optional
        ``{name: rule text or Rule or Segment}``, or Segments (saved under their names),
        or names already in ``base.segments``.
    """
    if segments is None:
        return []
    names = []
    items: Iterable[tuple[str | None, Any]] = (
        segments.items() if isinstance(segments, Mapping) else ((None, s) for s in segments))
    for name, item in items:
        if isinstance(item, str) and name is None:
            if item not in base.segments:
                raise KeyError(f"no saved segment named {item!r}")
            names.append(item)
            continue
        if hasattr(item, "rule") and hasattr(item, "mask"):  # a Segment
            name = name if name is not None else item.name
            parent = item.parent
            rule = item.rule
        else:
            parent, rule = None, item
        base.segment(rule, name=name, parent=parent)
        names.append(name)
    return names


class Explorer(W.VBox):
    """The explorer app (an ``ipywidgets.VBox``): header and the four tabs.

    Parameters
    ----------
    base : ContactBase
    segments : mapping or iterable, optional
        Segments to save into ``base.segments`` first (see :func:`register_segments`); they
        are preselected in Compare.
    mask_pii : bool
        Never list personal data (emails, names...) in value lists and tables.
    debounce : float
        Seconds of quiet before the Build tab re-counts (0: at once).

    Attributes
    ----------
    tabs : ipywidgets.Tab
    builder : SegmentBuilder
    profile_panel, compare_panel, export_panel
    """

    def __init__(self, base: ContactBase, *, segments: Any = None, mask_pii: bool = False,
                 debounce: float = 0.15) -> None:
        super().__init__()
        self.add_class("se-app")
        self.base = base
        names = register_segments(base, segments)
        self.builder = SegmentBuilder(base, mask_pii=mask_pii, debounce=debounce)
        current = self.builder.segment
        self.profile_panel = ProfilePanel(base, current=current, mask_pii=mask_pii,
                                          on_use_rule=self.use_rule)
        self.compare_panel = ComparePanel(base, current=current, selected=names,
                                          mask_pii=mask_pii)
        self.export_panel = ExportPanel(base, current=current)
        self.tabs = W.Tab(children=[self.profile_panel, self.builder, self.compare_panel,
                                    self.export_panel])
        self.tabs.titles = TAB_TITLES
        self.tabs.add_class("se-tabs")
        self.header = W.HTML(self._header())
        self.header.add_class("se-header")
        self.children = [self.header, self.tabs]
        self.builder.on_saved(self._segment_saved)
        self.builder.on_change(lambda builder: self.export_panel.refresh_columns())
        self.tabs.observe(self._tab_opened, names="selected_index")

    def _header(self) -> str:
        base = self.base
        return (f'<div class="se-header-text"><b>segexplore</b> · {len(base.contacts):,} '
                f"contacts as of {escape(f'{base.as_of:%Y-%m-%d}')} · "
                f"{len(base.segments):,} saved segments</div>")

    def _segment_saved(self, segment: Segment) -> None:
        self.header.value = self._header()
        for panel in (self.profile_panel, self.compare_panel, self.export_panel):
            panel.refresh_segments()

    def _tab_opened(self, change: dict[str, Any]) -> None:
        """Opening Profile on the segment being built profiles its latest version."""
        if change["new"] == TAB_TITLES.index("Profile") and \
                self.profile_panel.source.value == CURRENT:
            self.profile_panel.run()

    def use_rule(self, text: str) -> None:
        """Open the Build tab with ``text`` as the rule."""
        self.builder.set_text(text)
        self.tabs.selected_index = TAB_TITLES.index("Build")


def explore(base: ContactBase, *, segments: Any = None, mask_pii: bool = False,
            debounce: float = 0.15) -> Explorer:
    """Open the explorer on a base: Profile, Build, Compare and Export tabs.

    Parameters
    ----------
    base : ContactBase
    segments : mapping or iterable, optional
        Segments to save first, e.g. ``{"VIP": 'rfm_group = "champions"'}``.
    mask_pii : bool, default False
        Never list personal data (emails, names...) in value lists and tables.
    debounce : float, default 0.15
        Seconds of quiet before the Build tab re-counts; 0 counts at once.

    Returns
    -------
    Explorer
        Display it (last expression of a cell, or ``display(app)``).

    Examples
    --------
    >>> import segexplore as se
    >>> app = explore(se.load_sample(), debounce=0)
    >>> [app.tabs.get_title(i) for i in range(4)]
    ['Profile', 'Build', 'Compare', 'Export']
    """
    return Explorer(base, segments=segments, mask_pii=mask_pii, debounce=debounce)
