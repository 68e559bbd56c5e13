"""What the bytes of a text file say: its encoding, whether it is text at all, its records
and how many fields each holds, and whether its first line is a header.

Helpers of the CSV reader (:mod:`segexplore.io.csv`): each takes bytes or lines and
returns a verdict, so each is tested on its own.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from segexplore.errors import FileFormatError
from segexplore.model.columns import normalise_name


def _is_text_column_name(name: str) -> bool:
    """Postal codes, phones, departments and other codes: digits that are not numbers."""
    normalised = normalise_name(name)
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
        line = "row" if "row" in where else "line"
        hint = ("" if line == "row" else
                ", or pass names=[...] with the column names of a file that has none")
        raise FileFormatError(
            f"{file_name}, {where}: this looks like data, not column names: {examples}. "
            f"Add a header {line} with the column names{hint}.", path=path, row=1)
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


_REPAIR_ERRORS = "segexplore-cp1252-line"


def _decode_as_cp1252(error: UnicodeError) -> tuple[str, int]:
    """Codec error handler: decode the bytes of a UTF-8 text that are not valid UTF-8 as
    cp1252 (latin-1 for the five bytes cp1252 leaves undefined).

    Used to repair the few bad lines of a UTF-8 file (:meth:`_CsvReader._repair_utf8`).
    Not given to pandas: any ``encoding_errors`` but "strict" makes read_csv 4x slower.
    """
    if not isinstance(error, UnicodeDecodeError):
        raise error
    bad = error.object[error.start:error.end]
    return bad.decode("cp1252", errors="ignore") if not any(
        byte in _CP1252_UNDEFINED for byte in bad) else bad.decode("latin-1"), error.end


@dataclass
class _Utf8Check:
    """Lines of some data that are not valid UTF-8, and the evidence that the rest is."""

    bad: list[tuple[int, int, int, int]]  # (line, first bad byte, line start, line end)
    n_bad_bytes: int = 0
    valid_high_bytes: int = 0  # bytes above 127 that belong to valid UTF-8 characters

    @property
    def really_cp1252(self) -> bool:
        """No valid non-ASCII UTF-8 at all, or fewer valid characters than bad bytes
        (a valid accented character takes two bytes or more)."""
        return bool(self.bad) and 2 * self.n_bad_bytes > self.valid_high_bytes

    def add(self, other: _Utf8Check, offset: int) -> None:
        """Append ``other``, found in data starting ``offset`` bytes later."""
        self.bad += [(line, byte, start + offset, end + offset)
                     for line, byte, start, end in other.bad]
        self.n_bad_bytes += other.n_bad_bytes
        self.valid_high_bytes += other.valid_high_bytes


_ASCII_BYTES = bytes(range(128))


def _check_utf8(data: bytes, lines_before: int = 0, *, final: bool = True) -> _Utf8Check:
    """Find the lines of ``data`` that are not valid UTF-8.

    Strict C decoding from one bad line to the next (a memoryview, no copies): about
    1 GB/s however long the file, a few microseconds more per bad line. Unless
    ``final``, an incomplete sequence at the very end is not an error (the data may be
    cut there).
    """
    high = len(data.translate(None, _ASCII_BYTES))  # the bytes left once ASCII is deleted
    view = memoryview(data)
    bad: list[tuple[int, int, int, int]] = []
    n_bad, position, line, counted = 0, 0, lines_before + 1, 0
    while position < len(data):
        try:
            codecs.utf_8_decode(view[position:], "strict", final)
            break
        except UnicodeDecodeError as error:
            at = position + error.start
        line += data.count(b"\n", counted, at)
        counted = at
        line_start = data.rfind(b"\n", 0, at) + 1
        line_end = data.find(b"\n", at)
        line_end = len(data) if line_end < 0 else line_end
        escaped = data[line_start:line_end].decode("utf-8", "surrogateescape")
        n_bad += sum(1 for ch in escaped if "\udc80" <= ch <= "\udcff")
        bad.append((line, data[at], line_start, line_end))
        position = line_end + 1  # one entry per line
        if len(bad) == _CP1252_EVIDENCE_LINES and n_bad == len(
                data[:position].translate(None, _ASCII_BYTES)):
            # Thousands of bad lines and not one valid accent: cp1252, no need to go on.
            return _Utf8Check(bad, n_bad, 0)
    return _Utf8Check(bad, n_bad, high - n_bad)


def _bomless_unicode(sample: bytes) -> str | None:
    """UTF-16 or UTF-32 without byte-order mark, from where the zero bytes of Latin text
    fall (``a`` is ``61 00`` in UTF-16-LE, ``61 00 00 00`` in UTF-32-LE); else None."""
    usable = len(sample) - len(sample) % 4
    if usable < 8:
        return None
    data = sample[:usable]

    def zeros(offset: int, step: int) -> float:
        part = data[offset::step]
        return part.count(0) / len(part)

    z4 = [zeros(i, 4) for i in range(4)]
    if z4[0] < 0.1 and z4[1] > 0.9 and z4[2] > 0.99 and z4[3] > 0.99:
        return "utf-32-le"
    if z4[0] > 0.99 and z4[1] > 0.99 and z4[2] > 0.9 and z4[3] < 0.1:
        return "utf-32-be"
    if zeros(0, 2) < 0.1 and zeros(1, 2) > 0.9:
        return "utf-16-le"
    if zeros(0, 2) > 0.9 and zeros(1, 2) < 0.1:
        return "utf-16-be"
    return None


def _looks_binary(sample: bytes) -> bool:
    """Control bytes no text holds, or (not UTF-8) mostly bytes above 127: random bytes,
    an image or an archive whose magic bytes are not known. NUL is checked before."""
    controls = sum(sample.count(byte) for byte in _CONTROL_BYTES)
    if controls > 1 + len(sample) // 100:
        return True
    if _check_utf8(sample, final=False).bad:
        controls += sum(sample.count(byte) for byte in _CP1252_UNDEFINED)
        high = sum(1 for byte in sample if byte > 127)
        return controls > 1 + len(sample) // 100 or (len(sample) >= 16
                                                      and high > 0.3 * len(sample))
    return False


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


def _split_whitespace(lines: Iterable[str]) -> Iterator[list[str]]:
    """Fields separated by runs of spaces or tabs, like ``csv.reader`` (quotes not honoured)."""
    for line in lines:
        yield line.split()


def _csv_records(lines: Iterable[str], sep: str) -> Iterator[list[str]]:
    r"""``csv.reader``, or the whitespace splitter for ``sep=r"\s+"``."""
    return _split_whitespace(lines) if sep == WHITESPACE else csv.reader(lines, delimiter=sep)


def _iter_records(lines: Iterable[str], sep: str) -> Iterator[tuple[int, list[str]]]:
    """Yield ``(first line number, fields)`` per CSV record, blank lines skipped.

    Line numbers are physical (a quoted line break counts), as a text editor shows them.
    """
    if sep == WHITESPACE:
        for number, line in enumerate(lines, start=1):
            if line.split():
                yield number, line.split()
        return
    reader = csv.reader(lines, delimiter=sep)
    last_line = 0
    for fields in reader:
        first_line, last_line = last_line + 1, reader.line_num
        if fields:
            yield first_line, fields


def _fields_per_record(data: bytes, sep: str, *, final: bool
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    r"""Fields, blankness and start offset of each CSV record of ``data``, the offsets of
    its line breaks, and how many bytes the records use (the rest, a record that may go
    on in the next block, is for the next call; all of it when ``final``).

    Quotes are honoured as the csv module does for well-formed files: a separator or a
    line break is inside a value when an odd number of quotes comes before it (``""``
    inside a value counts twice). Runs of spaces (``sep=r"\s+"``) ignore quotes.
    """
    array = np.frombuffer(data, dtype=np.uint8)
    newlines = np.flatnonzero(array == 10)
    quoted = sep != WHITESPACE and b'"' in data
    if quoted:  # parity of the quotes so far; uint8 wraps at 256, which keeps the parity
        outside = (np.cumsum(array == 34, dtype=np.uint8) & 1) == 0
        ends = newlines[outside[newlines]]
    else:
        ends = newlines
    used = int(ends[-1]) + 1 if len(ends) else 0
    if final and used < len(array):
        ends, used = np.append(ends, len(array)), len(array)  # a last line without break
    starts = np.concatenate([[0], ends[:-1] + 1]).astype(np.int64)
    if sep == WHITESPACE:
        is_field = ~np.isin(array[:used], (9, 10, 13, 32))
        field_starts = np.flatnonzero(is_field & ~np.concatenate([[False], is_field[:-1]]))
        n_fields = np.searchsorted(field_starts, ends) - np.searchsorted(field_starts, starts)
        return n_fields, n_fields == 0, starts, newlines, used
    separators = np.flatnonzero(array[:used] == ord(sep))
    if quoted:
        separators = separators[outside[separators]]
    n_fields = np.searchsorted(separators, ends) - np.searchsorted(separators, starts) + 1
    length = ends - starts
    carriage = np.zeros(len(ends), dtype=bool)
    has_text = length > 0
    carriage[has_text] = array[ends[has_text] - 1] == 13
    return n_fields, (length - carriage) == 0, starts, newlines, used


def _at_line(line: int | None) -> str:
    return f", line {line}" if line else ""


def _list_lines(lines: list[int]) -> str:
    """ "line 5" or "lines 5, 9, 12 and 3 more" (at most MAX_LINES_IN_MESSAGE numbers)."""
    shown = ", ".join(str(line) for line in lines[:MAX_LINES_IN_MESSAGE])
    extra = len(lines) - MAX_LINES_IN_MESSAGE
    return ("line " if len(lines) == 1 else "lines ") + shown + (
        f" and {extra} more" if extra > 0 else "")


#: Lines pandas' strict decoder rejects are decoded as cp1252 through this error handler.
codecs.register_error(_REPAIR_ERRORS, _decode_as_cp1252)


#: ``sep`` for fields separated by runs of spaces or tabs (pandas' notation).
WHITESPACE = r"\s+"


#: At most this many offending lines are named in an error message.
MAX_LINES_IN_MESSAGE = 10


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


#: Bytes no text file holds (NUL aside): C0 controls but TAB, LF, FF, CR; and DEL.
_CONTROL_BYTES = bytes([*range(0, 9), 11, *range(14, 32), 127])


#: Bytes cp1252 leaves undefined: C1 controls once a file falls back to latin-1.
_CP1252_UNDEFINED = b"\x81\x8d\x8f\x90\x9d"


def _describe_binary(head: bytes) -> str:
    for signature, description in _BINARY_SIGNATURES:
        if head.startswith(signature):
            return f"it looks like {description}"
    if len(head) >= 4 and head[1::2].count(0) > len(head) // 4:
        return "it looks like UTF-16 text without byte-order mark: pass encoding='utf-16-le'"
    return "it is not a text file"


#: Past this many bad lines with no valid non-ASCII UTF-8 at all, the data is cp1252.
_CP1252_EVIDENCE_LINES = 10_000
