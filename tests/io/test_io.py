"""Tests of segexplore.io.read: reading files, parsing dates and numbers, atomic writing.

Every fixture file is written by hand into ``tmp_path`` (bytes or text literals, or
openpyxl/pandas for Excel and Parquet), never by the library under test.
"""

from __future__ import annotations

import datetime
import gzip

import numpy as np
import openpyxl
import pandas as pd
import pytest

from segexplore.errors import FileFormatError, SchemaError
from segexplore.io.atomic import atomic_write, atomic_write_bytes
from segexplore.io.parsing import DateParseInfo, parse_datetimes, parse_numbers
from segexplore.io.read import ReadInfo, read_table


def write(tmp_path, name, content, encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode(encoding))
    return path


def read_error(path, **options) -> FileFormatError:
    with pytest.raises(FileFormatError) as caught:
        read_table(path, **options)
    return caught.value


# ------------------------------------------------------------------ encodings

def test_utf8_comma_file(tmp_path):
    path = write(tmp_path, "contacts.csv",
                 "contact_id,email,first_name\n1,helene@example.fr,Hélène\n"
                 "2,jean@example.fr,Jean\n")
    frame, info = read_table(path)
    assert list(frame.columns) == ["contact_id", "email", "first_name"]
    assert frame["first_name"].tolist() == ["Hélène", "Jean"]
    assert frame["contact_id"].tolist() == [1, 2]
    assert (info.format, info.encoding, info.sep, info.decimal) == ("csv", "utf-8", ",", ".")
    assert (info.n_rows, info.n_columns) == (2, 3)
    assert info.path == str(path)
    assert info.rejected_lines.empty
    assert "contacts.csv: 2 rows x 3 columns" in str(info)


def test_utf8_with_bom_does_not_leak_into_first_column_name(tmp_path):
    path = write(tmp_path, "bom.csv", b"\xef\xbb\xbfemail;city\na@example.fr;Orl\xc3\xa9ans\n")
    frame, info = read_table(path)
    assert info.encoding == "utf-8-sig"
    assert list(frame.columns) == ["email", "city"]
    assert frame.loc[0, "city"] == "Orléans"


def test_cp1252_file_is_detected_with_the_line_of_the_first_non_utf8_byte(tmp_path):
    content = "region;amount;first_name\nBretagne;3,00;Jean\nÎle-de-France;12,50;Hélène\n"
    path = write(tmp_path, "export.csv", content, encoding="cp1252")
    frame, info = read_table(path)
    assert info.encoding == "cp1252"
    assert "encoding cp1252 detected (not valid UTF-8 at line 3)" in info.notes
    assert frame["region"].tolist() == ["Bretagne", "Île-de-France"]
    assert frame["first_name"].tolist() == ["Jean", "Hélène"]
    assert frame["amount"].tolist() == [3.0, 12.5]


def test_cp1252_byte_after_the_sample_switches_encoding_and_says_where(tmp_path):
    lines = ["id;name"] + [f"{i};Jean" for i in range(1, 10001)] + ["10001;Hélène"]
    path = write(tmp_path, "late.csv", "\n".join(lines) + "\n", encoding="cp1252")
    frame, info = read_table(path)
    assert info.encoding == "cp1252"
    assert "encoding cp1252 detected (not valid UTF-8 at line 10002)" in info.notes
    assert frame["name"].iloc[-1] == "Hélène"
    assert len(frame) == 10001


def test_byte_undefined_in_cp1252_falls_back_to_latin1(tmp_path):
    path = write(tmp_path, "odd.csv", b"code;label\n1;A\x81B\n")
    frame, info = read_table(path)
    assert info.encoding == "latin-1"
    assert frame.loc[0, "label"] == "A\x81B"


