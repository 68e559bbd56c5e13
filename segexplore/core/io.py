"""Read contact, event and order tables from files: detect format, encoding and layout.

Reading follows one product rule: bad input gets a clear :class:`FileFormatError` that
names the file, the line (1-based, as a text editor shows it, header = line 1), the
column and what was expected, never a traceback from deep inside pandas. Rows that
cannot be read are kept with their reason (``on_bad_lines="reject"``), never dropped
in silence.

What :func:`read_table` detects in a CSV file, each overridable by an argument:

* encoding: UTF-8 byte-order mark -> ``utf-8-sig``; valid UTF-8 -> ``utf-8``; else
  ``cp1252`` (Windows French exports), or ``latin-1`` when cp1252 cannot decode a byte.
  Only the first 64 KiB are checked up front; a bad byte further down makes pandas
  fail, and the file is read again with the next encoding (and a note says where).
* separator: among ``, ; TAB |``, the one that splits the header into two or more
  fields and gives the most lines with as many fields as the header (quotes honoured).
* decimal comma (only when the separator is not ``,``): a column whose sampled values
  are all like ``12,50`` / ``1 234,50`` or integers. Columns with thousands spaces are
  read as text and converted afterwards with :func:`parse_numbers`.
* text columns: postal codes, phones, departments and other codes (by name) and any
  column whose sampled values are digit strings with a leading zero, so ``01000``
  stays ``"01000"``.

Dates are not parsed while reading; the schema step calls :func:`parse_datetimes` per
column. Row ``i`` (0-based) of a CSV frame is on line ``i + 2`` unless the file has
blank lines or quoted line breaks (``ReadInfo.notes`` says when lines were rejected).

This module owns reading and sniffing (:func:`read_table`, :class:`ReadInfo`). Date and
number parsing live in :mod:`segexplore.core.parsing` (:func:`parse_datetimes`,
:class:`DateParseInfo`, :func:`parse_numbers`) and atomic writing in
:mod:`segexplore.core.atomic` (:func:`atomic_write`, :func:`atomic_write_bytes`); all
five are re-exported here, so ``from segexplore.core.io import ...`` keeps working.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import difflib
import gzip
import io
import os
import re
import threading
import time
import unicodedata
import warnings
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal, NoReturn

import numpy as np
import pandas as pd

from segexplore.errors import FileFormatError, SchemaError, closest_name

from .atomic import atomic_write, atomic_write_bytes
from .parsing import (  # the ranges: public constants of this module before the split
    EXCEL_SERIAL_RANGE,  # noqa: F401
    UNIX_MILLISECONDS_RANGE,  # noqa: F401
    UNIX_SECONDS_RANGE,  # noqa: F401
    DateParseInfo,
    _plural,
    parse_datetimes,
    parse_numbers,
)

__all__ = [
    "ReadInfo",
    "DateParseInfo",
    "read_table",
    "parse_datetimes",
    "parse_numbers",
    "atomic_write",
    "atomic_write_bytes",
]

CSV_EXTENSIONS = frozenset({".csv", ".txt", ".tsv"})
PARQUET_EXTENSIONS = frozenset({".parquet", ".pq"})
EXCEL_EXTENSIONS = frozenset({".xlsx", ".xlsm", ".xls"})
SEPARATORS = (",", ";", "\t", "|")

#: Bytes of the file head used to detect encoding, separator, decimal and text columns.
SAMPLE_BYTES = 64 * 1024
#: Files larger than this get a progress bar when ``progress=None``.
PROGRESS_MIN_BYTES = 50 * 1024 * 1024
#: At most this many offending lines are named in an error message.
MAX_LINES_IN_MESSAGE = 10

#: Cells read as missing. "NA" is deliberately absent: it is Namibia's country code.
NA_VALUES = ["", "#N/A", "N/A", "NULL", "null", "NaN", "nan"]

#: Normalised column names always read as text (leading zeros, "+33 6 ...", "2A").
TEXT_COLUMN_NAMES = frozenset({
    "postal_code", "code_postal", "codepostal", "postcode", "post_code", "cp", "zip",
    "zipcode", "zip_code", "phone", "phone_number", "telephone", "tel", "mobile",
    "portable", "department", "departement", "dept", "siret", "siren",
})

_BINARY_SIGNATURES = (
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"%PDF", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive (an Excel .xlsx workbook is one: rename it to .xlsx)"),
    (b"\xd0\xcf\x11\xe0", "an old Office document (an Excel .xls workbook: rename it to .xls)"),
    (b"SQLite format 3\x00", "an SQLite database"),
    (b"PAR1", "a Parquet file (rename it to .parquet)"),
)

_NUMBER_RE = re.compile(r"^[-+]?\d+(?:[.,]\d+)?$")
_DATE_LIKE_RE = re.compile(r"^\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}(?:[ T].*)?$")
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_INTEGER_RE = re.compile(r"^-?\d+$")
_DECIMAL_COMMA_RE = re.compile(r"^-?\d+(?:[ \u00a0\u202f]?\d{3})*,\d+$")
_DECIMAL_DOT_RE = re.compile(r"^-?\d+\.\d+$")
_PARSER_FIELDS_RE = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")
_PARSER_EOF_RE = re.compile(r"EOF inside string starting at row (\d+)")

Format = Literal["csv", "parquet", "excel", "dataframe"]


def _empty_rejected() -> pd.DataFrame:
    return pd.DataFrame({"line": pd.Series(dtype="int64"), "text": pd.Series(dtype="str"),
                         "reason": pd.Series(dtype="str")})


@dataclass(frozen=True, eq=False, repr=False)
class ReadInfo:
    """What :func:`read_table` read and detected.

    Attributes
    ----------
    path : str or None
        The file read, None for a DataFrame source.
    format : {"csv", "parquet", "excel", "dataframe"}
    encoding, sep, decimal : str or None
        Settings used for a CSV file (None for other formats).
    sheet : str or None
        Excel sheet read.
    n_rows, n_columns : int
        Shape of the frame returned.
    seconds : float
        Wall time of the read.
    notes : tuple of str
        Human-readable sentences on what was detected or fixed.
    rejected_lines : pandas.DataFrame
        Lines not read (``on_bad_lines="reject"``): columns ``line`` (1-based line
        number in the file), ``text`` (raw line) and ``reason``. Empty when none.
    """

    path: str | None
    format: Format
    encoding: str | None = None
    sep: str | None = None
    decimal: str | None = None
    sheet: str | None = None
    n_rows: int = 0
    n_columns: int = 0
    seconds: float = 0.0
    notes: tuple[str, ...] = ()
    rejected_lines: pd.DataFrame = field(default_factory=_empty_rejected)

    def __str__(self) -> str:
        name = Path(self.path).name if self.path else "DataFrame"
        settings = [self.format]
        if self.encoding:
            settings.append(f"encoding {self.encoding}")
        if self.sep:
            settings.append(f"separator {self.sep!r}")
        if self.decimal:
            settings.append(f"decimal {self.decimal!r}")
        if self.sheet:
            settings.append(f"sheet {self.sheet!r}")
        lines = [f"{name}: {self.n_rows:,} rows x {self.n_columns} columns "
                 f"({', '.join(settings)}), read in {self.seconds:.2f} s"]
        lines += [f"  - {note}" for note in self.notes]
        return "\n".join(lines)

    __repr__ = __str__  # readable when a notebook cell shows it


# --------------------------------------------------------------------------- read_table

def read_table(
    source: str | os.PathLike[str] | pd.DataFrame,
    *,
    sep: str | None = None,
    encoding: str | None = None,
    decimal: str | None = None,
    sheet_name: str | int | None = None,
    text_columns: Iterable[str] | None = None,
    on_bad_lines: Literal["error", "reject"] = "error",
    progress: bool | None = None,
) -> tuple[pd.DataFrame, ReadInfo]:
    """Read a contact, event or order table from a CSV, Parquet or Excel file.

    Parameters
    ----------
    source : str, path or pandas.DataFrame
        File to read. A DataFrame is returned as is (not copied, not mutated).
    sep, encoding, decimal : str, optional
        CSV settings; detected when None (see the module docstring).
    sheet_name : str or int, optional
        Excel sheet (name or 0-based position). Required when the workbook has
        several sheets.
    text_columns : iterable of str, optional
        Columns read as text on top of the ones detected (postal codes, phones...).
    on_bad_lines : {"error", "reject"}
        What to do with CSV lines that have more fields than the header: raise, or
        read the other lines and list these in ``ReadInfo.rejected_lines``.
    progress : bool, optional
        Show a progress bar: None = only for files over 50 MB.

    Returns
    -------
    (pandas.DataFrame, ReadInfo)

    Raises
    ------
    FileFormatError
        The file is missing, empty, binary, without header, ragged, in another
        encoding than the one asked, or a corrupt Parquet/Excel file. ``path``,
        ``row`` (1-based line) and ``column`` are set where they apply.
    SchemaError
        A name in ``text_columns`` is not a column of the file.
    """
    start = time.perf_counter()
    if isinstance(source, pd.DataFrame):
        return source, ReadInfo(path=None, format="dataframe", n_rows=len(source),
                                n_columns=source.shape[1])
    if on_bad_lines not in ("error", "reject"):
        raise ValueError(f"on_bad_lines must be 'error' or 'reject', not {on_bad_lines!r}")
    if sep is not None and len(sep) != 1:
        raise ValueError(f"sep must be a single character, not {sep!r}")
    if encoding is not None:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise ValueError(f"unknown encoding {encoding!r}") from None
    if decimal is not None and decimal not in (",", "."):
        raise ValueError(f"decimal must be ',' or '.', not {decimal!r}")
    path = Path(source)
    _check_exists(path)
    head = _read_prefix(path, 8)
    file_format, compression = _detect_format(path, head)
    notes: list[str] = []
    if compression and path.suffix.lower() != ".gz":
        notes.append("gzip compression detected")
    size = path.stat().st_size
    show_progress = progress if progress is not None else size > PROGRESS_MIN_BYTES
    if file_format == "parquet":
        frame = _read_parquet(path)
        settings: dict[str, Any] = {}
    elif file_format == "excel":
        frame, sheet = _read_excel(path, sheet_name, text_columns, show_progress, notes)
        settings = {"sheet": sheet}
    else:
        reader = _CsvReader(path, compression, sep=sep, encoding=encoding, decimal=decimal,
                            text_columns=text_columns, on_bad_lines=on_bad_lines,
                            progress=show_progress, notes=notes)
        frame = reader.read()
        settings = {"encoding": reader.encoding, "sep": reader.sep, "decimal": reader.decimal,
                    "rejected_lines": reader.rejected}
    if file_format != "csv" and (sep or encoding or decimal):
        notes.append(f"sep/encoding/decimal ignored: the file is {file_format}, not CSV")
    if file_format != "excel" and sheet_name is not None:
        notes.append(f"sheet_name ignored: the file is {file_format}, not Excel")
    if len(frame) == 0:
        notes.append("no data rows (header only)")
    info = ReadInfo(path=str(path), format=file_format, n_rows=len(frame),
                    n_columns=frame.shape[1], seconds=time.perf_counter() - start,
                    notes=tuple(notes), **settings)
    return frame, info


def _check_exists(path: Path) -> None:
    if path.is_file():
        return
    if path.is_dir():
        raise FileFormatError(f"{path.name}: is a folder, not a file ({path})", path=path)
    folder = path.parent
    if not folder.is_dir():
        raise FileFormatError(f"{path.name}: file not found, the folder {folder} does not exist",
                              path=path)
    names = sorted(entry.name for entry in folder.iterdir() if entry.is_file())
    close = difflib.get_close_matches(path.name, names, n=3, cutoff=0.6)
    hint = f" Did you mean {' or '.join(close)}?" if close else ""
    raise FileFormatError(f"{path.name}: file not found in {folder}.{hint}", path=path)


def _read_prefix(path: Path, n_bytes: int) -> bytes:
    try:
        with path.open("rb") as handle:
            return handle.read(n_bytes)
    except OSError as error:
        raise FileFormatError(f"{path.name}: cannot be opened ({error.strerror})",
                              path=path) from error


def _detect_format(path: Path, head: bytes) -> tuple[Format, str | None]:
    """Return the format and the compression ("gzip" or None) from extension or magic bytes."""
    extension = path.suffix.lower()
    if extension == ".gz":
        return "csv", "gzip"
    if extension in PARQUET_EXTENSIONS:
        return "parquet", None
    if extension in EXCEL_EXTENSIONS:
        return "excel", None
    if head.startswith(b"\x1f\x8b"):  # a gzipped CSV, whatever its name
        return "csv", "gzip"
    if extension in CSV_EXTENSIONS:
        return "csv", None
    if head.startswith(b"PAR1"):
        return "parquet", None
    if head.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0")):
        return "excel", None
    return "csv", None


def _describe_binary(head: bytes) -> str:
    for signature, description in _BINARY_SIGNATURES:
        if head.startswith(signature):
            return f"it looks like {description}"
    if len(head) >= 4 and head[1::2].count(0) > len(head) // 4:
        return "it looks like UTF-16 text without byte-order mark: pass encoding='utf-16-le'"
    return "it is not a text file"


# --------------------------------------------------------------------------------- CSV

def _normalise_name(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "_", ascii_name.lower()).strip("_")


def _is_text_column_name(name: str) -> bool:
    """Postal codes, phones, departments and other codes: digits that are not numbers."""
    normalised = _normalise_name(name)
    return (normalised in TEXT_COLUMN_NAMES or normalised.startswith("code_")
            or normalised.endswith("_code"))


def _looks_like_data(value: str) -> str | None:
    """Say what a header field looks like when it looks like a value, else None."""
    if _NUMBER_RE.match(value):
        return "a number"
    if _DATE_LIKE_RE.match(value):
        return "a date"
    if _EMAIL_RE.match(value):
        return "an email address"
    return None


def _check_header_names(names: list[str], file_name: str, path: Path, *,
                        where: str = "line 1",
                        position_label: Callable[[int], str] = lambda i: str(i + 1)) -> int:
    """Raise on a header that is data, blank or duplicated; return the trailing blank count.

    ``position_label`` turns a 0-based column position into the text shown (a number
    for CSV, a letter for Excel). Blank names at the end are allowed (trailing
    separators); the caller checks that their columns are empty.
    """
    filled = [name for name in names if name]
    data_like = [(name, _looks_like_data(name)) for name in filled]
    if filled and all(kind for _, kind in data_like):
        examples = ", ".join(f"{name!r} ({kind})" for name, kind in data_like[:5])
        raise FileFormatError(
            f"{file_name}, {where}: this looks like data, not column names: {examples}. "
            f"Add a header {'row' if 'row' in where else 'line'} with the column names.",
            path=path, row=1)
    trailing = len(names) - len(list(_rstrip_blank(names)))
    blank = [i for i, name in enumerate(names[: len(names) - trailing]) if not name]
    if blank:
        listed = ", ".join(position_label(i) for i in blank)
        raise FileFormatError(
            f"{file_name}, {where}: column {listed} has no name (blank header). "
            f"Give every column a name.", path=path, row=1)
    seen: dict[str, int] = {}
    duplicates: list[tuple[str, int, int]] = []
    for i, name in enumerate(names):
        if name and name in seen:
            duplicates.append((name, seen[name], i))
        seen.setdefault(name, i)
    if duplicates:
        listed = ", ".join(f"{name!r} (columns {position_label(first)} and {position_label(i)})"
                           for name, first, i in duplicates)
        raise FileFormatError(
            f"{file_name}, {where}: duplicate column names: {listed}. "
            f"Rename them so that each column has its own name.", path=path, row=1,
            column=duplicates[0][0])
    return trailing


def _rstrip_blank(names: list[str]) -> list[str]:
    end = len(names)
    while end > 1 and not names[end - 1]:
        end -= 1
    return names[:end]


def _first_decode_error(data: bytes, encoding: str, lines_before: int = 0, *,
                        final: bool = False) -> tuple[int, int, bytes] | None:
    """Return (line, byte value, line bytes) of the first undecodable byte, or None.

    Unless ``final``, an incomplete sequence at the very end is not an error (the data
    may be cut there).
    """
    decoder = codecs.getincrementaldecoder(encoding)()
    try:
        decoder.decode(data, final=final)
    except UnicodeDecodeError as error:
        line = lines_before + data.count(b"\n", 0, error.start) + 1
        line_start = data.rfind(b"\n", 0, error.start) + 1
        line_end = data.find(b"\n", error.start)
        return line, data[error.start], data[line_start: None if line_end < 0 else line_end]
    return None


def _fallback_encoding(data: bytes) -> str:
    """cp1252 unless the data holds one of the five bytes cp1252 leaves undefined."""
    try:
        data.decode("cp1252")
    except UnicodeDecodeError:
        return "latin-1"
    return "cp1252"


def _lines(text: str) -> io.StringIO:
    """Lines as a file opened with newline="" gives them (str.splitlines also cuts at \\x0c...)."""
    return io.StringIO(text, newline="")


def _iter_records(lines: Iterable[str], sep: str) -> Iterator[tuple[int, list[str]]]:
    """Yield ``(first line number, fields)`` per CSV record, blank lines skipped.

    Line numbers are physical (a quoted line break counts), as a text editor shows them.
    """
    reader = csv.reader(lines, delimiter=sep)
    last_line = 0
    for fields in reader:
        first_line, last_line = last_line + 1, reader.line_num
        if fields:
            yield first_line, fields


class _CsvReader:
    """Sniff then read one CSV file; holds the settings used, the notes and rejected lines."""

    def __init__(self, path: Path, compression: str | None, *, sep: str | None,
                 encoding: str | None, decimal: str | None,
                 text_columns: Iterable[str] | None, on_bad_lines: str, progress: bool,
                 notes: list[str]) -> None:
        self.path = path
        self.name = path.name
        self.compression = compression
        self.explicit_encoding = encoding
        self.explicit_sep = sep
        self.explicit_decimal = decimal
        self.extra_text_columns = list(text_columns or [])
        self.on_bad_lines = on_bad_lines
        self.progress = progress
        self.notes = notes
        self.rejected = _empty_rejected()
        self.encoding = "utf-8"
        self.sep = ","
        self.decimal = "."
        # Set by _sniff from the file head:
        self.raw_names: dict[str, str] = {}  # stripped header name -> name in the file
        self.header_width = 0
        self.trailing_blank = 0  # blank names at the end of the header (trailing separators)
        self.first_row_too_long = False  # pandas would shift columns: check every line
        self.sample_short_note: str | None = None
        self.comma_columns: list[str] = []  # decimal-comma columns, converted after reading

    # -- sniffing -------------------------------------------------------------------

    def _open_binary(self) -> IO[bytes]:
        return gzip.open(self.path, "rb") if self.compression == "gzip" else self.path.open("rb")

    def _open_text(self, encoding: str) -> IO[str]:
        return io.TextIOWrapper(self._open_binary(), encoding=encoding, newline="")

    def _sample(self) -> tuple[bytes, bool]:
        """Return the first SAMPLE_BYTES bytes (decompressed) and whether the file is longer."""
        try:
            with self._open_binary() as handle:
                sample = handle.read(SAMPLE_BYTES + 1)
        except (OSError, EOFError, zlib.error) as error:
            raise FileFormatError(f"{self.name}: not a valid gzip file, it may be truncated "
                                  f"or corrupt ({error})", path=self.path) from error
        return sample[:SAMPLE_BYTES], len(sample) > SAMPLE_BYTES

    def _detect_encoding(self, sample: bytes) -> str:
        explicit = self.explicit_encoding
        if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            if explicit is None:
                self.notes.append("encoding utf-16 detected (byte-order mark)")
            return explicit or "utf-16"
        has_utf8_bom = sample.startswith(codecs.BOM_UTF8)
        if explicit is not None:
            if has_utf8_bom and codecs.lookup(explicit).name == "utf-8":
                return "utf-8-sig"  # else the BOM would stick to the first column name
            return explicit
        if has_utf8_bom:
            self.notes.append("encoding utf-8-sig detected (UTF-8 byte-order mark)")
            return "utf-8-sig"
        error = _first_decode_error(sample, "utf-8")
        if error is None:
            return "utf-8"
        fallback = _fallback_encoding(sample)
        self.notes.append(f"encoding {fallback} detected (not valid UTF-8 at line {error[0]})")
        return fallback

    def _check_not_empty_or_binary(self, sample: bytes) -> None:
        if not sample.lstrip(codecs.BOM_UTF8).strip():
            raise FileFormatError(f"{self.name}: the file is empty (no header, no data)",
                                  path=self.path)
        if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return
        if b"\x00" in sample[:8192]:
            raise FileFormatError(f"{self.name}: binary content, not a CSV file: "
                                  f"{_describe_binary(sample)}", path=self.path)

    def _sniff_separator(self, text: str) -> str:
        """The separator giving the header 2+ fields and most lines of the header's width.

        csv.Sniffer is not used: it guesses from character frequencies and is thrown
        off by decimal commas in a ';' file.
        """
        best_sep, best_key = ",", (-1.0, 0)
        for candidate in SEPARATORS:
            counts = [len(fields) for _, fields in _iter_records(_lines(text), candidate)]
            if not counts or counts[0] < 2:
                continue
            data = counts[1:]
            consistency = sum(n == counts[0] for n in data) / len(data) if data else 1.0
            key = (consistency, counts[0])
            if key > best_key:
                best_sep, best_key = candidate, key
        if best_key[1] == 0:
            self.notes.append("a single column: no separator found among , ; TAB |")
        elif best_sep != ",":
            label = "TAB" if best_sep == "\t" else repr(best_sep)
            self.notes.append(f"separator {label} detected")
        return best_sep

    def _sniff(self) -> dict[str, Any]:
        """Detect the settings from the file head; return the read_csv keyword arguments."""
        sample, truncated = self._sample()
        self._check_not_empty_or_binary(sample)
        self.encoding = self._detect_encoding(sample)
        if truncated:  # drop the last, possibly cut, line
            sample = sample[: sample.rfind(b"\n") + 1] or sample
        text = sample.decode(self.encoding, errors="replace")
        self.sep = self.explicit_sep or self._sniff_separator(text)
        records = list(_iter_records(_lines(text), self.sep))
        if truncated and len(records) > 1:
            records.pop()  # may be cut inside a quoted field
        raw_header = records[0][1]
        header = [name.strip() for name in raw_header]
        self.raw_names = dict(zip(header, raw_header, strict=True))
        trailing_blank = _check_header_names(header, self.name, self.path)
        self.header_width = len(header)
        self.trailing_blank = trailing_blank
        data = records[1:]
        self.first_row_too_long = bool(data) and len(data[0][1]) > len(header)
        short = [line for line, fields in data if len(fields) < len(header)]
        if short:  # replaced by an exact count if every line gets checked
            self.sample_short_note = (
                f"{_plural(len(short), 'line')} with fewer fields than the header among the "
                f"first {len(data)} data lines (first: line {short[0]}): the missing values "
                f"are left empty")
            self.notes.append(self.sample_short_note)
        dtype = self._text_columns(raw_header, header, data)
        text_positions = [i for i, raw in enumerate(raw_header) if raw in dtype]
        self.decimal, numeric_text = self._detect_decimal(header, data, text_positions)
        dtype.update({raw_header[i]: str for i in numeric_text})
        if self.decimal == self.sep:
            raise ValueError(f"decimal and sep cannot both be {self.sep!r}")
        return {"sep": self.sep, "decimal": self.decimal, "dtype": dtype or None,
                "index_col": False, "keep_default_na": False, "na_values": NA_VALUES,
                "engine": "c", "skip_blank_lines": True}

    def _text_columns(self, raw_header: list[str], header: list[str],
                      data: list[tuple[int, list[str]]]) -> dict[str, type]:
        by_name = [i for i, name in enumerate(header) if _is_text_column_name(name)]
        asked = []
        normalised = {_normalise_name(name): i for i, name in enumerate(header)}
        for name in self.extra_text_columns:
            position = header.index(name) if name in header else normalised.get(
                _normalise_name(name))
            if position is None:
                suggestion = closest_name(name, header)
                hint = f" Did you mean {suggestion!r}?" if suggestion else ""
                raise SchemaError(f"{self.name}: text_columns names {name!r}, which is not "
                                  f"a column of the file.{hint}")
            asked.append(position)
        leading_zero = []
        for i in range(len(header)):
            values = [fields[i].strip() for _, fields in data if len(fields) > i]
            values = [value for value in values if value]
            if (i not in by_name and i not in asked and values
                    and all(value.isdigit() for value in values)
                    and any(len(value) > 1 and value[0] == "0" for value in values)):
                leading_zero.append(i)
        if by_name:
            self.notes.append("read as text by name: " + ", ".join(header[i] for i in by_name))
        if leading_zero:
            self.notes.append("read as text to keep leading zeros: "
                              + ", ".join(header[i] for i in leading_zero))
        return {raw_header[i]: str for i in sorted(set(by_name + asked + leading_zero))}

    def _detect_decimal(self, header: list[str], data: list[tuple[int, list[str]]],
                        text_positions: list[int]) -> tuple[str, list[int]]:
        """Return pandas' decimal and the columns read as text then parsed as numbers."""
        comma, thousands, dot = [], [], []
        if self.sep != ",":
            for i in range(len(header)):
                if i in text_positions:
                    continue
                values = [fields[i].strip() for _, fields in data if len(fields) > i]
                values = [value for value in values if value]
                with_comma = [v for v in values if _DECIMAL_COMMA_RE.match(v)]
                with_dot = [v for v in values if _DECIMAL_DOT_RE.match(v)]
                others = [v for v in values if not _INTEGER_RE.match(v)]
                if with_comma and len(with_comma) == len(others):
                    comma.append(i)
                    if any(not ch.isdigit() and ch not in "-," for v in with_comma for ch in v):
                        thousands.append(i)
                elif with_dot and len(with_dot) == len(others):
                    dot.append(i)
        names = ", ".join(header[i] for i in comma)
        if comma and self.explicit_decimal == ".":
            self.notes.append(f"decimal comma seen in columns {names}, kept as text since "
                              f"decimal='.' was asked")
        elif comma:
            self.comma_columns = [header[i] for i in comma]
            self.notes.append(f"decimal comma detected in columns {names}")
        if self.explicit_decimal is not None:
            return self.explicit_decimal, [i for i in thousands
                                           if self.explicit_decimal == ","]
        if comma and not dot:
            return ",", thousands
        # Mixed '.' and ',' columns: pandas takes one decimal, the comma ones go through text.
        return ".", comma

    # -- reading --------------------------------------------------------------------

    def read(self) -> pd.DataFrame:
        options = self._sniff()
        while True:
            attempt = dict(options)  # the slow path adds skiprows/usecols
            try:
                frame = self._read_with(attempt)
                break
            except UnicodeDecodeError:
                self._switch_encoding_after_decode_error()
        return self._finish(frame, attempt)

    def _switch_encoding_after_decode_error(self) -> None:
        """Move to the next encoding (utf-8 -> cp1252 -> latin-1), or raise if it was asked."""
        located = self._locate_decode_error(self.encoding)
        line, byte, line_bytes = located or (None, None, b"")
        fallback = {"utf-8": "cp1252", "utf-8-sig": "cp1252", "cp1252": "latin-1"}.get(
            self.encoding)
        if self.explicit_encoding is not None or fallback is None:
            was_utf8 = codecs.lookup(self.encoding).name.startswith("utf-8")
            suggestion = ("utf-8" if line_bytes and not was_utf8
                          and _first_decode_error(line_bytes, "utf-8") is None
                          else _fallback_encoding(line_bytes))
            byte_text = f"byte 0x{byte:02X}" if byte is not None else "a byte"
            raise FileFormatError(
                f"{self.name}{_at_line(line)}: {byte_text} cannot be decoded as {self.encoding}; "
                f"the file is probably in another encoding, try encoding={suggestion!r}",
                path=self.path, row=line)
        previous, self.encoding = self.encoding, fallback
        label = "UTF-8" if previous.startswith("utf-8") else previous
        self.notes.append(f"encoding {self.encoding} detected (not valid {label} "
                          f"at line {line})")

    def _locate_decode_error(self, encoding: str) -> tuple[int, int, bytes] | None:
        """Scan the file by blocks cut at line breaks for the first undecodable byte."""
        lines_before = 0
        carry = b""
        with self._open_binary() as handle:
            while True:
                block = handle.read(1 << 22)
                data = carry + block
                cut = data.rfind(b"\n") + 1 if block else len(data)
                piece, carry = data[:cut], data[cut:]
                found = _first_decode_error(piece, encoding, lines_before, final=not block)
                if found or not block:
                    return found
                lines_before += piece.count(b"\n")

    def _read_with(self, options: dict[str, Any]) -> pd.DataFrame:
        """Fast path: one pandas call; ragged files go through :meth:`_read_checked`."""
        if self.first_row_too_long:  # pandas would silently shift or drop columns
            return self._read_checked(options)
        try:
            return self._pandas_read(options)
        except pd.errors.ParserError as error:
            if _PARSER_FIELDS_RE.search(str(error)):
                return self._read_checked(options)
            self._raise_parser_error(error)

    def _raise_parser_error(self, error: pd.errors.ParserError) -> NoReturn:
        message = str(error).strip()
        eof = _PARSER_EOF_RE.search(message)
        line = self._record_line(int(eof.group(1))) if eof else None
        if eof:
            raise FileFormatError(
                f"{self.name}{_at_line(line)}: a quoted field starts here but its closing "
                f"quote (\") is never found, so the rest of the file would become one value. "
                f"Check for a stray \" on this line.", path=self.path, row=line) from error
        raise FileFormatError(f"{self.name}: cannot be read as CSV: {message}",
                              path=self.path) from error

    def _pandas_read(self, options: dict[str, Any]) -> pd.DataFrame:
        with warnings.catch_warnings():
            # mixed-type columns are re-read as text by _fix_mixed_columns, with a note
            warnings.simplefilter("ignore", pd.errors.DtypeWarning)
            if not self.progress:
                return pd.read_csv(self.path, encoding=self.encoding,
                                   compression=self.compression, **options)
            with self.path.open("rb") as raw, contextlib.ExitStack() as stack:
                handle = (stack.enter_context(gzip.GzipFile(fileobj=raw, mode="rb"))
                          if self.compression else raw)
                # the bar follows the bytes read on disk, compressed or not
                with _progress_monitor(raw, self.path.stat().st_size, self.name):
                    return pd.read_csv(handle, encoding=self.encoding, **options)

    def _scan(self) -> Iterator[tuple[int, int, int, list[str]]]:
        """Yield ``(record index, first line, last line, fields)`` for every record.

        The record index counts blank lines and the header like pandas' ``skiprows``
        and error messages do; line numbers are physical, as a text editor shows them.
        """
        with self._open_text(self.encoding) as handle:
            reader = csv.reader(handle, delimiter=self.sep)
            last_line = 0
            try:
                for index, fields in enumerate(reader):
                    first_line, last_line = last_line + 1, reader.line_num
                    yield index, first_line, last_line, fields
            except csv.Error as error:
                raise FileFormatError(f"{self.name}{_at_line(last_line + 1)}: cannot be read "
                                      f"as CSV: {error}", path=self.path,
                                      row=last_line + 1) from error

    def _record_line(self, record_index: int) -> int | None:
        """Return the first line of the record at 0-based ``record_index`` (pandas' rows)."""
        for index, first_line, _, _ in self._scan():
            if index == record_index:
                return first_line
        return None

    def _read_checked(self, options: dict[str, Any]) -> pd.DataFrame:
        """Slow path for ragged files: count the fields of every record with the csv module.

        Records with non-empty extra fields are rejected (pandas skips them by record
        index); extra empty fields (trailing separators) are dropped by ``usecols``.
        """
        width = self.header_width
        bad: list[tuple[int, int, int, int]] = []  # index, first line, last line, fields
        short: list[int] = []
        trailing = 0
        header_seen = False
        for index, first_line, last_line, fields in self._scan():
            if not fields:  # blank line
                continue
            if not header_seen:
                header_seen = True
            elif len(fields) > width:
                if any(fields[width:]):
                    bad.append((index, first_line, last_line, len(fields)))
                else:
                    trailing += 1
            elif len(fields) < width:
                short.append(first_line)
        if bad and self.on_bad_lines == "error":
            self._raise_ragged(bad)
        if self.sample_short_note in self.notes:  # replaced by the exact count below
            self.notes.remove(self.sample_short_note)
        if bad:
            self.rejected = self._rejected_frame(bad)
            self.notes.append(f"{_plural(len(bad), 'line')} rejected: more fields than the "
                              f"header ({_list_lines([b[1] for b in bad])}); see "
                              f"rejected_lines")
        if trailing:
            self.notes.append(f"{_plural(trailing, 'line')} ending with extra empty fields "
                              f"(trailing separators): ignored")
        if short:
            self.notes.append(f"{_plural(len(short), 'line')} with fewer fields than the "
                              f"header ({_list_lines(short)}): the missing values are "
                              f"left empty")
        options.update(skiprows={b[0] for b in bad} or None, usecols=list(range(width)))
        try:
            return self._pandas_read(options)
        except pd.errors.ParserError as error:
            self._raise_parser_error(error)

    def _rejected_frame(self, bad: list[tuple[int, int, int, int]]) -> pd.DataFrame:
        """Collect the raw text of the rejected records with one pass over the lines."""
        wanted = {line: record for record in bad for line in range(record[1], record[2] + 1)}
        texts: dict[int, list[str]] = {record[1]: [] for record in bad}
        with self._open_text(self.encoding) as handle:
            for line_number, line in enumerate(handle, start=1):
                if line_number in wanted:
                    texts[wanted[line_number][1]].append(line)
                if line_number >= bad[-1][2]:
                    break
        width = self.header_width
        return pd.DataFrame({
            "line": pd.Series([b[1] for b in bad], dtype="int64"),
            "text": pd.Series(["".join(texts[b[1]]).rstrip("\r\n") for b in bad], dtype="str"),
            "reason": pd.Series([f"{b[3]} fields, expected {width} as in the header"
                                 for b in bad], dtype="str")})

    def _raise_ragged(self, bad: list[tuple[int, int, int, int]]) -> NoReturn:
        width = self.header_width
        named = ", ".join(f"line {first_line} ({n_fields} fields)"
                          for _, first_line, _, n_fields in bad[:MAX_LINES_IN_MESSAGE])
        more = (f" and {len(bad) - MAX_LINES_IN_MESSAGE} more"
                if len(bad) > MAX_LINES_IN_MESSAGE else "")
        raise FileFormatError(
            f"{self.name}: {_plural(len(bad), 'line')} with more fields than the header "
            f"({width} expected): {named}{more}. A separator inside an unquoted value is "
            f"the usual cause. Fix the file, or pass on_bad_lines='reject' to read the "
            f"other lines and list these in ReadInfo.rejected_lines.",
            path=self.path, row=bad[0][1])

    def _finish(self, frame: pd.DataFrame, options: dict[str, Any]) -> pd.DataFrame:
        stripped = [str(name).strip() for name in frame.columns]
        if self.trailing_blank:
            frame = self._drop_trailing_blank(frame)
            stripped = stripped[: frame.shape[1]]
        if stripped != list(frame.columns):
            frame.columns = stripped
            self.notes.append("spaces around column names removed")
        frame = self._fix_mixed_columns(frame, options)
        return self._convert_numeric_text(frame)

    def _drop_trailing_blank(self, frame: pd.DataFrame) -> pd.DataFrame:
        blank = frame.iloc[:, frame.shape[1] - self.trailing_blank:]
        filled = blank.notna().any()
        if filled.any():
            position = frame.shape[1] - self.trailing_blank + int(np.argmax(filled.to_numpy()))
            first_row = int(np.argmax(frame.iloc[:, position].notna().to_numpy()))
            raise FileFormatError(
                f"{self.name}, line 1: column {position + 1} has no name (blank header) but "
                f"holds values (first at line {self._line_of_data_row(first_row)}). Give "
                f"every column a name.", path=self.path, row=1)
        self.notes.append("the header ends with a separator: the empty unnamed last "
                          "column was ignored")
        return frame.iloc[:, : frame.shape[1] - self.trailing_blank]

    def _fix_mixed_columns(self, frame: pd.DataFrame, options: dict[str, Any]) -> pd.DataFrame:
        """Re-read as text the columns pandas filled with a mix of numbers and strings.

        pandas parses big files by blocks; a column numeric in one block and text in
        another comes out as object with mixed Python types.
        """
        mixed = [name for name in frame.columns if frame[name].dtype == object
                 and pd.api.types.infer_dtype(frame[name], skipna=True).startswith("mixed")]
        if not mixed:
            return frame
        self.notes.append("columns mixing numbers and text read as text: " + ", ".join(mixed))
        as_text = {self.raw_names.get(name, name): str for name in mixed}
        options = {**options, "dtype": {**(options["dtype"] or {}), **as_text}}
        reread = self._pandas_read(options)
        reread.columns = [str(name).strip() for name in reread.columns]
        return reread[list(frame.columns)]

    def _convert_numeric_text(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Parse decimal-comma columns pandas left as text (thousands spaces, mixed decimals)."""
        candidates = [name for name in self.comma_columns
                      if name in frame.columns and not pd.api.types.is_numeric_dtype(frame[name])]
        for name in candidates:
            numbers, failures = parse_numbers(frame[name], decimal=",", column=name,
                                              path=str(self.path))
            if failures.empty:
                frame[name] = numbers
            else:
                first = failures.iloc[0]
                line = self._line_of_data_row(int(first["row"]))
                self.notes.append(
                    f"column {name} looks numeric but not all values are numbers "
                    f"({_plural(len(failures), 'failure')}, e.g. {first['value']!r} at line "
                    f"{line}): kept as text")
        return frame

    def _line_of_data_row(self, row: int) -> int | None:
        """File line of the frame's 0-based ``row`` (blank, header and rejected lines skipped)."""
        rejected = set(self.rejected["line"].tolist())
        record = -1
        for _, first_line, _, fields in self._scan():
            if fields and first_line not in rejected:
                record += 1
                if record == row + 1:  # record 0 is the header
                    return first_line
        return None


def _at_line(line: int | None) -> str:
    return f", line {line}" if line else ""


def _list_lines(lines: list[int]) -> str:
    """ "line 5" or "lines 5, 9, 12 and 3 more" (at most MAX_LINES_IN_MESSAGE numbers)."""
    shown = ", ".join(str(line) for line in lines[:MAX_LINES_IN_MESSAGE])
    extra = len(lines) - MAX_LINES_IN_MESSAGE
    return ("line " if len(lines) == 1 else "lines ") + shown + (
        f" and {extra} more" if extra > 0 else "")


@contextlib.contextmanager
def _progress_monitor(handle: IO[bytes], total: int, description: str) -> Iterator[None]:
    """Show a byte progress bar by polling ``handle.tell()`` from a thread.

    pandas keeps parsing in one call (same speed and type inference as without a bar);
    tqdm is imported here only, so importing this module never pulls in widgets.
    """
    from tqdm.auto import tqdm

    bar = tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=description)
    stop = threading.Event()

    def poll() -> None:
        while not stop.wait(0.2):
            try:
                position = handle.tell()
            except (OSError, ValueError):  # closed under our feet: the read is over
                return
            bar.update(max(0, position - bar.n))

    thread = threading.Thread(target=poll, name="segexplore-progress", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        bar.update(max(0, total - bar.n))
        bar.close()


# ------------------------------------------------------------------- Parquet and Excel

def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        return pd.read_parquet(path)
    except Exception as error:  # pyarrow raises several unrelated types for bad files
        raise FileFormatError(f"{path.name}: not a valid Parquet file, it may be truncated "
                              f"or corrupt ({error})", path=path) from error


def _excel_column_letter(position: int) -> str:
    letters = ""
    position += 1
    while position:
        position, remainder = divmod(position - 1, 26)
        letters = chr(ord("A") + remainder) + letters
    return letters


def _read_excel(path: Path, sheet_name: str | int | None, text_columns: Iterable[str] | None,
                progress: bool, notes: list[str]) -> tuple[pd.DataFrame, str]:
    engine = "xlrd" if path.suffix.lower() == ".xls" else "openpyxl"
    if engine == "xlrd":
        try:
            import xlrd  # noqa: F401
        except ImportError:
            raise FileFormatError(f"{path.name}: old Excel .xls files need the xlrd package "
                                  f"(pip install xlrd); or save the file as .xlsx in Excel",
                                  path=path) from None
    with path.open("rb") as handle, contextlib.ExitStack() as stack:
        # openpyxl warns about styles and data validation it ignores: noise for analysts
        stack.enter_context(warnings.catch_warnings())
        warnings.filterwarnings("ignore", category=UserWarning, module="openpyxl")
        if progress:
            stack.enter_context(_progress_monitor(handle, path.stat().st_size, path.name))
        try:
            book = stack.enter_context(pd.ExcelFile(handle, engine=engine))
        except Exception as error:  # zipfile, openpyxl and xlrd errors alike
            raise FileFormatError(f"{path.name}: not a valid Excel workbook, it may be "
                                  f"corrupt or not really .xlsx ({error})", path=path) from error
        sheets = list(book.sheet_names)
        sheet = _choose_sheet(path, sheets, sheet_name)
        where = f"sheet {sheet!r}, row 1"
        header_row = pd.read_excel(book, sheet_name=sheet, header=None, nrows=1)
        if header_row.empty:
            raise FileFormatError(f"{path.name}: sheet {sheet!r} is empty", path=path)
        raw_names = header_row.iloc[0].tolist()
        names = [_excel_header_text(value) for value in raw_names]
        _check_header_names(names, path.name, path, where=where,
                            position_label=_excel_column_letter)
        wanted = list(text_columns or [])
        missing = [name for name in wanted if name not in names]
        if missing:
            suggestion = closest_name(missing[0], [n for n in names if n])
            hint = f" Did you mean {suggestion!r}?" if suggestion else ""
            raise SchemaError(f"{path.name}: text_columns names {missing[0]!r}, which is not "
                              f"a column of sheet {sheet!r}.{hint}")
        dtype = {raw: str for raw, name in zip(raw_names, names, strict=True)
                 if name and (name in wanted or _is_text_column_name(name))}
        frame = pd.read_excel(book, sheet_name=sheet, dtype=dtype or None,
                              keep_default_na=False, na_values=NA_VALUES)
    # Cells formatted beyond the data give unnamed columns: drop them when they are empty.
    names = (names + [""] * frame.shape[1])[: frame.shape[1]]
    width = len(_rstrip_blank(names)) if any(names) else 0
    extra = frame.iloc[:, width:]
    if extra.notna().to_numpy().any():
        position = width + int(np.argmax(extra.notna().any().to_numpy()))
        raise FileFormatError(f"{path.name}, {where}: column {_excel_column_letter(position)} "
                              f"has no name but holds values. Give every column a name.",
                              path=path, row=1)
    frame = frame.iloc[:, :width]
    frame.columns = names[:width]
    if len(sheets) > 1:
        notes.append(f"sheet {sheet!r} read (workbook sheets: {', '.join(sheets)})")
    return frame, sheet


def _excel_header_text(value: object) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _choose_sheet(path: Path, sheets: list[str], sheet_name: str | int | None) -> str:
    listed = ", ".join(repr(name) for name in sheets)
    if sheet_name is None:
        if len(sheets) == 1:
            return sheets[0]
        raise FileFormatError(f"{path.name}: the workbook has {len(sheets)} sheets ({listed}); "
                              f"pick one by name with sheet_name=...", path=path)
    if isinstance(sheet_name, int) and not isinstance(sheet_name, bool):
        if 0 <= sheet_name < len(sheets):
            return sheets[sheet_name]
        raise FileFormatError(f"{path.name}: no sheet number {sheet_name} (0-based); the "
                              f"workbook has {len(sheets)} sheets: {listed}", path=path)
    if sheet_name in sheets:
        return sheet_name
    suggestion = closest_name(str(sheet_name), sheets)
    hint = f" Did you mean {suggestion!r}?" if suggestion else ""
    raise FileFormatError(f"{path.name}: no sheet named {sheet_name!r}; the sheets are "
                          f"{listed}.{hint}", path=path)
