"""The explorer app: one page with the tabs Profile, Build, Compare, Export and Plan.

:func:`explore` is what an analyst calls in a notebook or a Voilà dashboard::

    import segexplore as se
    from segexplore.widgets import explore

    explore(se.load_sample())

The tabs share the base and its saved segments: a segment saved in Build appears in the
field list of the rows (``segment("name")``), as a parent, and in Compare, Export and Plan
(the personalisation plan: variants in priority order, their sizes, fallbacks and export).
Beside the tabs, the side list (:mod:`segexplore.widgets.segment_list`) shows each saved
segment with its size and, given a refresh history (``history=``), a sparkline of its size
over the runs; clicking a name opens the segment in Build. The header line names the base
(``name=``), its contacts, its as-of date and how fresh its data is (the latest event or
order, for a base held in pandas).

The page must show up fast on a large base, so work is done when a tab needs it: in a
notebook or Voilà kernel the whole-base profile of the Profile tab (which computes the
behaviour features) runs once the browser has drawn the app, the Build charts are drawn
the first time the Build tab is opened, and Compare draws its charts when asked. Without a
kernel (scripts, tests) everything is done at once.

A base held in DuckDB (``read_base(..., engine="duckdb")``, ``segexplore dashboard
--engine duckdb``) opens the same app: fields, values, sizes and charts are asked of
DuckDB (:mod:`segexplore.widgets.state.duckdb_fields`), never read into pandas. Its
Profile tab waits for a click, as profiling ten million contacts takes a minute.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ipywidgets as W

from segexplore.display.numbers import format_count, resolve_locale
from segexplore.errors import SegmentNotFoundError, closest_name
from segexplore.widgets.builder import SegmentBuilder
from segexplore.widgets.compare_panel import ComparePanel
from segexplore.widgets.export_panel import ExportPanel
from segexplore.widgets.plan_panel import PlanPanel
from segexplore.widgets.plot import DisplaySignal
from segexplore.widgets.profile_panel import ProfilePanel
from segexplore.widgets.segment_list import SegmentList
from segexplore.widgets.state.fields import contact_count, latest_activity
from segexplore.widgets.state.sources import CURRENT

if TYPE_CHECKING:
    from segexplore.model.base import ContactBase
    from segexplore.model.segments import Segment

__all__ = ["Explorer", "explore", "TAB_TITLES", "register_segments"]

#: Titles of the tabs, in order.
TAB_TITLES = ("Profile", "Build", "Compare", "Export", "Plan")


def in_kernel() -> bool:
    """True inside a Jupyter kernel (a notebook, Voilà), where a browser draws the widgets."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - ipywidgets depends on IPython
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


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
                guess = closest_name(item, base.segments)
                hint = f"; did you mean {guess!r}?" if guess else ""
                raise SegmentNotFoundError(f"no saved segment named {item!r}{hint}")
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
    """The explorer app (an ``ipywidgets.VBox``): header, the saved segments' side list
    and the five tabs.

    Parameters
    ----------
    base : ContactBase
    segments : mapping or iterable, optional
        Segments to save into ``base.segments`` first (see :func:`register_segments`); they
        are preselected in Compare.
    mask_pii : bool
        Never list personal data (emails, names...) in value lists and tables.
    debounce : float
        Seconds of quiet before the Build tab redraws its charts (0: at once); the size is
        always updated at once.
    locale : {"en", "fr"}, optional
        How the header and the segment's size write numbers; default: French when the
        base is French (see :func:`explore`).
    lazy : bool, optional
        Wait until a tab is shown to do its work (the whole-base profile, the Build
        charts). Default: in a Jupyter kernel (notebook, Voilà) only.
    export_folder : str or path, optional
        Where the Plan tab writes its exports, each in a new folder of its own; default a
        temporary folder.
    history : str, path or DataFrame, optional
        A refresh history (:func:`segexplore.delivery.refresh.refresh` writes it,
        :func:`~segexplore.delivery.refresh.read_history` reads it): the side list draws
        each saved segment's size over its runs.
    name : str, optional
        The base's name in the header; default the base's own ``name``, if it has one.

    Attributes
    ----------
    header : ipywidgets.HTML
    segment_list : SegmentList
    tabs : ipywidgets.Tab
    builder : SegmentBuilder
    profile_panel, compare_panel, export_panel, plan_panel
    """

    def __init__(self, base: ContactBase, *, segments: Any = None, mask_pii: bool = False,
                 debounce: float = 0.15, lazy: bool | None = None,
                 locale: str | None = None, export_folder: str | Path | None = None,
                 history: Any = None, name: str | None = None) -> None:
        super().__init__()
        self.add_class("se-app")
        self.base = base
        self.locale = resolve_locale(locale, base)
        self.lazy = lazy = in_kernel() if lazy is None else lazy
        names = register_segments(base, segments)
        self.builder = SegmentBuilder(base, mask_pii=mask_pii, debounce=debounce,
                                      draw_charts=not lazy, locale=self.locale)
        current = self.builder.segment
        self.profile_panel = ProfilePanel(base, current=current, mask_pii=mask_pii,
                                          on_use_rule=self.use_rule,
                                          run_now=not lazy and ProfilePanel.runs_by_itself(base),
                                          locale=self.locale)
        self.compare_panel = ComparePanel(base, current=current, selected=names,
                                          mask_pii=mask_pii, locale=self.locale)
        self.export_panel = ExportPanel(base, current=current, locale=self.locale)
        self.plan_panel = PlanPanel(base, current=current, export_folder=export_folder,
                                    locale=self.locale)
        self.tabs = W.Tab(children=[self.profile_panel, self.builder, self.compare_panel,
                                    self.export_panel, self.plan_panel])
        self.tabs.titles = TAB_TITLES
        self.tabs.add_class("se-tabs")
        # The tabs take the room the side list leaves, and may shrink below their content's
        # width (a flex item's default min-width is its content's).
        self.tabs.layout = W.Layout(flex="1 1 auto", min_width="0")
        given = name if name is not None else getattr(base, "name", None)
        self.base_name = given if isinstance(given, str) and given.strip() else None
        # Read once: the tables of a base do not change (an erasure only removes rows).
        self.latest_activity = latest_activity(base)
        self.header = W.HTML(self._header())
        self.header.add_class("se-header")
        self.segment_list = SegmentList(base, history=history, locale=self.locale,
                                        on_open=self.open_segment)
        body = W.HBox([self.segment_list, self.tabs],
                      layout=W.Layout(align_items="flex-start", width="100%"))
        body.add_class("se-body")
        #: Tells the kernel when the browser has drawn the app (then the open tab is filled).
        self.shown = DisplaySignal()
        self.children = [self.header, body, self.shown]
        self.builder.on_saved(self._segment_saved)
        self.builder.on_change(lambda builder: self.export_panel.refresh_columns())
        self.tabs.observe(self._tab_opened, names="selected_index")
        self.shown.on_display(self._fill_open_tab)

    def _header(self) -> str:
        """One line: the base's name, contacts, as-of date, freshness, saved segments."""
        base = self.base
        parts = ["<b>segexplore</b>"]
        if self.base_name:
            parts.append(f'<b class="se-header-name">{escape(self.base_name)}</b>')
        parts.append(f"{format_count(contact_count(base), self.locale)} contacts as of "
                     f"{escape(f'{base.as_of:%Y-%m-%d}')}")
        if self.latest_activity is not None:
            parts.append(f'<span class="se-header-freshness">latest activity '
                         f"{self.latest_activity:%Y-%m-%d %H:%M}</span>")
        saved = len(base.segments)
        parts.append(f"{format_count(saved, self.locale)} saved segment"
                     f"{'' if saved == 1 else 's'}")
        # One line however narrow the page: what does not fit ends in an ellipsis.
        return ('<div class="se-header-text" style="white-space:nowrap;overflow:hidden;'
                f'text-overflow:ellipsis">{" · ".join(parts)}</div>')

    def _segment_saved(self, segment: Segment) -> None:
        self.header.value = self._header()
        self.segment_list.refresh()
        for panel in (self.profile_panel, self.compare_panel, self.export_panel,
                      self.plan_panel):
            panel.refresh_segments()

    def _tab_opened(self, change: dict[str, Any]) -> None:
        """Fill a tab the first time it is opened; opening Profile on the segment being
        built profiles its latest version."""
        if self.lazy and not self.shown.displayed:  # before the page is drawn: wait for it
            return
        self._fill_open_tab()

    def _fill_open_tab(self) -> None:
        index = self.tabs.selected_index
        if index == TAB_TITLES.index("Profile"):
            if not self.profile_panel.auto:
                return  # a DuckDB base: profiled when asked (a minute at 10M contacts)
            if not self.profile_panel.ran or self.profile_panel.source.value == CURRENT:
                self.profile_panel.run()
        elif index == TAB_TITLES.index("Build"):
            self.builder.show_charts()

    def use_rule(self, text: str) -> None:
        """Open the Build tab with ``text`` as the rule."""
        self.builder.set_text(text)
        self.tabs.selected_index = TAB_TITLES.index("Build")

    def open_segment(self, name: str) -> None:
        """Open the saved segment ``name`` in the Build tab (its parent, rule and name),
        as clicking its name in the side list does."""
        self.builder.open_segment(name)
        self.tabs.selected_index = TAB_TITLES.index("Build")