def test_explicit_wrong_encoding_names_line_byte_and_suggests_cp1252(tmp_path):
    content = "id;city\n1;Paris\n2;Paris\n3;Évry\n"
    path = write(tmp_path, "cities.csv", content, encoding="cp1252")
    error = read_error(path, encoding="utf-8")
    message = str(error)
    assert message.startswith("cities.csv, line 4:")
    assert "0xC9" in message  # É in cp1252
    assert "encoding='cp1252'" in message
    assert error.row == 4
    assert error.path == path


def test_utf16_with_bom(tmp_path):
    path = write(tmp_path, "unicode.txt", "email\tcity\na@example.fr\tÉvry\n".encode("utf-16"))
    frame, info = read_table(path)
    assert info.encoding == "utf-16"
    assert frame.loc[0, "city"] == "Évry"


def test_explicit_encoding_overrides_detection(tmp_path):
    path = write(tmp_path, "latin.csv", "id;city\n1;Évry\n", encoding="cp1252")
    frame, info = read_table(path, encoding="latin-1")
    assert info.encoding == "latin-1"
    assert frame.loc[0, "city"] == "Évry"


# ----------------------------------------------------------------- separators

def test_semicolon_and_decimal_comma_give_exact_floats(tmp_path):
    path = write(tmp_path, "orders.csv",
                 "order_id;amount;items\nA1;12,50;2\nA2;0,1;1\nA3;-3,75;4\nA4;19,99;1\n")
    frame, info = read_table(path)
    assert info.sep == ";"
    assert info.decimal == ","
    assert "separator ';' detected" in info.notes
    assert "decimal comma detected in columns amount" in info.notes
    assert frame["amount"].dtype == np.float64
    assert frame["amount"].tolist() == [12.5, 0.1, -3.75, 19.99]
    assert frame["items"].tolist() == [2, 1, 4, 1]


def test_thousands_spaces_are_converted_exactly(tmp_path):
    path = write(tmp_path, "big_orders.csv",
                 "order_id;amount\nA1;1 234,56\nA2;12,50\nA3;1\u00a0000\u00a0000,01\n")
    frame, _ = read_table(path)
    assert frame["amount"].tolist() == [1234.56, 12.5, 1000000.01]


def test_decimal_comma_values_after_the_sample_are_checked(tmp_path):
    rows = ["id;amount"] + [f"{i};12,50" for i in range(1, 8001)]  # beyond the 64 KiB sample
    path = write(tmp_path, "late_thousands.csv", "\n".join(rows + ["8001;1 234,50"]) + "\n")
    frame, _ = read_table(path)
    assert frame["amount"].iloc[[0, -1]].tolist() == [12.5, 1234.5]
    path = write(tmp_path, "late_text.csv", "\n".join(rows + ["8001;n/c"]) + "\n")
    frame, info = read_table(path)
    assert frame["amount"].iloc[-1] == "n/c"
    assert ("column amount looks numeric but not all values are numbers (1 failure, e.g. "
            "'n/c' at line 8002): kept as text") in info.notes


def test_tab_separator(tmp_path):
    path = write(tmp_path, "tab.tsv", "email\tcity\tage\na@example.fr\tNantes\t31\n")
    frame, info = read_table(path)
    assert info.sep == "\t"
    assert "separator TAB detected" in info.notes
    assert frame.iloc[0].tolist() == ["a@example.fr", "Nantes", 31]


def test_pipe_separator(tmp_path):
    path = write(tmp_path, "pipe.txt", "email|city\na@example.fr|Nantes\nb@example.fr|Lille\n")
    frame, info = read_table(path)
    assert info.sep == "|"
    assert frame["city"].tolist() == ["Nantes", "Lille"]


def test_quoted_fields_keep_embedded_separators_and_quotes(tmp_path):
    content = ('id;note;city\n1;"a;b;c";Paris\n2;"say ""hi""";Lyon\n3;"two\nlines";Nice\n'
               '4;plain;Metz\n')
    frame, info = read_table(write(tmp_path, "quoted.csv", content))
    assert info.sep == ";"
    assert frame["note"].tolist() == ["a;b;c", 'say "hi"', "two\nlines", "plain"]
    assert frame["city"].tolist() == ["Paris", "Lyon", "Nice", "Metz"]


