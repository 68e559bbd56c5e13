"""HTML snippets the widgets show: sizes, inline errors, download links, tables.

Pure functions returning strings, so the DOM contract (CSS classes, exact texts) is tested
without a browser.

Examples
--------
>>> size_html(12345, 200000)  # doctest: +ELLIPSIS
'<div class="se-size-box"><span class="se-size-text">12,345 contacts (6.2% of the base)</span> ...
>>> safe_filename("Clients groupe A / Lyon")
'Clients_groupe_A_Lyon'
"""

from __future__ import annotations

import base64
import re
from html import escape

import pandas as pd

from segexplore.display.numbers import format_count, format_decimal, format_share
from segexplore.errors import RuleSyntaxError

__all__ = ["size_text", "size_html", "error_html", "download_link_html", "frame_html",
           "safe_filename", "message_html"]


#: Kept in the page for scripts and tests, out of sight (the readable size is beside it).
_READ_BY_TESTS = ("position:absolute;width:1px;height:1px;overflow:hidden;"
                  "clip:rect(0 0 0 0);white-space:nowrap")
#: The caret line must use the font of the text above it, character for character.
_MONOSPACE = ("font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,'DejaVu Sans Mono',"
              "'Liberation Mono',monospace;font-size:13px;line-height:1.35;white-space:pre;"
              "margin:4px 0;padding:4px 6px;background:#fafafa;border-radius:3px")


def size_text(size: int, total: int, locale: str = "en") -> str:
    """``"12,345 contacts (6.2% of the base)"`` (``"1 contact ..."`` for one); numbers
    formatted for ``locale`` (:mod:`segexplore.display.numbers`)."""
    share = size / total if total else 0.0
    noun = "contact" if size == 1 else "contacts"
    return f"{format_count(size, locale)} {noun} ({format_share(share, locale)} of the base)"


def size_html(size: int, total: int, *, parent: str | None = None,
              parent_size: int | None = None, stale: bool = False,
              locale: str = "en") -> str:
    """The size display: readable text and ``<span class="se-size-value">`` with the integer.

    Parameters
    ----------
    size, total : int
        Members and contacts in the base.
    parent, parent_size : optional
        The parent segment's name and size, to add "40.0% of <parent>".
    stale : bool
        Grey the figures out (the rule text currently has an error).
    locale : {"en", "fr"}
        How the readable numbers are written (the hidden integer never changes).
    """
    extra = ""
    if parent is not None and parent_size:
        extra = (f' <span class="se-size-parent">· {format_share(size / parent_size, locale)} of '
                 f'“{escape(parent)}”</span>')
    style = ' style="opacity:0.45"' if stale else ""
    return (f'<div class="se-size-box"{style}><span class="se-size-text">'
            f'{escape(size_text(size, total, locale))}</span>{extra} '
            f'<span class="se-size-value" style="{_READ_BY_TESTS}">{int(size)}</span></div>')


def error_html(error: BaseException | str) -> str:
    """An inline error: the message and, for syntax errors, the text with a caret.

    Examples
    --------
    >>> from segexplore import parse
    >>> try:
    ...     parse("city = ")
    ... except Exception as e:
    ...     print(error_html(e))  # doctest: +NORMALIZE_WHITESPACE +ELLIPSIS
    <div class="se-error-box"><div class="se-error-message">expected a value after '=' but
    found end of text (at position 7)</div><pre class="se-error-caret" style="...">city =
           ^</pre></div>
    """
    if isinstance(error, str):
        return f'<div class="se-error-box"><div class="se-error-message">{escape(error, quote=False)}</div></div>'
    message = str(error).split("\n", 1)[0]
    caret = ""
    if isinstance(error, RuleSyntaxError) and error.text:
        line_start = error.text.rfind("\n", 0, error.position) + 1
        line_end = error.text.find("\n", error.position)
        line = error.text[line_start:line_end if line_end >= 0 else None]
        caret = (f'<pre class="se-error-caret" style="{_MONOSPACE}">{escape(line)}\n'
                 f'{" " * (error.position - line_start)}^</pre>')
    return (f'<div class="se-error-box"><div class="se-error-message">{escape(message, quote=False)}'
            f'</div>{caret}</div>')


def message_html(text: str, *, kind: str = "info") -> str:
    """A short note (``kind`` is ``info``, ``warning`` or ``success``)."""
    colours = {"info": "#555", "warning": "#a15c00", "success": "#1a7f37"}
    return (f'<div class="se-message se-message-{kind}" style="color:{colours.get(kind, "#555")}">'
            f'{escape(text)}</div>')


