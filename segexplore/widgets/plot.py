"""Plotly figures in the widgets, with one copy of plotly.js per page.

A ``go.FigureWidget`` carries the whole plotly.js bundle (~4.8 MB) in its own state, so a
page with four charts sent ~20 MB over the websocket and evaluated the bundle four times.
Here the bundle travels once: :class:`PlotlyLibrary` (one per kernel) holds plotly.js as
read from the installed ``plotly`` package (so the page works offline, no CDN), and every
:class:`FigureView` is a small `anywidget <https://anywidget.dev>`_ that holds only its
figure's JSON and draws it with that shared plotly.js (``Plotly.react``, so an update
redraws in place).

:class:`DisplaySignal` tells the kernel when the browser has drawn the app, so work that
only a visible tab needs can wait until the page is on screen.

Examples
--------
>>> import plotly.graph_objects as go
>>> view = FigureView(go.Figure(go.Bar(x=["a", "b"], y=[1, 2])))
>>> list(view.data[0].x)
['a', 'b']
>>> view.spec["data"][0]["type"]
'bar'
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import anywidget
import pandas as pd
import traitlets as T
from ipywidgets import widget_serialization

if TYPE_CHECKING:
    from collections.abc import Iterator

    import plotly.graph_objects as go

__all__ = ["FigureView", "PlotlyLibrary", "DisplaySignal", "plotly_library", "as_figure"]

#: The library widget only carries the bundle; it draws nothing.
_LIBRARY_ESM = "export default { render({ el }) { el.style.display = 'none'; } };"

#: Loads the shared plotly.js once per page (a promise on ``globalThis``) and draws the
#: figure with ``Plotly.react`` whenever ``spec`` changes.
_VIEW_ESM = r"""
const KEY = "__segexplorePlotly";

async function plotly(model) {
  if (!globalThis[KEY]) {
    globalThis[KEY] = (async () => {
      let ref = model.get("library");
      let library = ref;
      if (typeof ref === "string") {
        library = await model.widget_manager.get_model(ref.replace(/^IPY_MODEL_/, ""));
      }
      const source = library.get("source");
      const url = URL.createObjectURL(new Blob([source], { type: "text/javascript" }));
      try {
        await import(/* webpackIgnore: true */ url);
      } finally {
        URL.revokeObjectURL(url);
      }
      return globalThis.Plotly;
    })();
    globalThis[KEY].catch(() => { delete globalThis[KEY]; });
  }
  return globalThis[KEY];
}

function render({ model, el }) {
  const plot = document.createElement("div");
  plot.className = "se-plot";
  el.appendChild(plot);
  let alive = true;
  let Plotly = null;
  const draw = async () => {
    try {
      Plotly = await plotly(model);
      if (!alive) return;
      const spec = model.get("spec") || {};
      await Plotly.react(plot, spec.data || [], spec.layout || {},
                         Object.assign({ displaylogo: false }, spec.config || {}));
    } catch (error) {
      plot.textContent = "Chart unavailable: " + error;
    }
  };
  model.on("change:spec", draw);
  draw();
  return () => {
    alive = false;
    if (Plotly) Plotly.purge(plot);
  };
}

export default { render };
"""

#: Tells the kernel the view was drawn.
_SIGNAL_ESM = """
function render({ model, el }) {
  el.style.display = "none";
  model.send({ event: "displayed" });
}
export default { render };
"""


class PlotlyLibrary(anywidget.AnyWidget):
    """plotly.js, from the installed ``plotly`` package, shared by every :class:`FigureView`.

    Use :func:`plotly_library` (one per kernel) rather than making more.
    """

    _esm = T.Unicode(_LIBRARY_ESM).tag(sync=True)
    source = T.Unicode("").tag(sync=True)

    def __init__(self, **kwargs: Any) -> None:
        from plotly.offline import get_plotlyjs

        super().__init__(source=get_plotlyjs(), **kwargs)


_LIBRARY: PlotlyLibrary | None = None


def plotly_library() -> PlotlyLibrary:
    """The kernel's :class:`PlotlyLibrary` (made on first use, again if it was closed)."""
    global _LIBRARY
    if _LIBRARY is None or getattr(_LIBRARY, "comm", None) is None:
        _LIBRARY = PlotlyLibrary()
    return _LIBRARY