def test_quoted_commas_in_a_comma_file(tmp_path):
    content = ('name,email,city\n"Dupont, Jean",jean@example.fr,Paris\n'
               '"Martin, Lea",lea@example.fr,Lyon\n')
    frame, info = read_table(write(tmp_path, "names.csv", content))
    assert info.sep == ","
    assert frame["name"].tolist() == ["Dupont, Jean", "Martin, Lea"]


def test_explicit_separator_overrides_detection(tmp_path):
    path = write(tmp_path, "semi.csv", "a;b\n1;2\n")
    frame, info = read_table(path, sep=",")
    assert info.sep == ","
    assert list(frame.columns) == ["a;b"]
    assert frame.iloc[0, 0] == "1;2"


def test_explicit_decimal_overrides_detection(tmp_path):
    path = write(tmp_path, "amounts.csv", "id;amount\n1;12,50\n2;3,10\n")
    frame, info = read_table(path, decimal=".")
    assert info.decimal == "."
    assert frame["amount"].tolist() == ["12,50", "3,10"]


def test_gzip_compressed_csv(tmp_path):
    path = tmp_path / "events.csv.gz"
    path.write_bytes(gzip.compress(b"contact_id;event_type\n1;open\n2;click\n"))
    frame, info = read_table(path)
    assert info.format == "csv"
    assert frame["event_type"].tolist() == ["open", "click"]


# --------------------------------------------------------------- text columns

def test_postal_codes_phones_and_leading_zero_codes_stay_text(tmp_path):
    content = ("contact_id;Code postal;phone;ref;amount\n"
               "1;01000;0612345678;007;5\n2;75001;0145678901;120;6\n")
    frame, info = read_table(write(tmp_path, "codes.csv", content))
    assert frame["Code postal"].tolist() == ["01000", "75001"]
    assert frame["phone"].tolist() == ["0612345678", "0145678901"]
    assert frame["ref"].tolist() == ["007", "120"]
    assert frame["contact_id"].tolist() == [1, 2]
    assert frame["amount"].tolist() == [5, 6]
    assert "read as text by name: Code postal, phone" in info.notes
    assert "read as text to keep leading zeros: ref" in info.notes


def test_text_columns_argument_and_unknown_name(tmp_path):
    path = write(tmp_path, "ids.csv", "contact_id;email\n42;a@example.fr\n")
    frame, _ = read_table(path, text_columns=["contact_id"])
    assert frame["contact_id"].tolist() == ["42"]
    with pytest.raises(SchemaError, match="'contact_ids'.*Did you mean 'contact_id'"):
        read_table(path, text_columns=["contact_ids"])


def test_dataframe_source_is_returned_as_is(tmp_path):
    frame = pd.DataFrame({"a": [1, 2]})
    result, info = read_table(frame)
    assert result is frame
    assert (info.format, info.path, info.n_rows, info.n_columns) == ("dataframe", None, 2, 1)


# ---------------------------------------------------------------- file errors

def test_missing_file_suggests_close_names(tmp_path):
    write(tmp_path, "contacts.csv", "a\n1\n")
    error = read_error(tmp_path / "contact.csv")
    assert str(error).startswith("contact.csv: file not found")
    assert "Did you mean contacts.csv?" in str(error)
    assert error.path == tmp_path / "contact.csv"


@pytest.mark.parametrize("content", [b"", b"   \n\n", b"\xef\xbb\xbf \r\n"])
def test_empty_file(tmp_path, content):
    error = read_error(write(tmp_path, "empty.csv", content))
    assert str(error) == "empty.csv: the file is empty (no header, no data)"


@pytest.mark.parametrize(("content", "looks_like"), [
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "a PNG image"),
    (b"%PDF-1.4\n\x00\x01\x02", "a PDF document"),
    (b"PK\x03\x04\x14\x00\x00\x00", "a ZIP archive"),
])
def test_binary_file_says_what_it_looks_like(tmp_path, content, looks_like):
    error = read_error(write(tmp_path, "contacts.csv", content))
    assert str(error).startswith("contacts.csv: binary content, not a CSV file")
    assert looks_like in str(error)


