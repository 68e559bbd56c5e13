"""The Voilà dashboards shipped with segexplore, and what their configuration cell reads.

Two notebooks ship inside the package, so they work after a plain ``pip install``; they
are the only copies (the repository's top-level ``dashboards/`` folder holds symbolic
links to them):

- ``explorer``: the full app (Profile, Build, Compare, Export);
- ``segment_report``: a read-only report of saved segments for stakeholders.

Both load their base with :func:`base_from_environment`: the files named by the
environment variables ``SEGEXPLORE_DATA``, ``SEGEXPLORE_EVENTS`` and ``SEGEXPLORE_ORDERS``
(the ``segexplore dashboard`` command sets them); the bundled sample when none is given.
``SEGEXPLORE_DATA`` may also name a folder holding ``contacts``, ``events`` and ``orders``
files (Parquet, CSV or Excel), as ``segexplore sample --out DIR`` writes, or, for the DuckDB
engine, folders of parts (``contacts/part-00000.parquet``..., as ``--chunk-contacts``
writes). ``SEGEXPLORE_ENGINE`` (``segexplore dashboard --engine duckdb``) chooses the
engine that holds the base: ``pandas`` (the default) or ``duckdb``, whose tables stay in
DuckDB (bases larger than memory; see ``docs/duckdb.md``).

The page's address may only *choose* among the data sets the server was started with
(:func:`choose_data_set`): ``?data=NAME`` names one of ``SEGEXPLORE_DATA_SETS`` (a JSON
object ``{name: path}``, set by ``segexplore dashboard --data A --data B``) or a file or
folder under ``SEGEXPLORE_DATA_ROOT`` (``--data-root DIR``). Anything else, and any
``?events=``, ``?orders=`` or ``?segments=``, is refused with
:class:`~segexplore.errors.DataSetRefusedError` shown in the page, which never repeats the refused value: whoever can open the page must
not be able to make the server read other files (issue 11).

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
>>> data_sources({"QUERY_STRING": "data=/etc/passwd"})
Traceback (most recent call last):
...
segexplore.errors.DataSetRefusedError: this dashboard serves only the data it was started with...
"""

from __future__ import annotations

import html
import importlib.resources
import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from segexplore.errors import (
    DashboardError,
    DataSetRefusedError,
    FileFormatError,
    SegexploreError,
    closest_name,
)

__all__ = [
    "DATA_SETS",
    "DATA_ROOT",
    "ENGINE",
    "ENGINES",
    "CONNECT",
    "CONNECT_SCHEMA",
    "CONNECT_TABLES",
    "engine_from_environment",
    "choose_data_set",
    "data_set_name",
    "DASHBOARDS",
    "ENVIRONMENT",
    "SAMPLE_SEGMENTS",
    "dashboard_path",
    "data_sources",
    "allowed_data_sets",
    "find_tables",
    "base_from_environment",
    "base_name_from_environment",
    "segments_from_environment",
    "history_from_environment",
    "show_errors_in_page",
    "error_html",
]

#: The shipped dashboards, by name.
DASHBOARDS = ("explorer", "segment_report")

#: Environment variable naming each input, and its query parameter (only ``data`` may be
#: given in the address, to choose among allowed data sets: see :func:`data_sources`).
ENVIRONMENT = {
    "contacts": ("SEGEXPLORE_DATA", "data"),
    "events": ("SEGEXPLORE_EVENTS", "events"),
    "orders": ("SEGEXPLORE_ORDERS", "orders"),
    "segments": ("SEGEXPLORE_SEGMENTS", "segments"),
}

#: Environment variable holding the data sets ``?data=NAME`` may choose, as a JSON object
#: ``{name: absolute path}`` (``segexplore dashboard --data A --data B`` sets it).
DATA_SETS = "SEGEXPLORE_DATA_SETS"
#: Environment variable naming a folder whose files and sub-folders ``?data=`` may choose
#: (``segexplore dashboard --data-root DIR`` sets it).
DATA_ROOT = "SEGEXPLORE_DATA_ROOT"

#: Environment variables naming a connected base (``segexplore dashboard --connect SOURCE
#: --schema NAME --tables A,B,C``, read by :func:`segexplore.engines.server.connect_source`);
#: only the server sets them, never the address.
CONNECT, CONNECT_SCHEMA, CONNECT_TABLES = ("SEGEXPLORE_CONNECT", "SEGEXPLORE_SCHEMA",
                                           "SEGEXPLORE_TABLES")