def as_figure(figure: Any) -> go.Figure:
    """A ``go.Figure`` from a figure, a ``FigureWidget``, a :class:`FigureView` or a dict."""
    import plotly.graph_objects as go

    if isinstance(figure, FigureView):
        return figure.figure
    if isinstance(figure, go.Figure):
        return figure
    if hasattr(figure, "to_plotly_json"):  # FigureWidget
        return go.Figure(figure.to_plotly_json())
    return go.Figure(figure)


def _spec(figure: go.Figure) -> dict[str, Any]:
    """The figure as plain JSON (numpy arrays become plotly.js typed-array objects)."""
    return json.loads(figure.to_json())


class FigureView(anywidget.AnyWidget):
    """A plotly figure drawn in the page with the shared plotly.js.

    Parameters
    ----------
    figure : go.Figure, FigureWidget or dict
        What to draw. ``view.figure`` is the ``go.Figure`` (``view.data`` its traces;
        ``view.layout`` stays the widget's CSS layout); after changing the figure in
        place, call :meth:`refresh` (or change it inside :meth:`batch_update`).
    **kwargs
        Passed to ``anywidget.AnyWidget`` (``layout=``...).
    """

    _esm = T.Unicode(_VIEW_ESM).tag(sync=True)
    spec = T.Dict().tag(sync=True)
    library = T.Instance(PlotlyLibrary).tag(sync=True, **widget_serialization)

    def __init__(self, figure: Any = None, **kwargs: Any) -> None:
        self._figure: go.Figure | None = as_figure(figure if figure is not None else {})
        super().__init__(spec=_spec(self._figure), library=plotly_library(), **kwargs)

    @property
    def figure(self) -> go.Figure:
        """The ``go.Figure`` drawn (made from :attr:`spec` when that was sent by
        :meth:`show_spec`)."""
        if self._figure is None:
            import plotly.graph_objects as go

            self._figure = go.Figure(self.spec)
        return self._figure

    @property
    def data(self) -> tuple[Any, ...]:
        """The figure's traces."""
        return self.figure.data

    def show(self, figure: Any) -> None:
        """Draw another figure in this view."""
        self._figure = as_figure(figure)
        self.refresh()

    def show_spec(self, spec: dict[str, Any]) -> None:
        """Draw a figure given as plotly.js JSON (what :attr:`spec` holds): nothing is
        validated or converted, so a redraw costs no ``go.Figure``; :attr:`figure` is
        made from it when asked. ``spec`` must be a new dict, not the current one changed
        in place (an equal value is not sent)."""
        self._figure = None
        self.spec = spec

    def refresh(self) -> None:
        """Send the figure (after changing ``view.figure`` in place) to the page."""
        self.spec = _spec(self.figure)

    @contextmanager
    def batch_update(self) -> Iterator[None]:
        """Change the figure inside the block; it is redrawn once at the end."""
        with self.figure.batch_update():
            yield
        self.refresh()