def test_missing_header_names_the_fields_that_look_like_data(tmp_path):
    path = write(tmp_path, "noheader.csv",
                 "1;jean@example.fr;2024-03-15\n2;lea@example.fr;2024-03-16\n")
    error = read_error(path)
    message = str(error)
    assert message.startswith("noheader.csv, line 1: this looks like data, not column names")
    assert "'1' (a number)" in message
    assert "'jean@example.fr' (an email address)" in message
    assert "'2024-03-15' (a date)" in message
    assert error.row == 1


def test_duplicate_column_names_are_named(tmp_path):
    error = read_error(write(tmp_path, "dup.csv", "email;city;email\na;b;c\n"))
    assert str(error).startswith(
        "dup.csv, line 1: duplicate column names: 'email' (columns 1 and 3)")
    assert error.column == "email"


def test_blank_column_name_is_located(tmp_path):
    error = read_error(write(tmp_path, "blank.csv", "email;;city\na;b;c\n"))
    assert str(error).startswith("blank.csv, line 1: column 2 has no name")


def test_unnamed_last_column_with_values_is_an_error(tmp_path):
    error = read_error(write(tmp_path, "unnamed.csv", "a;b;\n1;2;\n\n3;4;x\n"))
    assert str(error).startswith("unnamed.csv, line 1: column 3 has no name (blank header) "
                                 "but holds values (first at line 4)")


def test_trailing_separator_on_every_line_is_ignored(tmp_path):
    frame, info = read_table(write(tmp_path, "trail.csv", "a;b;\n1;2;\n3;4;\n"))
    assert list(frame.columns) == ["a", "b"]
    assert frame["b"].tolist() == [2, 4]
    assert any("ends with a separator" in note for note in info.notes)


def test_ragged_lines_are_named_with_field_counts(tmp_path):
    content = "id;name;city\n1;Ann;Paris\n2;Bob;Lyon;extra\n3;Cy;Nice\n4;Di;Metz;x;y\n"
    error = read_error(write(tmp_path, "ragged.csv", content))
    message = str(error)
    assert message.startswith("ragged.csv: 2 lines with more fields than the header (3 expected)")
    assert "line 3 (4 fields), line 5 (5 fields)" in message
    assert "on_bad_lines='reject'" in message
    assert error.row == 3


def test_ragged_line_numbers_count_quoted_line_breaks(tmp_path):
    content = 'id;note\n1;"first\nsecond"\n2;ok\n3;too;many\n'
    error = read_error(write(tmp_path, "multi.csv", content))
    assert "line 5 (3 fields)" in str(error)


def test_at_most_ten_ragged_lines_are_listed(tmp_path):
    lines = ["a;b"] + [f"{i};x;y" for i in range(12)]
    error = read_error(write(tmp_path, "many.csv", "\n".join(lines) + "\n"))
    message = str(error)
    assert "12 lines with more fields" in message
    assert "line 11 (3 fields)" in message
    assert "line 12 (3 fields)" not in message
    assert "and 2 more" in message


def test_first_data_line_too_long_is_not_silently_shifted(tmp_path):
    # pandas alone would take the first column as an index and shift the values
    error = read_error(write(tmp_path, "shift.csv", "a;b;c\n1;2;3;4\n5;6;7\n"))
    assert "line 2 (4 fields)" in str(error)