def safe_filename(name: str) -> str:
    """A file name stem from a segment name: letters, digits, ``-`` and ``_`` only."""
    stem = re.sub(r"[^\w\-]+", "_", name, flags=re.UNICODE).strip("_")
    return stem or "segment"


def download_link_html(data: bytes, filename: str, rows: int, locale: str = "en") -> str:
    """A link that downloads ``data`` as a CSV file, embedded as a base64 ``data:`` URL,
    its row count written for ``locale``.

    A Voilà page cannot write to the analyst's disk, so the browser saves the file.
    """
    encoded = base64.b64encode(data).decode("ascii")
    noun = "row" if rows == 1 else "rows"
    return (f'<a class="se-download-link" download="{escape(filename)}" '
            f'href="data:text/csv;base64,{encoded}" style="color:#1a66c2;font-weight:600;'
            f'text-decoration:underline">Download CSV ({format_count(rows, locale)} {noun})</a>')


def frame_html(frame: pd.DataFrame, *, max_rows: int = 50, index: bool = False,
               css_class: str = "se-table", locale: str = "en") -> str:
    """A DataFrame as a compact HTML table (at most ``max_rows`` rows).

    Numbers (and shares) are right-aligned, text left-aligned, and each header is aligned
    like its cells; shares show as ``12.5%``, integers with thousands separators, dates
    as dates; numbers are written for ``locale`` (:mod:`segexplore.display.numbers`).
    """
    shown = frame.head(max_rows)
    columns: list[tuple[str, list[str], bool]] = []
    if index:
        columns.append((str(shown.index.name or ""),
                        [escape(str(_cell(v))) for v in shown.index], False))
    for column in shown.columns:
        values = shown[column]
        numeric = (pd.api.types.is_numeric_dtype(values.dtype)
                   and not pd.api.types.is_bool_dtype(values.dtype))
        if str(column).endswith("share") and numeric:
            texts = [format_share(x, locale) for x in values]
        elif pd.api.types.is_integer_dtype(values.dtype) and numeric:
            texts = [format_count(x, locale) for x in values]
        elif numeric:
            texts = [_float(x, locale) for x in values]
        else:
            texts = [_text(x, locale) for x in values]
            numeric = values.map(_is_number).all() and len(values) > 0
        columns.append((str(column), [escape(t) for t in texts], bool(numeric)))

    def cell(tag: str, text: str, numeric: bool) -> str:
        return f'<{tag} style="text-align:{"right" if numeric else "left"}">{text}</{tag}>'

    head = "".join(cell("th", escape(name), numeric) for name, _, numeric in columns)
    rows = "".join(
        "<tr>" + "".join(cell("th" if index and i == 0 else "td", texts[r], numeric)
                         for i, (_, texts, numeric) in enumerate(columns)) + "</tr>"
        for r in range(len(shown)))
    table = (f"<style>{_TABLE_STYLE}</style>"
             f'<table class="{escape(css_class)}" style="border-collapse:collapse">'
             f"<thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")
    more = (f'<div class="se-table-more">… {len(frame) - max_rows:,} more rows</div>'
            if len(frame) > max_rows else "")
    return table + more


#: Room between the columns, a rule under the header (the cells keep their alignment).
_TABLE_STYLE = (".se-table th, .se-table td { padding: 3px 12px 3px 0; line-height: 1.3; "
                "vertical-align: top; } .se-table thead th { border-bottom: 1px solid #ccc; "
                "font-weight: 600; } .se-table tbody tr:nth-child(even) { background: #f7f7f7; }")


def _float(value: object, locale: str = "en") -> str:
    if pd.isna(value):
        return ""
    return format_decimal(value, ",.3g" if abs(value) < 1000 else ",.0f", locale)


def _is_number(value: object) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)) or \
        value is None or (isinstance(value, float) and pd.isna(value))


def _text(value: object, locale: str = "en") -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ""
    if isinstance(value, float):
        return _float(value, locale)
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return format_count(value, locale)
    return str(_cell(value))


def _cell(value: object) -> object:
    """Dates as dates, ``2026-01-31``: a mean or a median of dates has no meaningful time
    of day."""
    if isinstance(value, pd.Timestamp):
        if pd.isna(value):
            return ""
        return f"{value:%Y-%m-%d}"
    if value is pd.NaT:
        return ""
    return value
