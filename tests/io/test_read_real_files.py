"""Reading the files analysts really have (issue 10, "Silent miscounts").

Fixtures: ``tests/io/fixtures/real/`` holds small files written by hand in the layout of
real exports (CDNOW_master.txt: whitespace-separated, no header; a French ESP export
with ``N° commande`` and a repeated order). Other fixtures are bytes written by the
tests themselves. Expected values are computed by hand or with plain Python, never by
the library under test.
"""

from __future__ import annotations

import codecs
import random
import tempfile
from pathlib import Path

import pandas as pd
import pytest

import segexplore as se
from segexplore.errors import FileFormatError, SchemaError
from segexplore.io.read import read_table
from segexplore.io.schema import map_columns

REAL = Path(__file__).parent / "fixtures" / "real"
CDNOW = REAL / "CDNOW_master.txt"
CDNOW_NAMES = ["customer_id", "date", "number_of_cds", "dollar_value"]
NOW = "2027-01-01"


def write(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    return path


def cdnow_lines() -> list[list[str]]:
    """The fixture's fields, split by plain Python: the independent expectation."""
    return [line.split() for line in CDNOW.read_text(encoding="ascii").splitlines()]


# ------------------------------------------------------------ whitespace, no header

def test_cdnow_whitespace_file_is_sniffed_and_needs_names():
    with pytest.raises(FileFormatError) as caught:
        read_table(CDNOW)
    message = str(caught.value)
    assert message.startswith("CDNOW_master.txt, line 1: this looks like data")
    assert "names=" in message
    frame, info = read_table(CDNOW, names=CDNOW_NAMES)
    lines = cdnow_lines()
    assert list(frame.columns) == CDNOW_NAMES
    assert len(frame) == len(lines) == 20
    assert info.sep == r"\s+"
    assert "separator whitespace (runs of spaces or tabs) detected" in info.notes
    assert frame["customer_id"].tolist() == [fields[0] for fields in lines]  # "00001" kept
    assert frame["dollar_value"].tolist() == [float(fields[3]) for fields in lines]
    assert frame["number_of_cds"].tolist() == [int(fields[2]) for fields in lines]
    assert info.header is False


def test_explicit_whitespace_separator_and_a_bad_one():
    frame, info = read_table(CDNOW, sep=r"\s+", names=CDNOW_NAMES)
    assert len(frame) == 20 and info.sep == r"\s+"
    with pytest.raises(FileFormatError, match=r"^CDNOW_master.txt: sep must be one character"):
        read_table(CDNOW, sep="::")


def test_cdnow_orders_are_all_kept_with_the_column_mapping():
    lines = cdnow_lines()
    ids = sorted({fields[0] for fields in lines})
    contacts = pd.DataFrame({"contact_id": [int(i) for i in ids],
                             "email": [f"c{i}@example.com" for i in ids]})
    base = se.read_base(contacts, orders=CDNOW, names={"orders": CDNOW_NAMES},
                        columns={"orders": {"dollar_value": "amount",
                                            "number_of_cds": "items"}}, now=NOW)
    assert base.report.outputs["orders"] == len(lines)
    assert len(base.report.rejects["orders"]) == 0
    assert base.orders["amount"].sum() == pytest.approx(sum(float(f[3]) for f in lines))
    assert base.orders["items"].sum() == sum(int(f[2]) for f in lines)
    assert base.orders["timestamp"].min() == pd.Timestamp("1997-01-01")
    assert base.orders["timestamp"].max() == pd.Timestamp("1998-05-28")
    # Line numbers of a header-less file: data starts on line 1.
    assert base.report.lineage("orders")["row"].tolist()[:2] == [1, 2]


def test_a_flat_column_mapping_goes_to_the_table_that_has_the_columns():
    """The issue's own call: ``columns={"dollar_value": "amount", ...}`` without naming
    the orders table. Each table takes the names it has."""
    lines = cdnow_lines()
    ids = sorted({fields[0] for fields in lines})
    contacts = pd.DataFrame({"contact_id": [int(i) for i in ids],
                             "email": [f"c{i}@example.com" for i in ids]})
    base = se.read_base(contacts, orders=CDNOW, names={"orders": CDNOW_NAMES},
                        columns={"dollar_value": "amount", "number_of_cds": "items"}, now=NOW)
    assert base.report.outputs["orders"] == len(lines)
    assert base.orders["amount"].sum() == pytest.approx(sum(float(f[3]) for f in lines))
    assert base.orders["items"].sum() == sum(int(f[2]) for f in lines)


def test_a_flat_mapping_naming_a_column_of_no_table_is_an_error():
    contacts = pd.DataFrame({"contact_id": [1], "email": ["a@x.fr"]})
    orders = pd.DataFrame({"contact_id": [1], "timestamp": ["2026-01-01"], "dollar_value": [1.0]})
    with pytest.raises(SchemaError, match=r"'dollar_valeu' \(did you mean 'dollar_value'\?\), "
                                          r"which is a column of no table"):
        se.read_base(contacts, orders=orders, columns={"dollar_valeu": "amount"}, now=NOW)


def test_a_one_column_file_with_spaces_in_values_is_not_split(tmp_path):
    path = write(tmp_path, "names.csv", b"Nom complet\nJean Dupont\nMarie Curie\n")
    frame, info = read_table(path)
    assert list(frame.columns) == ["Nom complet"]
    assert frame["Nom complet"].tolist() == ["Jean Dupont", "Marie Curie"]


# ------------------------------------------------------------ French order headers

FRENCH_ORDER_HEADERS = ["N° commande", "Numéro de commande", "No commande", "N° de commande",
                        "Référence commande", "Réf. commande", "Nº commande", "N°commande"]


@pytest.mark.parametrize("header", FRENCH_ORDER_HEADERS)
def test_french_order_id_headers_are_recognised(header):
    frame = pd.DataFrame(columns=[header, "E-mail", "Date de commande", "Montant TTC"])
    renames, problems = map_columns(frame, "orders")
    assert renames == {header: "order_id", "E-mail": "email", "Date de commande": "timestamp",
                       "Montant TTC": "amount"}
    assert problems == []


@pytest.mark.parametrize(("header", "canonical"), [
    ("Adresse e-mail", "email"), ("E mail", "email"), ("Date de naissance", "birth_date"),
    ("Date d'inscription", "signup_date"), ("CODE-POSTAL", "postal_code"),
    ("Centres d'intérêt", "interests"), ("Numéro client", "contact_id"),
])
def test_every_alias_matches_without_accents_punctuation_or_little_words(header, canonical):
    frame = pd.DataFrame(columns=["x", header])
    renames, _ = map_columns(frame, "contacts")
    assert renames.get(header) == canonical


@pytest.mark.parametrize("header", FRENCH_ORDER_HEADERS[:6])
def test_a_repeated_french_order_is_counted_once(tmp_path, header):
    text = (REAL / "commandes_esp.csv").read_text(encoding="utf-8-sig")
    path = tmp_path / "commandes.csv"
    path.write_text(text.replace("N° commande", header, 1), encoding="utf-8-sig")
    base = se.read_base(REAL / "contacts_esp.csv", orders=path, now=NOW)
    claire = base.contacts.loc[base.contacts["email"] == "claire.martin@example.fr",
                               "contact_id"].item()
    hers = base.orders[base.orders["contact_id"] == claire]
    assert len(hers) == 2  # C-1001 once, C-1002
    assert hers["amount"].sum() == pytest.approx(1234.50 + 49.90)  # 1,284.40, not 2,518.90
    rejects = base.report.rejects["orders"]
    assert rejects["reason"].tolist() == ["order_id repeats an earlier row"]
    assert rejects["row"].tolist() == [3]


# ----------------------------------------------------------- two columns, one role

def test_email_and_e_mail_with_the_same_values_is_reported(tmp_path):
    frame = pd.DataFrame({"E-mail": ["a@x.fr", "b@x.fr"], "email": ["a@x.fr", "b@x.fr"]})
    notes: list[str] = []
    renames, problems = map_columns(frame, "contacts", source="c.csv", notes=notes)
    assert renames == {"email": "email"}
    assert problems == []
    assert notes == ["c.csv: columns 'email' and 'E-mail' both mean email and hold the same "
                     "values: 'email' used, 'E-mail' kept as it is"]


def test_email_and_e_mail_with_different_values_is_an_error_saying_how_to_choose():
    frame = pd.DataFrame({"E-mail": ["a@x.fr", "b@x.fr"], "email": ["a@x.fr", "c@x.fr"]})
    _, problems = map_columns(frame, "contacts", source="c.csv")
    assert len(problems) == 1
    assert problems[0].startswith("c.csv: columns 'email' and 'E-mail' both mean email but "
                                  "differ on 1 row")
    assert "columns={'E-mail': 'email'}" in problems[0]
    with pytest.raises(SchemaError, match="both mean email"):
        se.read_base(frame)
    chosen = se.read_base(frame, columns={"E-mail": "email"})
    assert chosen.contacts["email"].tolist() == ["a@x.fr", "b@x.fr"]
    assert chosen.contacts["email_unused"].tolist() == ["a@x.fr", "c@x.fr"]


def test_duplicate_role_note_reaches_the_report(tmp_path):
    path = write(tmp_path, "c.csv", b"E-mail,email,ville\na@x.fr,a@x.fr,Paris\n")
    base = se.read_base(path)
    assert any("both mean email" in note for note in base.report.reads["contacts"].notes)


# ------------------------------------------------------------------ encodings

def test_one_bad_byte_at_the_end_keeps_utf8_for_the_whole_file(tmp_path):
    lines = ["id;first_name;city"] + [f"{i};Élodie;Orléans" for i in range(1, 5001)]
    body = ("\n".join(lines) + "\n").encode("utf-8") + "5001;Gaël;Évry\n".encode("cp1252")
    path = write(tmp_path, "contacts.csv", body)
    frame, info = read_table(path)
    assert info.encoding == "utf-8"
    assert set(frame["first_name"].iloc[:-1]) == {"Élodie"}  # not "Ã‰lodie"
    assert frame["first_name"].iloc[-1] == "Gaël"  # the bad line decoded as cp1252
    assert frame["city"].iloc[-1] == "Évry"
    issues = info.issues
    assert issues["line"].tolist() == [5002]
    assert issues["column"].tolist() == ["first_name, city"]  # two bad fields: the line
    assert issues["value"].tolist() == ["5001;Gaël;Évry"]
    assert issues["problem"].str.contains("not valid UTF-8").all()
    assert issues["action"].tolist() == ["decoded as cp1252 for this line only"]
    assert any("1 line not valid UTF-8 (line 5002)" in note for note in info.notes)


def test_bad_utf8_lines_inside_the_sample_are_reported_too(tmp_path):
    body = ("email;first_name\na@x.fr;Hélène\n".encode() + "b@x.fr;Zoé\n".encode("cp1252")
            + "c@x.fr;Noël\n".encode())
    path = write(tmp_path, "c.csv", body)
    base = se.read_base(path)
    assert base.contacts["first_name"].tolist() == ["Hélène", "Zoé", "Noël"]
    issues = base.report.issues
    assert issues[["file", "row", "column"]].values.tolist() == [["c.csv", 3, "first_name"]]


def test_a_real_cp1252_file_still_falls_back_for_the_whole_file(tmp_path):
    lines = ["id;city"] + [f"{i};Orléans" for i in range(3000)]
    path = write(tmp_path, "w.csv", ("\n".join(lines) + "\n").encode("cp1252"))
    frame, info = read_table(path)
    assert info.encoding == "cp1252"
    assert set(frame["city"]) == {"Orléans"}
    assert info.issues.empty


def test_a_cp1252_file_with_an_ascii_head_falls_back_without_an_issue_per_line(tmp_path):
    ascii_head = [f"{i};Paris" for i in range(5000)]  # 64 KiB of plain ASCII first
    accented = [f"{i};Orléans" for i in range(5000, 25_000)]
    content = "\n".join(["id;city", *ascii_head, *accented]) + "\n"
    frame, info = read_table(write(tmp_path, "w.csv", content.encode("cp1252")))
    assert info.encoding == "cp1252"
    assert frame["city"].tolist() == ["Paris"] * 5000 + ["Orléans"] * 20_000
    assert info.issues.empty
    assert "encoding cp1252 detected (not valid UTF-8 at line 5002)" in info.notes


def test_several_bad_lines_far_apart_are_each_reported(tmp_path):
    lines = ["id;name"] + [f"{i};Zoé" for i in range(1, 30_001)]
    body = ("\n".join(lines) + "\n").encode()
    for line_number in (20_001, 25_001, 30_001):  # cp1252 "Zoé" on these lines
        body = body.replace(f"\n{line_number - 1};Zoé\n".encode(),
                            f"\n{line_number - 1};Zoé\n".encode("cp1252"))
    frame, info = read_table(write(tmp_path, "z.csv", body))
    assert info.encoding == "utf-8"
    assert set(frame["name"]) == {"Zoé"}
    assert info.issues["line"].tolist() == [20_001, 25_001, 30_001]
    assert info.issues["column"].tolist() == ["name"] * 3


@pytest.mark.parametrize(("encoding", "bom"), [
    ("utf-32", True), ("utf-32-le", False), ("utf-32-be", False), ("utf-16-le", False),
    ("utf-16-be", False)])
def test_utf32_and_bomless_utf16_are_detected(tmp_path, encoding, bom):
    text = "email\tcity\na@example.fr\tÉvry\nb@example.fr\tSète\n"
    data = text.encode(encoding)
    if encoding == "utf-32":
        assert data.startswith(codecs.BOM_UTF32_LE)  # the codec writes the BOM
    frame, info = read_table(write(tmp_path, "u.txt", data))
    assert frame["city"].tolist() == ["Évry", "Sète"]
    assert list(frame.columns) == ["email", "city"]
    assert info.encoding == encoding


@pytest.mark.parametrize("size", [16, 100, 5000, 100_000])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_binary_is_a_short_clear_error(tmp_path, size, seed):
    path = write(tmp_path, "contacts.csv", random.Random(seed).randbytes(size))
    with pytest.raises(FileFormatError) as caught:
        se.read_base(path)
    message = str(caught.value)
    assert message.startswith("contacts.csv: binary content, not a CSV file")
    assert len(message) < 200


def test_fuzzed_tiny_files_read_or_fail_clearly(tmp_path):
    """Found by fuzzing: a lone cp1252 byte, a bare carriage return in a bad line."""
    frame, info = read_table(write(tmp_path, "one.csv", b"\xc9"))
    assert list(frame.columns) == ["É"] and info.encoding == "cp1252"
    body = b"id;name\n" + "1;Zoé\n".encode() * 3 + b"2;Ga\xebl\rx;y\n"
    frame, info = read_table(write(tmp_path, "cr.csv", body))
    assert info.issues["line"].tolist() == [5]
    assert info.issues["column"].isna().all()  # the line cannot be split: no column named


# ------------------------------------------------------------------ short rows

def test_rows_with_too_few_fields_are_reported_one_issue_per_row(tmp_path):
    content = b"id,email,city,country\n1,a@x.fr,Paris,FR\n2,b@x.fr\n3,c@x.fr,Lyon\n4,d@x.fr,Nice,FR\n"
    frame, info = read_table(write(tmp_path, "short.csv", content))
    assert frame["id"].tolist() == [1, 2, 3, 4]  # kept
    assert frame["city"].isna().tolist() == [False, True, False, False]
    issues = info.issues
    assert issues["line"].tolist() == [3, 4]
    assert issues["column"].tolist() == ["city, country", "country"]
    assert issues["problem"].tolist() == ["2 fields, expected 4 as in the header",
                                          "3 fields, expected 4 as in the header"]
    assert set(issues["action"]) == {"kept, missing values left empty"}
    base = se.read_base(write(tmp_path, "short2.csv", content))
    reported = base.report.issues
    assert reported["row"].tolist() == [3, 4]
    assert reported["file"].tolist() == ["short2.csv", "short2.csv"]


def test_short_rows_after_the_sample_and_with_quotes_are_found(tmp_path):
    lines = ["id;note;city"] + [f'{i};"a;b";Paris' for i in range(1, 4000)]
    lines += ['4000;"x\ny"', "4001;z;Nice", '4002;"only;one"']
    path = write(tmp_path, "q.csv", ("\n".join(lines) + "\n").encode())
    frame, info = read_table(path)
    assert len(frame) == 4002
    assert info.issues["line"].tolist() == [4001, 4004]  # the quoted break counts a line
    assert frame["note"].iloc[-1] == "only;one"


def test_a_stray_quote_inside_a_value_does_not_hide_a_short_row(tmp_path):
    content = b'id;name;city\n1;TV 55" 4K;Paris\n2;Radio\n3;Hi-fi;Lyon\n'
    frame, info = read_table(write(tmp_path, "stray.csv", content))
    assert frame["name"].tolist() == ['TV 55" 4K', "Radio", "Hi-fi"]
    assert info.issues["line"].tolist() == [3]
    assert info.issues["column"].tolist() == ["city"]


def test_an_empty_last_field_is_not_a_short_row(tmp_path):
    frame, info = read_table(write(tmp_path, "e.csv", b"id,city\n1,\n2,Paris\n"))
    assert frame["city"].isna().tolist() == [True, False]
    assert info.issues.empty


# ------------------------------------------------------------------ speed

def test_a_late_bad_byte_never_rereads_the_file_as_cp1252(tmp_path, monkeypatch):
    """The old path failed at the last line, then re-read the whole file as cp1252 (every
    accent garbled); now pandas reads it as UTF-8, the bad line repaired in a copy."""
    good = "".join(f"{i};Élodie;Orléans;{i % 97}\n" for i in range(200_000))
    dirty = write(tmp_path, "dirty.csv", ("id;name;city;n\n" + good).encode()
                  + "200000;Gaël;Évry;1\n".encode("cp1252"))
    calls = []
    real_read_csv = pd.read_csv

    def counting(*args, **kwargs):
        calls.append(kwargs.get("encoding"))
        return real_read_csv(*args, **kwargs)

    monkeypatch.setattr(pd, "read_csv", counting)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    frame, info = read_table(dirty)
    assert set(calls) == {"utf-8"} and len(calls) <= 2  # the strict try, then the copy
    assert len(frame) == 200_001 and frame["name"].iloc[0] == "Élodie"
    assert frame["name"].iloc[-1] == "Gaël"
    assert info.issues["line"].tolist() == [200_002]
    assert list(scratch.iterdir()) == []  # the repaired copy is removed