#: Environment variable naming the engine that holds the dashboard's base
#: (``segexplore dashboard --engine``); only the server sets it, never the address.
ENGINE = "SEGEXPLORE_ENGINE"
#: The engines a dashboard can open a base with.
ENGINES = ("pandas", "duckdb")

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


def data_set_name(path: str | os.PathLike[str]) -> str:
    """The name ``?data=`` gives a data set: the last part of its path.

    Examples
    --------
    >>> data_set_name("/srv/bases/spring/"), data_set_name("/srv/bases/contacts.csv")
    ('spring', 'contacts.csv')
    """
    return Path(os.path.normpath(os.fspath(path))).name or os.fspath(path)


def allowed_data_sets(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The data sets ``?data=NAME`` may choose, by name: ``SEGEXPLORE_DATA`` (the default)
    and those of ``SEGEXPLORE_DATA_SETS``.

    Examples
    --------
    >>> allowed_data_sets({"SEGEXPLORE_DATA": "/srv/a",
    ...                    "SEGEXPLORE_DATA_SETS": '{"a": "/srv/a", "b": "/srv/b.csv"}'})
    {'a': '/srv/a', 'b': '/srv/b.csv'}
    """
    environ = os.environ if environ is None else environ
    sets: dict[str, str] = {}
    default = (environ.get("SEGEXPLORE_DATA") or "").strip()
    if default:
        sets[data_set_name(default)] = default
    raw = (environ.get(DATA_SETS) or "").strip()
    if raw:
        try:
            named = json.loads(raw)
        except ValueError as error:
            raise DashboardError(f"{DATA_SETS} must hold a JSON object {{name: path}}: "
                                 f"{error}") from None
        if not isinstance(named, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in named.items()):
            raise DashboardError(f"{DATA_SETS} must hold a JSON object {{name: path}} of "
                                 "strings")
        sets.update(named)
    return sets


def _under_root(value: str, root: str) -> str | None:
    """``value`` (relative to ``root``, or absolute) when it resolves, symbolic links
    followed, to an existing, non-hidden file or folder inside ``root``; else None."""
    top = Path(os.path.realpath(root))
    candidate = Path(value) if os.path.isabs(value) else top / value
    resolved = Path(os.path.realpath(candidate))
    try:
        relative = resolved.relative_to(top)
    except ValueError:
        return None  # outside the root: "..", an absolute path elsewhere, a symlink out
    if any(part.startswith(".") for part in relative.parts):
        return None  # hidden files and folders (.git, .ssh...) are not data sets
    if not (resolved.is_file() or resolved.is_dir()):
        return None
    return str(resolved)


def choose_data_set(value: str, environ: Mapping[str, str] | None = None) -> str:
    """The path of the data set ``?data=value`` chooses, or
    :class:`~segexplore.errors.DataSetRefusedError`.

    ``value`` may be the name of an allowed data set (see :func:`allowed_data_sets`), the
    exact path of one, or, with ``SEGEXPLORE_DATA_ROOT``, a file or folder under that root
    (its path relative to the root, or absolute): symbolic links are followed before the
    check, and hidden names (starting with ``.``) are refused. Nothing outside these is
    ever opened, and the refusal does not repeat ``value``.

    Examples
    --------
    >>> environ = {"SEGEXPLORE_DATA_SETS": '{"spring": "/srv/spring", "june": "/srv/j.csv"}'}
    >>> choose_data_set("june", environ), choose_data_set("/srv/spring/", environ)
    ('/srv/j.csv', '/srv/spring')
    >>> choose_data_set("/etc/passwd", environ)
    Traceback (most recent call last):
    ...
    segexplore.errors.DataSetRefusedError: this dashboard does not serve the data named in the address: ?data= may only name one of the data sets it was started with: 'june', 'spring'
    """
    environ = os.environ if environ is None else environ
    value = value.strip()
    sets = allowed_data_sets(environ)
    root = (environ.get(DATA_ROOT) or "").strip()
    if "\0" not in value:
        if value in sets:
            return sets[value]
        if os.path.isabs(value):
            for path in sets.values():
                if os.path.normpath(path) == os.path.normpath(value):
                    return path
        if root and value:
            found = _under_root(value, root)
            if found is not None:
                return found
    offers = []
    if len(sets) > 1:  # one data set (the default) is no choice
        offers.append("one of the data sets it was started with: "
                      + ", ".join(repr(name) for name in sorted(sets)))
    if root:
        offers.append("a file or folder under its data root, by its path relative to "
                      "that folder")
    if not offers:
        raise DataSetRefusedError(
            "this dashboard serves only the data it was started with: the address cannot "
            "choose other data (start it with several --data, or with --data-root, to "
            "offer a choice)")
    raise DataSetRefusedError("this dashboard does not serve the data named in the "
                              "address: ?data= may only name " + ", or ".join(offers))


def data_sources(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The inputs named by the environment, and the data set the query string chooses.

    The environment variables (``SEGEXPLORE_DATA``, ``SEGEXPLORE_EVENTS``,
    ``SEGEXPLORE_ORDERS``, ``SEGEXPLORE_SEGMENTS``) name the server's inputs; empty values
    are ignored. The page's address may only choose the contacts data set, among those
    the server allows (``?data=NAME``, see :func:`choose_data_set`); the events and orders
    files of the environment then go with the default data set only. ``?events=``,
    ``?orders=`` and ``?segments=`` are refused: they would let any viewer make the
    server read any file.

    Parameters
    ----------
    environ : mapping, optional
        Default: :data:`os.environ` (Voilà puts the page's query string in
        ``QUERY_STRING``).

    Returns
    -------
    dict
        Keys among ``contacts``, ``events``, ``orders`` and ``segments``.

    Raises
    ------
    DataSetRefusedError
        When the query string asks for anything else.

    Examples
    --------
    >>> environ = {"SEGEXPLORE_DATA": "/srv/a", "SEGEXPLORE_ORDERS": "/srv/o.csv",
    ...            "SEGEXPLORE_DATA_SETS": '{"a": "/srv/a", "b": "/srv/b"}'}
    >>> data_sources(dict(environ, QUERY_STRING="data=a"))
    {'contacts': '/srv/a', 'orders': '/srv/o.csv'}
    >>> data_sources(dict(environ, QUERY_STRING="data=b"))
    {'contacts': '/srv/b'}
    """
    environ = os.environ if environ is None else environ
    query = parse_qs(environ.get("QUERY_STRING", "") or "")
    sources = {}
    for key, (variable, _parameter) in ENVIRONMENT.items():
        value = (environ.get(variable) or "").strip()
        if value:
            sources[key] = value
    for key in ("events", "orders", "segments"):
        if any(v.strip() for v in query.get(ENVIRONMENT[key][1], [])):
            raise DataSetRefusedError(
                "the address may only choose the data set (?data=NAME): the events, orders "
                "and segment files are those the dashboard was started with (--events, "
                "--orders, --segments)")
    chosen = [v for v in query.get(ENVIRONMENT["contacts"][1], []) if v.strip()]
    if chosen:
        path = choose_data_set(chosen[-1], environ)
        if path != sources.get("contacts"):
            # --events and --orders complete the default data set, not the chosen one.
            sources.pop("events", None)
            sources.pop("orders", None)
        sources["contacts"] = path
    return sources


def engine_from_environment(environ: Mapping[str, str] | None = None) -> str:
    """The engine named by ``SEGEXPLORE_ENGINE`` (default ``"pandas"``).

    Raises
    ------
    DashboardError
        Another name, with the closest engine.

    Examples
    --------
    >>> engine_from_environment({}), engine_from_environment({"SEGEXPLORE_ENGINE": "DuckDB"})
    ('pandas', 'duckdb')
    >>> engine_from_environment({"SEGEXPLORE_ENGINE": "duckbd"})
    Traceback (most recent call last):
    ...
    segexplore.errors.DashboardError: unknown engine 'duckbd' (SEGEXPLORE_ENGINE): expected pandas or duckdb; did you mean 'duckdb'?
    """
    environ = os.environ if environ is None else environ
    name = (environ.get(ENGINE) or "").strip().lower() or "pandas"
    if name not in ENGINES:
        guess = closest_name(name, ENGINES)
        hint = f"; did you mean {guess!r}?" if guess else ""
        raise DashboardError(f"unknown engine {name!r} ({ENGINE}): expected "
                             f"{' or '.join(ENGINES)}{hint}")
    return name


def find_tables(path: str | os.PathLike[str], *, folders: bool = False) -> dict[str, Path]:
    """``contacts``, ``events`` and ``orders`` files of a folder, or a contacts file alone.

    With ``folders``, a table may also be a sub-folder of parts (``contacts/``, as
    ``segexplore sample --chunk-contacts`` writes), which the DuckDB engine reads.

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
        if table not in found and (path / table).is_dir():
            if not folders:
                raise FileFormatError(
                    f"{str(path / table)!r} is a folder of parts: the pandas engine reads "
                    "one file a table, the DuckDB engine folders (read_base(..., "
                    "engine='duckdb'); segexplore dashboard --engine duckdb)",
                    path=path / table)
            found[table] = path / table
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

    With ``SEGEXPLORE_ENGINE=duckdb`` (see :func:`engine_from_environment`) the base is a
    :class:`~segexplore.engines.duckdb.DuckDBBase` over the same files (the bundled
    sample's too): its tables stay in DuckDB. With ``SEGEXPLORE_CONNECT`` (never read from
    the address) it is a connected base (:func:`segexplore.connect`): the tables stay in
    PostgreSQL or the DuckDB database file it names.

    Parameters
    ----------
    environ : mapping, optional
        Where to look (see :func:`data_sources`); default :data:`os.environ`.
    **options
        Passed to :func:`segexplore.read_base` (``sep=``, ``columns=``...; with the
        DuckDB engine ``memory_limit=``, ``threads=``...).

    Examples
    --------
    >>> base = base_from_environment({})     # nothing named: the bundled sample
    >>> len(base.contacts) > 15_000
    True
    """
    from segexplore.datasets.sample import load_sample, sample_path
    from segexplore.io.load import read_base

    show_errors_in_page()
    given = os.environ if environ is None else environ
    if given.get(CONNECT):
        from segexplore.engines.server import connect_source

        return connect_source(given[CONNECT], tables=given.get(CONNECT_TABLES) or None,
                              schema=given.get(CONNECT_SCHEMA) or None)
    engine = engine_from_environment(environ)
    sources = data_sources(environ)
    if "contacts" not in sources:
        if engine == "pandas":
            return load_sample()
        tables = find_tables(sample_path())
    else:
        tables = find_tables(sources["contacts"], folders=engine == "duckdb")
    for table in ("events", "orders"):
        if table in sources:
            tables[table] = Path(sources[table]).expanduser()
    if engine == "duckdb":
        return read_base(tables["contacts"], tables.get("events"), tables.get("orders"),
                         engine="duckdb", **options)
    # No progress bar: in a dashboard it would be a widget drawn before the app itself.
    options.setdefault("progress", False)
    return read_base(tables["contacts"], tables.get("events"), tables.get("orders"),
                     **options)


def base_name_from_environment(environ: Mapping[str, str] | None = None) -> str:
    """The name the explorer's header gives the dashboard's base.

    The data set's name (:func:`data_set_name`: the last part of the contacts path the
    server was started with or the address chose), the schema of a connected base (never
    its connection string, which may hold a password), else ``"bundled sample"``.

    Examples
    --------
    >>> base_name_from_environment({})
    'bundled sample'
    >>> base_name_from_environment({"SEGEXPLORE_DATA": "/srv/bases/spring/"})
    'spring'
    >>> base_name_from_environment({"SEGEXPLORE_CONNECT": "postgresql://u:secret@db/crm",
    ...                             "SEGEXPLORE_SCHEMA": "marketing"})
    'marketing'
    """
    given = os.environ if environ is None else environ
    if given.get(CONNECT):
        return (given.get(CONNECT_SCHEMA) or "").strip() or "connected database"
    sources = data_sources(environ)
    return data_set_name(sources["contacts"]) if "contacts" in sources else "bundled sample"


def history_from_environment(environ: Mapping[str, str] | None = None) -> Path | None:
    """The size history of the catalog ``SEGEXPLORE_SEGMENTS`` names, if it has one.

    The file ``segexplore refresh`` writes beside the catalog
    (:func:`~segexplore.delivery.refresh.default_history_path`, ``CATALOG.history.csv``);
    ``None`` when no catalog is named or it was never refreshed. The explorer's side list
    draws each segment's size over these runs.

    Examples
    --------
    >>> history_from_environment({}) is None
    True
    """
    from segexplore.delivery.refresh import default_history_path

    sources = data_sources(environ)
    if "segments" not in sources:
        return None
    history = default_history_path(Path(sources["segments"]).expanduser())
    return history if history.is_file() else None


def segments_from_environment(base, environ: Mapping[str, str] | None = None, *,
                              examples: bool = True) -> list:
    """The saved segments the report shows, registered in ``base.segments``.

    Read from the file named by ``SEGEXPLORE_SEGMENTS`` (or ``?segments=...``): a segment
    catalog (YAML, ``schema: segexplore.catalog/1``, see
    :class:`segexplore.delivery.catalog.Catalog`), or a JSON/YAML list of ``{"name", "rule",
    "description", "parent"}`` entries as :meth:`Segment.to_dict` writes them, parents
    first. Without a file: the segments already saved in ``base.segments``, or, when
    there are none, :data:`SAMPLE_SEGMENTS` (none with ``examples=False``, as the explorer
    asks: its analysts save their own).

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
    elif base.segments or not examples:
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