def test_reject_keeps_bad_lines_with_number_text_and_reason(tmp_path):
    content = "id;name;city\n1;Ann;Paris\n2;Bob;Lyon;extra\n3;Cy\n4;Di;Metz\n"
    frame, info = read_table(write(tmp_path, "ragged.csv", content), on_bad_lines="reject")
    assert frame["id"].tolist() == [1, 3, 4]
    assert frame["city"].isna().tolist() == [False, True, False]
    rejected = info.rejected_lines
    assert list(rejected.columns) == ["line", "text", "reason"]
    assert rejected["line"].tolist() == [3]
    assert rejected["text"].tolist() == ["2;Bob;Lyon;extra"]
    assert rejected["reason"].tolist() == ["4 fields, expected 3 as in the header"]
    assert ("1 line with fewer fields than the header (line 4): the missing values are "
            "left empty") in info.notes


def test_reject_with_blank_lines_quoted_breaks_and_trailing_separators(tmp_path):
    content = ('id;note;city\n1;"a\nb";Paris\n\n2;"c\nd";Lyon;x\n3;e;Nice;\n'
               '4;f;Metz\n5;g;Caen;;y\n')
    frame, info = read_table(write(tmp_path, "mixed.csv", content), on_bad_lines="reject")
    assert frame["id"].tolist() == [1, 3, 4]
    assert frame["note"].tolist() == ["a\nb", "e", "f"]
    assert frame["city"].tolist() == ["Paris", "Nice", "Metz"]
    assert info.rejected_lines["line"].tolist() == [5, 9]
    assert info.rejected_lines["text"].tolist() == ['2;"c\nd";Lyon;x', "5;g;Caen;;y"]
    assert "1 line ending with extra empty fields (trailing separators): ignored" in info.notes


def test_reject_when_the_first_data_line_is_too_long(tmp_path):
    frame, info = read_table(write(tmp_path, "first.csv", "a;b\n1;2;3\n4;5\n"),
                             on_bad_lines="reject")
    assert frame.to_dict("list") == {"a": [4], "b": [5]}
    assert info.rejected_lines["line"].tolist() == [2]


def test_header_only_file_gives_an_empty_frame(tmp_path):
    frame, info = read_table(write(tmp_path, "header.csv", "contact_id;email\n"))
    assert list(frame.columns) == ["contact_id", "email"]
    assert len(frame) == 0
    assert "no data rows (header only)" in info.notes


def test_unclosed_quote_is_located(tmp_path):
    error = read_error(write(tmp_path, "quote.csv", 'id;name\n1;Ann\n2;"Bob\n3;Cy\n'))
    assert str(error).startswith("quote.csv, line 3: a quoted field starts here")
    assert error.row == 3


# ----------------------------------------------------------- Excel and Parquet

def write_workbook(path, sheets):
    book = openpyxl.Workbook()
    book.remove(book.active)
    for title, rows in sheets.items():
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
    book.save(path)
    return path


CONTACT_ROWS = [["contact_id", "email", "postal_code"], [1, "a@example.fr", "01000"],
                [2, "b@example.fr", "75001"]]


def test_excel_single_sheet(tmp_path):
    path = write_workbook(tmp_path / "contacts.xlsx", {"Contacts": CONTACT_ROWS})
    frame, info = read_table(path)
    assert (info.format, info.sheet) == ("excel", "Contacts")
    assert frame["email"].tolist() == ["a@example.fr", "b@example.fr"]
    assert frame["postal_code"].tolist() == ["01000", "75001"]


def test_excel_several_sheets_need_a_name(tmp_path):
    path = write_workbook(tmp_path / "base.xlsx",
                          {"Contacts": CONTACT_ROWS, "Orders": [["order_id"], ["A1"]]})
    message = str(read_error(path))
    assert message.startswith("base.xlsx: the workbook has 2 sheets ('Contacts', 'Orders')")
    assert "sheet_name" in message
    frame, info = read_table(path, sheet_name="Orders")
    assert info.sheet == "Orders"
    assert frame["order_id"].tolist() == ["A1"]
    message = str(read_error(path, sheet_name="Order"))
    assert message.startswith(
        "base.xlsx: no sheet named 'Order'; the sheets are 'Contacts', 'Orders'")
    assert "Did you mean 'Orders'?" in message


