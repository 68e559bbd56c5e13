"""The Voilà dashboards shipped with segexplore, and what their configuration cell reads.

Two notebooks ship inside the package (copies of the repository's ``dashboards/`` folder,
so they work after a plain ``pip install``):

- ``explorer``: the full app (Profile, Build, Compare, Export);
- ``segment_report``: a read-only report of saved segments for stakeholders.

Both load their base with :func:`base_from_environment`: the files named by the
environment variables ``SEGEXPLORE_DATA``, ``SEGEXPLORE_EVENTS`` and ``SEGEXPLORE_ORDERS``
(the ``segexplore dashboard`` command sets them), or by the Voilà query parameters
``?data=...&events=...&orders=...``; the bundled sample when none is given.
``SEGEXPLORE_DATA`` (or ``data=``) may also name a folder holding ``contacts``, ``events``
and ``orders`` files (Parquet, CSV or Excel), as ``segexplore sample --out DIR`` writes.

In a Voilà kernel, both functions first call :func:`show_errors_in_page`: Voilà hides
error outputs ("There was an error when executing cell [2]..."), so segexplore's own
errors (a missing contacts file, a bad segment file...) are shown in the page as their
message instead.

Examples
--------
>>> from segexplore.dashboards import dashboard_path
>>> dashboard_path("explorer").name
'explorer.ipynb'
>>> data_sources({})
{}
>>> data_sources({"SEGEXPLORE_DATA": "/data/contacts.csv", "QUERY_STRING": ""})
{'contacts': '/data/contacts.csv'}
"""

from __future__ import annotations

import html
import importlib.resources
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from segexplore.errors import FileFormatError, SegexploreError, closest_name

__all__ = [
    "DashboardError",
    "DASHBOARDS",
    "ENVIRONMENT",
    "SAMPLE_SEGMENTS",
    "dashboard_path",
    "data_sources",
    "find_tables",
    "base_from_environment",
    "segments_from_environment",
    "show_errors_in_page",
    "error_html",
]

class DashboardError(SegexploreError, ValueError):
    """An unknown dashboard name or a malformed segment file."""


#: The shipped dashboards, by name.
DASHBOARDS = ("explorer", "segment_report")

#: Environment variable and Voilà query parameter naming each input.
ENVIRONMENT = {
    "contacts": ("SEGEXPLORE_DATA", "data"),
    "events": ("SEGEXPLORE_EVENTS", "events"),
    "orders": ("SEGEXPLORE_ORDERS", "orders"),
    "segments": ("SEGEXPLORE_SEGMENTS", "segments"),
}

#: File endings recognised when a folder is given instead of a contacts file.
_ENDINGS = (".parquet", ".csv", ".csv.gz", ".xlsx", ".xls", ".tsv", ".txt")

#: Segments shown by the report when it runs on the bundled sample without a segment file.
SAMPLE_SEGMENTS = (
    {"name": "Android in Lyon", "rule": 'city in ("Lyon") and device in ("Android")',
     "description": "Lyon contacts reading on Android"},
    {"name": "Recent buyers", "rule": "count(purchase, last 90 days) >= 1",
     "description": "at least one purchase in the last 90 days"},
    {"name": "Cart abandoners",
     "rule": "performed(add_to_cart not followed by purchase within 24 hours, last 30 days)",
     "description": "an add-to-cart without a purchase within a day, last 30 days"},
    {"name": "Dutch speakers", "rule": 'language = "nl"',
     "description": "contacts writing in Dutch"},
)


def dashboard_path(name: str) -> Path:
    """Path of a shipped dashboard notebook, found with :mod:`importlib.resources`.

    Parameters
    ----------
    name : {"explorer", "segment_report"}
        With or without ``.ipynb``.

    Returns
    -------
    Path
        A real file Voilà can open (copied to a temporary folder if the package is not
        installed as plain files).

    Examples
    --------
    >>> dashboard_path("segment_report.ipynb").exists()
    True
    """
    stem = name[:-len(".ipynb")] if name.endswith(".ipynb") else name
    if stem not in DASHBOARDS:
        guess = closest_name(stem, DASHBOARDS)
        hint = f"; did you mean {guess!r}?" if guess else ""
        raise DashboardError(f"unknown dashboard {name!r}: expected one of "
                              f"{', '.join(DASHBOARDS)}{hint}")
    resource = importlib.resources.files(__name__).joinpath(f"{stem}.ipynb")
    try:
        path = Path(resource)  # regular and editable installs: a real file
    except TypeError:
        path = None
    if path is not None and path.is_file():
        return path
    folder = Path(tempfile.mkdtemp(prefix="segexplore-dashboards-"))
    with importlib.resources.as_file(resource) as real:
        return Path(shutil.copy(real, folder / f"{stem}.ipynb"))