class DisplaySignal(anywidget.AnyWidget):
    """An invisible widget that calls back (in the kernel) when a browser has drawn it.

    Put it in a container: ``on_display(callback)`` runs ``callback()`` the first time the
    container is on screen (each callback once).
    """

    _esm = T.Unicode(_SIGNAL_ESM).tag(sync=True)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.displayed = False
        self._callbacks: list[Callable[[], None]] = []
        self.on_msg(self._message)

    def on_display(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` once, when the browser draws this widget (at once if it has)."""
        if self.displayed:
            callback()
        else:
            self._callbacks.append(callback)

    def _message(self, widget: Any, content: Any, buffers: Any) -> None:
        if isinstance(content, dict) and content.get("event") == "displayed":
            self.fire()

    def fire(self) -> None:
        """Run the waiting callbacks now (as if the browser had drawn the widget)."""
        self.displayed = True
        callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            callback()


# -- the Build tab's distribution chart -----------------------------------------------------

_HOVER = "%{y}<br>%{x:.1f}% (%{customdata:,} contacts)<extra>%{fullData.name}</extra>"


def _traces(table: pd.DataFrame, segment_label: str) -> list[dict[str, Any]]:
    """The two traces' values, as plain lists (the JSON plotly makes of them)."""
    values = [str(value) for value in table["value"]]
    return [dict(y=values, x=(table["segment_share"] * 100).tolist(),
                 customdata=table["segment_count"].tolist(), name=segment_label),
            dict(y=values, x=(table["base_share"] * 100).tolist(),
                 customdata=table["base_count"].tolist(), name="whole base")]


def _title(attribute: str) -> dict[str, Any]:
    return dict(text=attribute, x=0.01, font=dict(size=14))


def _height(table: pd.DataFrame) -> int:
    """Room for every bar and its label: the chart grows with the values shown."""
    return int(max(220, 90 + 26 * len(table)))


def _value_axis(table: pd.DataFrame) -> dict[str, Any]:
    values = [str(value) for value in table["value"]]
    # first value at the top; every label drawn (automargin makes room for the longest)
    return dict(type="category", categoryorder="array", categoryarray=values,
                autorange="reversed", automargin=True, tickmode="linear", dtick=1)


def distribution_figure(table: pd.DataFrame, attribute: str, *,
                        segment_label: str = "segment") -> go.Figure:
    """Horizontal bars of :func:`distribution_table`: share of the segment beside the base's
    (%), one bar pair per value, in the table's order (the most frequent first, then
    ``"other"`` and ``"(missing)"``; bins and months in their order).

    A plain ``go.Figure`` (the builder draws it in a
    :class:`~segexplore.widgets.plot.FigureView`); the y values are the ``value`` column's
    texts, so categories show their names, and the height grows with the number of values
    so that no label is dropped.
    """
    import plotly.graph_objects as go

    colours = ("#2a6fdb", "#b8c4d6")
    return go.Figure(
        data=[go.Bar(**trace, orientation="h", marker_color=colour, hovertemplate=_HOVER)
              for trace, colour in zip(_traces(table, segment_label), colours, strict=True)],
        layout=dict(barmode="group", height=_height(table), width=420,
                    title=_title(attribute), margin=dict(l=10, r=10, t=56, b=36),
                    yaxis=_value_axis(table),
                    xaxis=dict(title="% of contacts", ticksuffix="%", rangemode="tozero"),
                    legend=dict(orientation="h", y=1.0, yanchor="bottom", x=1,
                                xanchor="right")))


def update_distribution_figure(figure: Any, table: pd.DataFrame, attribute: str,
                               *, segment_label: str = "segment") -> None:
    """Put a new :func:`distribution_table` into a figure made by :func:`distribution_figure`.

    ``figure`` is that ``go.Figure``, a ``go.FigureWidget`` made from it, or a
    :class:`~segexplore.widgets.plot.FigureView` showing it (redrawn once; its JSON is
    changed directly, the JSON plotly would make of the updated figure: a redraw on
    every rule change costs no plotly validation).
    """
    if _is_view(figure):
        figure.show_spec(_updated_spec(figure.spec, table, attribute, segment_label))
        return
    with figure.batch_update():
        figure.layout.title = _title(attribute)
        figure.layout.height = _height(table)
        figure.layout.yaxis.update(_value_axis(table))
        for trace, values in zip(figure.data, _traces(table, segment_label), strict=True):
            trace.update(**values)


def _updated_spec(spec: dict[str, Any], table: pd.DataFrame, attribute: str,
                  segment_label: str) -> dict[str, Any]:
    """A copy of a distribution figure's JSON showing ``table`` (the parts that change
    copied, so the view sees a new value)."""
    data = [{**trace, **values}
            for trace, values in zip(spec["data"], _traces(table, segment_label), strict=True)]
    layout = {**spec["layout"], "title": _title(attribute), "height": _height(table),
              "yaxis": {**spec["layout"].get("yaxis", {}), **_value_axis(table)}}
    return {**spec, "data": data, "layout": layout}


def _is_view(figure: Any) -> bool:
    return isinstance(figure, FigureView)