def test_excel_header_problems(tmp_path):
    path = write_workbook(tmp_path / "nohead.xlsx", {"S": [[1, "a@example.fr"]]})
    assert str(read_error(path)).startswith("nohead.xlsx, sheet 'S', row 1: this looks like data")
    path = write_workbook(tmp_path / "dup.xlsx", {"S": [["a", "b", "a"], [1, 2, 3]]})
    assert "duplicate column names: 'a' (columns A and C)" in str(read_error(path))


def test_parquet_round_trip_and_magic_bytes(tmp_path):
    frame = pd.DataFrame({"contact_id": [1, 2], "email": ["a@example.fr", "b@example.fr"],
                          "signup": pd.to_datetime(["2024-03-15", "2024-03-16"])})
    frame.to_parquet(tmp_path / "contacts.parquet")
    result, info = read_table(tmp_path / "contacts.parquet")
    assert info.format == "parquet"
    pd.testing.assert_frame_equal(result, frame)
    (tmp_path / "contacts.data").write_bytes((tmp_path / "contacts.parquet").read_bytes())
    assert read_table(tmp_path / "contacts.data")[1].format == "parquet"


def test_corrupt_parquet(tmp_path):
    path = write(tmp_path, "broken.parquet", b"PAR1" + b"\x00" * 40)
    assert str(read_error(path)).startswith("broken.parquet: not a valid Parquet file")


def test_progress_bar_on_request(tmp_path, capsys):
    path = write(tmp_path, "small.csv", "a;b\n1;2\n")
    frame, _ = read_table(path, progress=True)
    assert frame["b"].tolist() == [2]
    assert "small.csv" in capsys.readouterr().err


def test_columns_mixing_numbers_and_text_are_read_as_text(tmp_path):
    # pandas parses big files by blocks: numbers in one, text in another give object
    lines = ["id;code"] + [f"{i};{i}" for i in range(300_000)] + ["300000;A12"]
    frame, info = read_table(write(tmp_path, "mixed.csv", "\n".join(lines) + "\n"))
    assert str(frame["code"].dtype) == "str"
    assert frame["code"].iloc[[0, -1]].tolist() == ["0", "A12"]
    assert "columns mixing numbers and text read as text: code" in info.notes


# -------------------------------------------------------------------- dates

def test_parse_datetimes_mixed_formats():
    values = pd.Series(["2024-03-15", "2024-03-15 10:22:01", "2024-03-15T10:22:01Z",
                        "2024-03-15T10:22:01+02:00", "15/03/2024", "15/03/2024 10:22",
                        "15-03-2024", "15.03.2024", "2024/03/15", None, ""], dtype="str")
    result, info = parse_datetimes(values)
    # Issue 10: offsets are converted to UTC, not dropped (10:22:01+02:00 is 08:22:01 UTC).
    expected = [pd.Timestamp(2024, 3, 15), pd.Timestamp(2024, 3, 15, 10, 22, 1),
                pd.Timestamp(2024, 3, 15, 10, 22, 1), pd.Timestamp(2024, 3, 15, 8, 22, 1),
                pd.Timestamp(2024, 3, 15), pd.Timestamp(2024, 3, 15, 10, 22),
                pd.Timestamp(2024, 3, 15), pd.Timestamp(2024, 3, 15), pd.Timestamp(2024, 3, 15)]
    assert result.iloc[:9].tolist() == expected
    assert result.iloc[9:].isna().all()
    assert result.dtype == np.dtype("datetime64[ns]")
    assert isinstance(info, DateParseInfo)
    assert info.dayfirst is True
    assert info.failures.empty
    assert dict(info.formats) == {"%Y-%m-%d": 1, "%Y-%m-%d %H:%M:%S": 3, "%Y/%m/%d": 1,
                                  "%d/%m/%Y": 1, "%d/%m/%Y %H:%M": 1, "%d-%m-%Y": 1,
                                  "%d.%m.%Y": 1}
    assert any("offsets converted to UTC in 2 values" in note for note in info.notes)