def explore(base: ContactBase, *, segments: Any = None, mask_pii: bool = False,
            debounce: float = 0.15, lazy: bool | None = None,
            locale: str | None = None, export_folder: str | Path | None = None,
            history: Any = None, name: str | None = None) -> Explorer:
    """Open the explorer on a base: Profile, Build, Compare, Export and Plan tabs.

    Parameters
    ----------
    base : ContactBase
    segments : mapping or iterable, optional
        Segments to save first, e.g. ``{"VIP": 'rfm_group = "champions"'}``.
    mask_pii : bool, default False
        Never list personal data (emails, names...) in value lists and tables.
    debounce : float, default 0.15
        Seconds of quiet before the Build tab redraws its charts; 0 draws at once. The
        size of the segment is always updated at once.
    lazy : bool, optional
        Fill each tab when it is first shown (see :class:`Explorer`); default: in a
        Jupyter kernel.
    locale : {"en", "fr"}, optional
        How the header and the segment's size write numbers: ``"en"`` ``1,334`` and
        ``6.7%``, ``"fr"`` ``1 334`` and ``6,7 %``. Default: French when more than half of
        the contacts read French (:func:`segexplore.display.numbers.base_locale`), as on
        the bundled sample. An explicit value always wins.
    export_folder : str or path, optional
        Where the Plan tab writes each export (in a new folder of its own, so an export
        never replaces another); default a temporary folder.
    history : str, path or DataFrame, optional
        The size history of a catalog's refreshes (the ``history_path`` given to
        :func:`segexplore.delivery.refresh.refresh`, or what
        :func:`~segexplore.delivery.refresh.read_history` returned): the side list draws
        each saved segment's size over the runs as a sparkline.
    name : str, optional
        The base's name, shown first in the header.

    Returns
    -------
    Explorer
        Display it (last expression of a cell, or ``display(app)``).

    Examples
    --------
    >>> import segexplore as se
    >>> app = explore(se.load_sample(), debounce=0)
    >>> [app.tabs.get_title(i) for i in range(5)]
    ['Profile', 'Build', 'Compare', 'Export', 'Plan']
    >>> app.locale, explore(se.load_sample(), debounce=0, locale="en").locale
    ('fr', 'en')
    >>> app = explore(se.load_sample(), segments={"Gold": 'loyalty_tier = "gold"'},
    ...               debounce=0, locale="en", name="Sample")
    >>> [line.size for line in app.segment_list.lines]
    [510]
    >>> "Sample" in app.header.value and "latest activity 2026-10-30" in app.header.value
    True
    """
    return Explorer(base, segments=segments, mask_pii=mask_pii, debounce=debounce,
                    lazy=lazy, locale=locale, export_folder=export_folder, history=history,
                    name=name)