def data_sources(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The inputs named by the environment and the Voilà query string.

    A query parameter (``?data=...``, ``events``, ``orders``, ``segments``) wins over the
    environment variable (``SEGEXPLORE_DATA``, ``SEGEXPLORE_EVENTS``, ``SEGEXPLORE_ORDERS``,
    ``SEGEXPLORE_SEGMENTS``); empty values are ignored.

    Parameters
    ----------
    environ : mapping, optional
        Default: :data:`os.environ` (Voilà puts the page's query string in
        ``QUERY_STRING``).

    Returns
    -------
    dict
        Keys among ``contacts``, ``events``, ``orders`` and ``segments``.

    Examples
    --------
    >>> data_sources({"SEGEXPLORE_DATA": "a.csv", "QUERY_STRING": "data=b.csv&orders=o.csv"})
    {'contacts': 'b.csv', 'orders': 'o.csv'}
    """
    environ = os.environ if environ is None else environ
    query = parse_qs(environ.get("QUERY_STRING", "") or "")
    sources = {}
    for key, (variable, parameter) in ENVIRONMENT.items():
        values = [v for v in query.get(parameter, []) if v.strip()]
        value = values[-1] if values else (environ.get(variable) or "").strip()
        if value:
            sources[key] = value
    return sources


def find_tables(path: str | os.PathLike[str]) -> dict[str, Path]:
    """``contacts``, ``events`` and ``orders`` files of a folder, or a contacts file alone.

    Examples
    --------
    >>> from segexplore import sample_path
    >>> sorted(find_tables(sample_path()))
    ['contacts', 'events', 'orders']
    """
    path = Path(path).expanduser()
    if not path.is_dir():
        if not path.exists():
            raise FileFormatError(f"no such file or folder: {str(path)!r}", path=path)
        return {"contacts": path}
    found = {}
    for table in ("contacts", "events", "orders"):
        for ending in _ENDINGS:
            candidate = path / f"{table}{ending}"
            if candidate.is_file():
                found[table] = candidate
                break
    if "contacts" not in found:
        names = sorted(p.name for p in path.iterdir())[:20]
        raise FileFormatError(
            f"no contacts file in folder {str(path)!r}: expected contacts.parquet, "
            f"contacts.csv or contacts.xlsx; it holds {names}", path=path)
    return found


#: Environment variable ``segexplore dashboard --show-tracebacks`` sets for the kernel.
SHOW_TRACEBACKS = "SEGEXPLORE_SHOW_TRACEBACKS"


def error_html(error: BaseException) -> str:
    """The message box a dashboard shows instead of a failed cell.

    The readiness check of ``segexplore dashboard`` finds the message by the classes
    ``segexplore-error`` and ``segexplore-error-message``.

    Examples
    --------
    >>> print(error_html(FileFormatError("no contacts file in folder 'a<b'")))
    <div class="segexplore-error" ...><strong>The dashboard could not start</strong><pre
    class="segexplore-error-message" ...>no contacts file in folder 'a&lt;b'</pre>...</div>
    """
    box = ("border-left: 4px solid #c62828; background: #fdecea; padding: 10px 14px; "
           "margin: 12px 0; font-family: sans-serif; color: #1a1a1a")
    message = "white-space: pre-wrap; font-size: 14px; margin: 8px 0"
    return (f'<div class="segexplore-error" style="{box}">'
            "<strong>The dashboard could not start</strong><pre "
            f'class="segexplore-error-message" style="{message}">'
            f"{html.escape(str(error), quote=False)}</pre>"
            "<small>Fix the files named by <code>--data</code>, <code>--events</code>, "
            "<code>--orders</code> or <code>--segments</code> (or by <code>?data=...</code> in "
            "the address), then reload the page.</small></div>")


def show_errors_in_page() -> bool:
    """In a Voilà kernel, show segexplore's own errors as their message in the page.

    Voilà replaces a failed cell's output by "There was an error when executing cell
    [2]. Please run Voilà with --show_tracebacks=True", which hides what the analyst must
    fix. This registers an IPython handler for :class:`~segexplore.errors.SegexploreError`
    that displays :func:`error_html` instead (plus the traceback when
    ``SEGEXPLORE_SHOW_TRACEBACKS`` is set, as ``segexplore dashboard --show-tracebacks``
    does). The cell still counts as failed, so Voilà runs no further cell. Any other
    exception (a bug) is left to Voilà.

    Returns
    -------
    bool
        True when the handler is in place (in a Voilà kernel whose shell has no other
        custom exception handler); False elsewhere (plain Python, JupyterLab).

    Examples
    --------
    >>> show_errors_in_page()   # not in a Voilà kernel: nothing to do
    False
    """
    if not os.environ.get("VOILA_KERNEL_ID"):  # Voilà sets it before running any cell
        return False
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - a Jupyter kernel has IPython
        return False
    shell = get_ipython()
    if shell is None or getattr(shell, "kernel", None) is None:
        return False
    if shell.custom_exceptions == (SegexploreError,):
        return True
    if shell.custom_exceptions:  # someone else's handler: leave it alone
        return False
    shell.set_custom_exc((SegexploreError,), _display_error)
    return True


def _display_error(shell, etype, value, tb, tb_offset=None):
    """IPython custom exception handler: the message box, no error output (see above)."""
    from IPython.display import HTML, display

    display(HTML(error_html(value)))
    if os.environ.get(SHOW_TRACEBACKS):
        shell.showtraceback((etype, value, tb), tb_offset=tb_offset)
    return None


def base_from_environment(environ: Mapping[str, str] | None = None, **options: Any):
    """The dashboard's :class:`~segexplore.ContactBase`: the named files, else the sample.

    Parameters
    ----------
    environ : mapping, optional
        Where to look (see :func:`data_sources`); default :data:`os.environ`.
    **options
        Passed to :func:`segexplore.read_base` (``sep=``, ``columns=``...).

    Examples
    --------
    >>> base = base_from_environment({})     # nothing named: the bundled sample
    >>> len(base.contacts) > 15_000
    True
    """
    from segexplore.datasets.sample import load_sample
    from segexplore.io.load import read_base

    show_errors_in_page()
    sources = data_sources(environ)
    if "contacts" not in sources:
        return load_sample()
    tables = find_tables(sources["contacts"])
    for table in ("events", "orders"):
        if table in sources:
            tables[table] = Path(sources[table]).expanduser()
    # No progress bar: in a dashboard it would be a widget drawn before the app itself.
    options.setdefault("progress", False)
    return read_base(tables["contacts"], tables.get("events"), tables.get("orders"),
                     **options)


def segments_from_environment(base, environ: Mapping[str, str] | None = None) -> list:
    """The saved segments the report shows, registered in ``base.segments``.

    Read from the file named by ``SEGEXPLORE_SEGMENTS`` (or ``?segments=...``): a segment
    catalog (YAML, ``schema: segexplore.catalog/1``, see
    :class:`segexplore.delivery.catalog.Catalog`), or a JSON/YAML list of ``{"name", "rule",
    "description", "parent"}`` entries as :meth:`Segment.to_dict` writes them, parents
    first. Without a file: the segments already saved in ``base.segments``, or, when
    there are none, :data:`SAMPLE_SEGMENTS`.

    Examples
    --------
    >>> import segexplore as se
    >>> base = se.load_sample()
    >>> [s.name for s in segments_from_environment(base, {})][:2]
    ['Android in Lyon', 'Recent buyers']
    """
    show_errors_in_page()
    sources = data_sources(environ)
    if "segments" in sources:
        document = _read_segment_file(Path(sources["segments"]).expanduser())
        if isinstance(document, Mapping) and "schema" in document:
            from segexplore.delivery.catalog import Catalog

            return list(Catalog.load(Path(sources["segments"]).expanduser())
                        .apply(base).values())
        entries = document.get("segments") if isinstance(document, Mapping) else document
        if not isinstance(entries, list):
            raise DashboardError(f"{sources['segments']!r} must hold a segment catalog or "
                                 "a list of segments")
    elif base.segments:
        return list(base.segments.values())
    else:
        entries = list(SAMPLE_SEGMENTS)
    segments = []
    for number, entry in enumerate(entries, start=1):
        if not isinstance(entry, Mapping) or not entry.get("rule"):
            raise DashboardError(f"segment {number} needs a 'rule' (and a 'name'): {entry!r}")
        segments.append(base.segment(entry["rule"], name=entry.get("name") or entry["rule"],
                                     description=entry.get("description") or "",
                                     parent=entry.get("parent") or None))
    return segments


def _read_segment_file(path: Path) -> Any:
    import json

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise FileFormatError(f"cannot read the segment file {str(path)!r}: {error}",
                              path=path) from None
    try:
        if path.suffix.lower() in (".yaml", ".yml"):
            import yaml

            return yaml.safe_load(text)
        return json.loads(text)
    except ValueError as error:  # json.JSONDecodeError
        raise DashboardError(f"{str(path)!r} is not valid JSON: {error}") from None
    except Exception as error:  # yaml.YAMLError
        raise DashboardError(f"{str(path)!r} is not valid YAML: {error}") from None