def test_parse_datetimes_keeps_index_and_name():
    values = pd.Series(["15/03/2024"], index=[7], name="signup_date")
    result, _ = parse_datetimes(values)
    assert result.index.tolist() == [7]
    assert result.name == "signup_date"


def test_month_first_detected_from_a_second_number_above_12():
    result, info = parse_datetimes(pd.Series(["03/15/2024", "04/01/2024", "12/31/2023"]))
    assert info.dayfirst is False
    assert result.tolist() == [pd.Timestamp(2024, 3, 15), pd.Timestamp(2024, 4, 1),
                               pd.Timestamp(2023, 12, 31)]
    assert dict(info.formats) == {"%m/%d/%Y": 3}


def test_day_first_is_the_default_without_evidence():
    result, info = parse_datetimes(pd.Series(["03/04/2024", "05/06/2024"]))
    assert info.dayfirst is True
    assert result.tolist() == [pd.Timestamp(2024, 4, 3), pd.Timestamp(2024, 6, 5)]
    assert any("day-first order assumed" in note for note in info.notes)


def test_explicit_dayfirst_false():
    result, info = parse_datetimes(pd.Series(["03/04/2024"]), dayfirst=False)
    assert result.tolist() == [pd.Timestamp(2024, 3, 4)]
    assert info.dayfirst is False


def test_explicit_dayfirst_reports_values_against_it():
    result, info = parse_datetimes(pd.Series(["01/02/2024", "02/13/2024"]), dayfirst=True)
    assert result.tolist() == [pd.Timestamp(2024, 2, 1), pd.NaT]
    assert info.failures["row"].tolist() == [1]
    assert info.failures["problem"].tolist() == [
        "month-first date (second number above 12) in a day-first column"]
    assert info.ambiguous is True


def test_ambiguous_day_month_order_reports_the_minority():
    values = pd.Series(["15/03/2024", "03/15/2024", "16/03/2024", "01/02/2024"])
    result, info = parse_datetimes(values, column="signup_date", path="/data/contacts.csv")
    assert info.ambiguous is True
    assert info.dayfirst is True
    assert result.tolist() == [pd.Timestamp(2024, 3, 15), pd.NaT, pd.Timestamp(2024, 3, 16),
                               pd.Timestamp(2024, 2, 1)]
    assert info.failures["row"].tolist() == [1]
    assert info.failures["value"].tolist() == ["03/15/2024"]
    assert "month-first date" in info.failures["problem"].iloc[0]
    assert any(note.startswith("contacts.csv, column signup_date: ambiguous day/month order")
               for note in info.notes)


def test_date_failures_give_positions_values_and_problems():
    values = pd.Series(["2024-03-15", "not a date", "31/02/2024", None, "15/03/2024",
                        "2024-13-01", "01/01/1500"])
    result, info = parse_datetimes(values)
    assert result.isna().tolist() == [False, True, True, True, False, True, True]
    failures = info.failures
    assert list(failures.columns) == ["row", "value", "problem"]
    assert failures["row"].tolist() == [1, 2, 5, 6]
    assert failures["value"].tolist() == ["not a date", "31/02/2024", "2024-13-01", "01/01/1500"]
    assert failures["problem"].tolist() == [
        "not a recognised date format",
        "impossible date or time (e.g. 31/02, month 13 or 25:00)",
        "impossible date or time (e.g. 31/02, month 13 or 25:00)",
        "year outside 1678-2261, the range of pandas timestamps"]


def test_excel_serial_numbers_and_datetime_input():
    result, info = parse_datetimes(pd.Series([45366, 45366.5, 12.0]))
    assert result.tolist()[:2] == [pd.Timestamp(2024, 3, 15), pd.Timestamp(2024, 3, 15, 12)]
    assert info.failures["row"].tolist() == [2]
    stamps = pd.Series(pd.to_datetime(["2024-03-15 10:00"])).astype("datetime64[ns]")
    same, _ = parse_datetimes(stamps)
    assert same is stamps
    aware = pd.Series(pd.to_datetime(["2024-03-15T10:00+02:00"]))
    naive, _ = parse_datetimes(aware)
    assert naive.tolist() == [pd.Timestamp(2024, 3, 15, 8)]  # issue 10: the UTC instant


