"""The CSV reader behind :func:`~segexplore.io.read.read_table`: sniff, read, repair, report.

:class:`_CsvReader` detects the encoding, separator, header, decimal comma and text columns
of one file (each overridable), reads it with pandas' fast parser, and turns every problem
(short lines, lines that cannot be read, invalid bytes) into a clear
:class:`~segexplore.errors.FileFormatError` or a row of ``ReadInfo.issues`` and
``ReadInfo.rejected``; see :mod:`segexplore.io.read` for what is detected and how.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import gzip
import io
import re
import tempfile
import warnings
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any, NoReturn

import numpy as np
import pandas as pd

from segexplore.errors import FileFormatError, ParameterError, SchemaError, closest_name
from segexplore.io.parsing import NA_VALUES, _plural, parse_numbers
from segexplore.io.progress import _progress_monitor
from segexplore.io.sniff import (
    _CP1252_EVIDENCE_LINES,
    _CP1252_UNDEFINED,
    _NUMBER_RE,
    _REPAIR_ERRORS,
    MAX_LINES_IN_MESSAGE,
    WHITESPACE,
    _at_line,
    _bomless_unicode,
    _check_header_names,
    _check_utf8,
    _csv_records,
    _describe_binary,
    _fallback_encoding,
    _fields_per_record,
    _first_decode_error,
    _is_text_column_name,
    _iter_records,
    _lines,
    _list_lines,
    _looks_binary,
    _Utf8Check,
)
from segexplore.model.columns import normalise_name


class _CsvReader:
    """Sniff then read one CSV file; holds the settings used, the notes and rejected lines."""

    def __init__(self, path: Path, compression: str | None, *, sep: str | None,
                 encoding: str | None, decimal: str | None,
                 text_columns: Iterable[str] | None, on_bad_lines: str, progress: bool,
                 notes: list[str], names: list[str] | None = None) -> None:
        self.path = path
        self.name = path.name
        self.explicit_encoding = encoding
        self.explicit_sep = sep
        self.explicit_decimal = decimal
        self.extra_text_columns = list(text_columns or [])
        self.on_bad_lines = on_bad_lines
        self.progress = progress
        self.notes = notes
        self.names = names
        self.has_header = names is None
        self.rejected = _empty_rejected()
        self.issues: list[tuple[int, str | None, str | None, str, str]] = []
        self.short_lines: list[tuple[int, int]] | None = None  # (line, fields), once counted
        self.encoding = "utf-8"
        # What pandas reads: the file, or a copy whose lines not valid UTF-8 were repaired.
        self.data_path = path
        self.data_compression = compression
        self.repair_pending = False  # the sample already showed lines to repair
        self.sample_quoted = False
        self.repaired = False
        self.sep = ","
        self.decimal = "."
        # Set by _sniff from the file head:
        self.raw_names: dict[str, str] = {}  # stripped header name -> name in the file
        self.header_width = 0
        self.header_names: list[str] = []
        self.trailing_blank = 0  # blank names at the end of the header (trailing separators)
        self.first_row_too_long = False  # pandas would shift columns: check every line
        self.comma_columns: list[str] = []  # decimal-comma columns, converted after reading

    # -- sniffing -------------------------------------------------------------------

    def _open_binary(self) -> IO[bytes]:
        if self.data_compression == "gzip":
            return gzip.open(self.data_path, "rb")
        return self.data_path.open("rb")

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
        for boms, name in (((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE), "utf-32"),
                           ((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE), "utf-16")):
            if sample.startswith(boms):  # UTF-32 first: its LE mark starts like UTF-16's
                if explicit is None:
                    self.notes.append(f"encoding {name} detected (byte-order mark)")
                return explicit or name
        bomless = _bomless_unicode(sample)
        if bomless and explicit is None:
            self.notes.append(f"encoding {bomless} detected (no byte-order mark, from the "
                              f"zero bytes between characters)")
            return bomless
        has_utf8_bom = sample.startswith(codecs.BOM_UTF8)
        if explicit is not None:
            if has_utf8_bom and codecs.lookup(explicit).name == "utf-8":
                return "utf-8-sig"  # else the BOM would stick to the first column name
            return explicit
        if has_utf8_bom:
            self.notes.append("encoding utf-8-sig detected (UTF-8 byte-order mark)")
            return "utf-8-sig"
        check = _check_utf8(sample, final=False)
        if not check.really_cp1252:
            self.repair_pending = bool(check.bad)  # a few bad lines: see _repair_utf8
            return "utf-8"
        fallback = _fallback_encoding(sample)
        self.notes.append(f"encoding {fallback} detected (not valid UTF-8 at line "
                          f"{check.bad[0][0]})")
        return fallback

    def _check_not_empty_or_binary(self, sample: bytes) -> None:
        if not sample.lstrip(codecs.BOM_UTF8).strip():
            raise FileFormatError(f"{self.name}: the file is empty (no header, no data)",
                                  path=self.path)
        explicit = codecs.lookup(self.explicit_encoding).name if self.explicit_encoding else ""
        if explicit.startswith(("utf-16", "utf-32")) or _bomless_unicode(sample) or \
                sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return  # UTF-16 and UTF-32 hold zero bytes (the UTF-32 marks start like these)
        if b"\x00" in sample[:8192] or _looks_binary(sample[:8192]):
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
        if best_key[1] == 0 and self._whitespace_separated(text):
            self.notes.append("separator whitespace (runs of spaces or tabs) detected")
            return WHITESPACE
        if best_key[1] == 0:
            self.notes.append("a single column: no separator found among , ; TAB |")
        elif best_sep != ",":
            label = "TAB" if best_sep == "\t" else repr(best_sep)
            self.notes.append(f"separator {label} detected")
        return best_sep

    @staticmethod
    def _whitespace_separated(text: str) -> bool:
        """Fields separated by runs of spaces (CDNOW_master.txt): every line splits into
        the same 2+ fields and some column holds only numbers, so that a one-column file
        of names with spaces ("Jean Dupont") is not split."""
        rows = [line.split() for line in _lines(text) if line.strip()]
        if not rows or len(rows[0]) < 2 or any(len(row) != len(rows[0]) for row in rows):
            return False
        data = rows[1:] or rows
        return any(all(_NUMBER_RE.match(row[i]) for row in data) for i in range(len(rows[0])))

    def _sniff(self) -> dict[str, Any]:
        """Detect the settings from the file head; return the read_csv keyword arguments."""
        sample, truncated = self._sample()
        self._check_not_empty_or_binary(sample)
        self.encoding = self._detect_encoding(sample)
        errors = _REPAIR_ERRORS if self.repair_pending else "replace"
        text = codecs.getincrementaldecoder(self.encoding)(errors=errors).decode(
            sample, final=not truncated)
        if truncated:  # drop the last, possibly cut, line
            text = text[: text.rfind("\n") + 1] or text
        self.sep = self.explicit_sep or self._sniff_separator(text)
        self.sample_quoted = '"' in text
        records = list(_iter_records(_lines(text), self.sep))
        if truncated and len(records) > 1:
            records.pop()  # may be cut inside a quoted field
        if not records:
            raise FileFormatError(f"{self.name}: the file is empty (no header, no data)",
                                  path=self.path)
        if self.names is None:
            raw_header = records[0][1]
            header = [name.strip() for name in raw_header]
            trailing_blank = _check_header_names(header, self.name, self.path)
            data = records[1:]
        else:  # names=: no header line, every record is data
            raw_header = header = list(self.names)
            trailing_blank, data = 0, records
        self.raw_names = dict(zip(header, raw_header, strict=True))
        self.header_names = header[: len(header) - trailing_blank]
        self.header_width = len(header)
        self.trailing_blank = trailing_blank
        self.first_row_too_long = bool(data) and len(data[0][1]) > len(header)
        dtype = self._text_columns(raw_header, header, data)
        text_positions = [i for i, raw in enumerate(raw_header) if raw in dtype]
        self.decimal, numeric_text = self._detect_decimal(header, data, text_positions)
        dtype.update({raw_header[i]: str for i in numeric_text})
        if self.decimal == self.sep:
            raise ParameterError(f"decimal and sep cannot both be {self.sep!r}")
        options = {"sep": self.sep, "decimal": self.decimal, "dtype": dtype or None,
                   "index_col": False, "keep_default_na": False, "na_values": NA_VALUES,
                   "engine": "c", "skip_blank_lines": True}
        if self.names is not None:
            options.update(header=None, names=list(self.names))
        return options

    def _text_columns(self, raw_header: list[str], header: list[str],
                      data: list[tuple[int, list[str]]]) -> dict[str, type]:
        by_name = [i for i, name in enumerate(header) if _is_text_column_name(name)]
        asked = []
        normalised = {normalise_name(name): i for i, name in enumerate(header)}
        for name in self.extra_text_columns:
            position = header.index(name) if name in header else normalised.get(
                normalise_name(name))
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
        try:
            if self.repair_pending:
                self._repair_utf8()
            while True:
                attempt = dict(options)  # the slow path adds skiprows/usecols
                try:
                    frame = self._read_with(attempt)
                    break
                except UnicodeDecodeError:
                    # A bad byte after the sample: repair those lines (or the file really
                    # is cp1252), unless an encoding was asked.
                    if (self.explicit_encoding is None and not self.repaired
                            and self.encoding in ("utf-8", "utf-8-sig")):
                        self._repair_utf8()
                    else:
                        self._switch_encoding_after_decode_error()
            frame = self._finish(frame, attempt)
            self._report_short_lines(frame)
        finally:
            if self.data_path != self.path:
                self.data_path.unlink(missing_ok=True)
        return frame

    def _repair_utf8(self) -> None:
        """A UTF-8 file with bytes that are not valid UTF-8: fall back to cp1252 for the
        whole file if it really is cp1252, else decode only the bad lines as cp1252, in a
        temporary copy that pandas reads instead (line numbers unchanged), and list each
        line in the issues.

        One pass over the bytes, by blocks cut at line breaks: a strict decode costs a
        few milliseconds per megabyte and blocks without bad bytes are copied as they are.
        """
        self.repaired = True
        found = _Utf8Check([])
        lines_before, carry, offset = 0, b"", 0
        raw_lines: list[bytes] = []
        with self._open_binary() as handle, tempfile.NamedTemporaryFile(
                "wb", prefix="segexplore-repaired-", suffix=".csv", delete=False) as copy:
            copy_path = Path(copy.name)
            while True:
                block = handle.read(1 << 24)
                data = carry + block
                cut = data.rfind(b"\n") + 1 if block else len(data)
                piece, carry = data[:cut], data[cut:]
                check = _check_utf8(piece, lines_before)
                found.add(check, offset)
                written = 0
                for _, _, start, end in check.bad:  # splice the repaired lines in
                    raw_lines.append(piece[start:end])
                    copy.write(piece[written:start])
                    copy.write(piece[start:end].decode("utf-8", _REPAIR_ERRORS).encode())
                    written = end
                copy.write(piece[written:])
                lines_before += piece.count(b"\n")
                offset += len(piece)
                if not block or found.really_cp1252 and len(found.bad) >= _CP1252_EVIDENCE_LINES:
                    break
        if not found.bad or found.really_cp1252:
            copy_path.unlink()
        else:
            self.data_path, self.data_compression = copy_path, None
        if found.really_cp1252:
            self.encoding = "latin-1" if any(
                byte in line for line in raw_lines for byte in _CP1252_UNDEFINED
            ) else "cp1252"
            self.notes.append(f"encoding {self.encoding} detected (not valid UTF-8 at line "
                              f"{found.bad[0][0]})")
            return
        lines = [line for line, *_ in found.bad]
        self.notes.append(f"{_plural(len(lines), 'line')} not valid UTF-8 "
                          f"({_list_lines(lines)}): decoded as cp1252 for "
                          f"{'this line' if len(lines) == 1 else 'these lines'} only, the "
                          f"rest of the file as UTF-8; see issues")
        for (line, byte, _, _), raw in zip(found.bad, raw_lines, strict=True):
            column, value = self._bad_fields(raw)
            self.issues.append((line, column, value,
                                f"byte 0x{byte:02X} is not valid UTF-8 (the rest of the file is)",
                                "decoded as cp1252 for this line only"))

    def _bad_fields(self, raw: bytes) -> tuple[str | None, str]:
        """The columns of a line holding bytes not valid UTF-8, and their decoded value."""
        repaired = raw.decode("utf-8", errors=_REPAIR_ERRORS).rstrip("\r")
        marked = raw.decode("utf-8", errors="replace").rstrip("\r")
        try:
            fields = next(iter(_csv_records([marked], self.sep)), [])
            values = next(iter(_csv_records([repaired], self.sep)), [])
        except csv.Error:  # a bare carriage return inside the line
            return None, repaired
        bad = [i for i, text in enumerate(fields) if "\ufffd" in text]
        names = self.header_names
        if len(fields) != len(values) or not bad or bad[-1] >= len(names):
            return None, repaired  # a header or a record cut by a quoted line break
        value = values[bad[0]] if len(bad) == 1 else repaired
        return ", ".join(names[i] for i in bad), value

    def _report_short_lines(self, frame: pd.DataFrame) -> None:
        """List every line with fewer fields than the header in ``issues`` (kept, the
        missing values left empty), with an exact count in the notes."""
        width = len(self.header_names)
        if width < 2 or frame.empty:
            return
        if self.short_lines is None:
            if frame.iloc[:, width - 1].notna().all():
                return  # a short line leaves the last column empty: none here
            self.short_lines = self._count_short_lines(width, len(frame))
        short = [(line, n) for line, n in self.short_lines if n < width]
        if not short:
            return
        note = (f"{_plural(len(short), 'line')} with fewer fields than the header "
                f"({_list_lines([line for line, _ in short])}): the missing values are left "
                f"empty")
        if note not in self.notes:
            self.notes.append(note)
        for line, n_fields in short:
            self.issues.append((line, ", ".join(self.header_names[n_fields:]), None,
                                f"{n_fields} fields, expected {width} as in the header",
                                "kept, missing values left empty"))

    def _count_short_lines(self, width: int, n_rows: int) -> list[tuple[int, int]]:
        """(line, fields) of every record with fewer than ``width`` fields.

        numpy counts separators per record on the bytes (quotes honoured, about 0.1 s
        per 50 MB); the csv module reads every record when that count does not find
        pandas' ``n_rows`` records, or for UTF-16/32 files.
        """
        if codecs.lookup(self.encoding).name in _ASCII_COMPATIBLE:
            counted = self._count_fields_on_bytes(n_rows)
            if counted is not None:
                return counted
        short = []
        header_pending = self.has_header
        for _, first_line, _, fields in self._scan():
            if not any(field.strip() for field in fields):
                continue  # blank line
            if header_pending:
                header_pending = False
            elif len(fields) < width:
                short.append((first_line, len(fields)))
        return short

    def _count_fields_on_bytes(self, n_rows: int) -> list[tuple[int, int]] | None:
        """(first line, fields) of the data records with fewer fields than the header,
        counted on bytes with numpy; None when the count disagrees with pandas' ``n_rows``
        (a stray quote inside a value: the csv module must decide)."""
        width = len(self.header_names)
        if self.sep != WHITESPACE and not self.sample_quoted:
            quotes, separators, lines = False, 0, 0
            last = b"\n"
            with self._open_binary() as handle:  # totals first: no copies, no line cutting
                while block := handle.read(1 << 24):
                    quotes = quotes or b'"' in block
                    separators += block.count(self.sep.encode())
                    lines += block.count(b"\n")
                    last = block[-1:]
            lines += last != b"\n"  # a last line without line break
            if not quotes and separators == (self.header_width - 1) * lines:
                # No line has more separators than the header (pandas would have failed),
                # so all have exactly as many: no short line, no blank line.
                return []
        found: list[tuple[int, int]] = []
        lines_before, carry, records = 0, b"", 0
        header_pending = self.has_header
        with self._open_binary() as handle:
            while True:
                block = handle.read(1 << 24)
                data = carry + block
                n_fields, blank, starts, newlines, used = _fields_per_record(
                    data, self.sep, final=not block)
                piece, carry = data[:used], data[used:]
                kept = np.flatnonzero(~blank)
                if header_pending and len(kept):
                    header_pending = False
                    kept = kept[1:]
                records += len(kept)
                short = kept[n_fields[kept] < width]
                first_lines = np.searchsorted(newlines, starts[short]) + 1  # physical lines
                found += [(lines_before + int(line), int(n_fields[i]))
                          for line, i in zip(first_lines, short, strict=True)]
                lines_before += piece.count(b"\n")
                if not block:
                    return found if records == n_rows else None

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
                return pd.read_csv(self.data_path, encoding=self.encoding,
                                   compression=self.data_compression, **options)
            with self.data_path.open("rb") as raw, contextlib.ExitStack() as stack:
                handle = (stack.enter_context(gzip.GzipFile(fileobj=raw, mode="rb"))
                          if self.data_compression else raw)
                # the bar follows the bytes read on disk, compressed or not
                with _progress_monitor(raw, self.data_path.stat().st_size, self.name):
                    return pd.read_csv(handle, encoding=self.encoding, **options)

    def _scan(self) -> Iterator[tuple[int, int, int, list[str]]]:
        """Yield ``(record index, first line, last line, fields)`` for every record.

        The record index counts blank lines and the header like pandas' ``skiprows``
        and error messages do; line numbers are physical, as a text editor shows them.
        """
        with self._open_text(self.encoding) as handle:
            if self.sep == WHITESPACE:  # no quoted line breaks: one record per line
                for index, line in enumerate(handle):
                    yield index, index + 1, index + 1, line.split()
                return
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
        short: list[tuple[int, int]] = []
        trailing = 0
        header_seen = not self.has_header
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
                short.append((first_line, len(fields)))
        if bad and self.on_bad_lines == "error":
            self._raise_ragged(bad)
        self.short_lines = short  # reported with the others by _report_short_lines
        if bad:
            self.rejected = self._rejected_frame(bad)
            self.notes.append(f"{_plural(len(bad), 'line')} rejected: more fields than the "
                              f"header ({_list_lines([b[1] for b in bad])}); see "
                              f"rejected_lines")
        if trailing:
            self.notes.append(f"{_plural(trailing, 'line')} ending with extra empty fields "
                              f"(trailing separators): ignored")
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
                if record == row + self.has_header:  # record 0 is the header, if any
                    return first_line
        return None


SEPARATORS = (",", ";", "\t", "|")


#: Bytes of the file head used to detect encoding, separator, decimal and text columns.
SAMPLE_BYTES = 64 * 1024


_INTEGER_RE = re.compile(r"^-?\d+$")


_DECIMAL_COMMA_RE = re.compile(r"^-?\d+(?:[ \u00a0\u202f]?\d{3})*,\d+$")


_DECIMAL_DOT_RE = re.compile(r"^-?\d+\.\d+$")


_PARSER_FIELDS_RE = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")


#: Encodings whose separators, quotes and line breaks are single ASCII bytes.
_ASCII_COMPATIBLE = frozenset({"utf-8", "utf-8-sig", "cp1252", "iso8859-1", "ascii"})


_PARSER_EOF_RE = re.compile(r"EOF inside string starting at row (\d+)")


def _empty_rejected() -> pd.DataFrame:
    return pd.DataFrame({"line": pd.Series(dtype="int64"), "text": pd.Series(dtype="str"),
                         "reason": pd.Series(dtype="str")})