def test_object_column_mixing_cells_of_several_types():
    values = pd.Series([datetime.datetime(2024, 3, 15, 9, 30), datetime.date(2024, 3, 16),
                        "17/03/2024", 45369, None, datetime.datetime(1500, 1, 1)], dtype=object)
    result, info = parse_datetimes(values)
    assert result.tolist()[:5] == [pd.Timestamp(2024, 3, 15, 9, 30), pd.Timestamp(2024, 3, 16),
                                   pd.Timestamp(2024, 3, 17), pd.Timestamp(2024, 3, 18), pd.NaT]
    assert dict(info.formats) == {"datetime": 2, "Excel serial number": 1, "%d/%m/%Y": 1}
    assert info.failures["row"].tolist() == [5]


# ------------------------------------------------------------------- numbers

def test_parse_numbers_decimal_comma_thousands_and_currency():
    values = pd.Series(["12,50", "1 234,50 €", "1.234,50", "(3,5)", "", None, "abc", "1.5"])
    numbers, failures = parse_numbers(values, column="amount")
    assert numbers.iloc[:4].tolist() == [12.5, 1234.5, 1234.5, -3.5]
    assert numbers.iloc[4:].isna().all()
    assert failures["row"].tolist() == [6, 7]
    assert failures["value"].tolist() == ["abc", "1.5"]
    assert failures["problem"].tolist() == ["not a number with decimal ','",
                                            "not a number with decimal ',' (it uses '.')"]


def test_parse_numbers_numeric_input_is_returned_as_float():
    numbers, failures = parse_numbers(pd.Series([1, None, 3], dtype="Int64"))
    assert numbers.dtype == np.float64
    assert numbers.iloc[[0, 2]].tolist() == [1.0, 3.0]
    assert failures.empty


def test_parse_numbers_decimal_point():
    numbers, failures = parse_numbers(pd.Series(["12.50", "1,234.50", "$3"]))
    assert numbers.tolist() == [12.5, 1234.5, 3.0]
    assert failures.empty


# -------------------------------------------------------------- atomic write

def test_atomic_write_replaces_the_file(tmp_path):
    target = tmp_path / "export.csv"
    target.write_text("old\n")
    with atomic_write(target) as handle:
        handle.write("email\na@example.fr\n")
    assert target.read_text() == "email\na@example.fr\n"
    assert [p.name for p in tmp_path.iterdir()] == ["export.csv"]


def test_atomic_write_failure_keeps_the_old_file_and_leaves_no_temp(tmp_path):
    target = tmp_path / "export.csv"
    target.write_text("previous content\n")
    with pytest.raises(RuntimeError, match="disk on fire"):
        with atomic_write(target) as handle:
            handle.write("half of the new ")
            raise RuntimeError("disk on fire")
    assert target.read_text() == "previous content\n"
    assert [p.name for p in tmp_path.iterdir()] == ["export.csv"]


def test_atomic_write_failure_on_a_new_file_creates_nothing(tmp_path):
    with pytest.raises(ValueError):
        with atomic_write(tmp_path / "new.csv") as handle:
            handle.write("x")
            raise ValueError
    assert list(tmp_path.iterdir()) == []


def test_atomic_write_bytes_keeps_permissions(tmp_path):
    target = tmp_path / "data.bin"
    target.write_bytes(b"old")
    target.chmod(0o640)
    atomic_write_bytes(target, b"\x00new")
    assert target.read_bytes() == b"\x00new"
    assert target.stat().st_mode & 0o777 == 0o640


def test_read_info_is_frozen():
    info = ReadInfo(path=None, format="dataframe")
    with pytest.raises(AttributeError):
        info.n_rows = 3  # type: ignore[misc]
