"""Cleaning in DuckDB SQL gives the pandas cleaning's tables and report, row for row: the
raw sample, the bundled sample, hand-made messy files and generated contact tables."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import segexplore as se
from segexplore.engines.duckdb_clean import clean_in_duckdb
from segexplore.engines.duckdb_clean_sql import ASCII_SPACE, ASCII_SPACE_CLASS
from segexplore.io.clean.contacts import EMAIL_PATTERN
from segexplore.io.clean.nested import flatten_nested
from segexplore.io.read import read_table
from segexplore.io.schema import map_columns

RAW = Path(__file__).parents[2] / "sample_data" / "raw"
NOW = pd.Timestamp("2026-11-24")
TABLES = ("contacts", "events", "orders")


def _plain(values) -> list:
    """Values as plain Python objects, every kind of missing as None (dtypes differ:
    pandas keeps categories and ``str``, DuckDB gives objects)."""
    out = []
    for value in pd.Series(values, dtype=object).tolist():
        if value is None or value is pd.NA or value is pd.NaT or (
                isinstance(value, float) and np.isnan(value)):
            out.append(None)
        elif isinstance(value, (np.datetime64, dt.datetime, pd.Timestamp)):
            out.append(pd.Timestamp(value))
        elif isinstance(value, np.generic):
            out.append(value.item())
        else:
            out.append(value)
    return out


def _assert_same_frame(expected: pd.DataFrame, got: pd.DataFrame, what: str) -> None:
    assert list(got.columns) == list(expected.columns), what
    assert len(got) == len(expected), what
    for column in expected.columns:
        want, have = _plain(expected[column]), _plain(got[column])
        if want != have:
            at = next(i for i, (a, b) in enumerate(zip(want, have, strict=True)) if a != b)
            raise AssertionError(f"{what}.{column} row {at}: pandas {want[at]!r}, "
                                 f"DuckDB {have[at]!r}")


def _raw_frame(source, table: str) -> tuple[pd.DataFrame, str | None]:
    """The table as read_base reads it before cleaning: canonical names, lists flattened."""
    frame, info = read_table(source)
    name = Path(source).name if isinstance(source, (str, Path)) else f"<{table} DataFrame>"
    renames, _ = map_columns(frame, table, None, source=name, notes=[])
    frame, _ = flatten_nested(frame.rename(columns=renames), file=name, table=table)
    return frame, info.decimal


def _clean_both(sources: dict, **options):
    """The pandas base and the DuckDB connection with its report, from the same inputs."""
    base = se.read_base(sources["contacts"], sources.get("events"), sources.get("orders"),
                        now=NOW, **options)
    connection = duckdb.connect()
    files, decimals = {}, {}
    for table, source in sources.items():
        frame, decimals[table] = _raw_frame(source, table)
        files[table] = (Path(source).name if isinstance(source, (str, Path))
                        else f"<{table} DataFrame>")
        connection.register("frame", frame)
        connection.execute(f"CREATE TABLE {table}_raw AS SELECT * FROM frame")
        connection.unregister("frame")
    first_row = 2 if isinstance(sources["contacts"], (str, Path)) else 0
    report = clean_in_duckdb(
        connection, contacts="contacts_raw",
        events="events_raw" if "events" in sources else None,
        orders="orders_raw" if "orders" in sources else None,
        files=files, first_row=first_row, now=NOW, decimal=decimals,
        separators=options.get("separators"))
    return base, connection, report


def _assert_identical(base: se.ContactBase, connection, report) -> None:
    """Tables, rejects, merges, steps, issues and accounting as the pandas engine's."""
    expected = base.report
    contacts = connection.execute("SELECT * FROM contacts ORDER BY position").df()
    assert contacts["position"].tolist() == list(range(len(contacts)))
    _assert_same_frame(base.contacts, contacts.drop(columns="position"), "contacts")
    for table in ("events", "orders"):
        if getattr(base, table) is not None and table in expected.inputs:
            got = connection.execute(f"SELECT * FROM {table}").df()
            _assert_same_frame(getattr(base, table), got, table)
    for table, rejects in expected.rejects.items():
        got = connection.execute(f"SELECT * FROM rejected_{table}").df()
        if not len(rejects):  # the table keeps the raw columns even when empty
            got = got[list(rejects.columns)]
        _assert_same_frame(rejects, got, f"rejected_{table}")
        _assert_same_frame(rejects, report.rejects[table], f"report.rejects[{table!r}]")
    _assert_same_frame(expected.merges, report.merges, "merges")
    steps = expected.steps[~expected.steps["step"].isin(["inactive flagged"])]
    _assert_same_frame(steps.reset_index(drop=True), report.steps, "steps")
    issues = expected.issues.assign(value=[None if v is None else str(v)
                                           for v in _plain(expected.issues["value"])])
    _assert_same_frame(issues, report.issues, "issues")
    pd.testing.assert_frame_equal(report.accounting(), expected.accounting())
    # Conservation, from the tables themselves: kept + merged + rejected = input.
    for table, n_input in report.inputs.items():
        kept = connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        rejected = connection.execute(f"SELECT count(*) FROM rejected_{table}").fetchone()[0]
        merged = (connection.execute("SELECT count(*) FROM merged_contacts").fetchone()[0]
                  if table == "contacts" else 0)
        raw = connection.execute(f"SELECT count(*) FROM {table}_raw").fetchone()[0]
        assert raw == n_input == kept + merged + rejected, table


# --- the samples --------------------------------------------------------------------

@pytest.fixture(scope="module")
def raw_sample():
    return _clean_both({t: RAW / f"{t}_raw.csv" for t in TABLES})


def test_raw_sample_is_cleaned_as_pandas_cleans_it(raw_sample):
    base, connection, report = raw_sample
    _assert_identical(base, connection, report)
    # The raw sample is messy: the comparison covers merges, rejects and issues.
    assert len(report.merges) > 100 and len(report.issues) > 40
    assert len(report.rejects["events"]) and len(report.rejects["orders"])
    assert "postal code zero-padded" in set(report.steps["step"])


def test_bundled_sample_read_as_duckdb_reads_it():
    """The Parquet sample through DuckDB's own reader: the same as the pandas cleaning."""
    folder = se.sample_path()
    connection = duckdb.connect()
    for table in TABLES:
        path = str(folder / f"{table}.parquet").replace("'", "''")
        connection.execute(f"CREATE VIEW {table}_raw AS SELECT * FROM read_parquet('{path}')")
    report = clean_in_duckdb(connection, events="events_raw", orders="orders_raw",
                             files={t: f"{t}.parquet" for t in TABLES}, now=NOW)
    base = se.read_base(folder / "contacts.parquet", folder / "events.parquet",
                        folder / "orders.parquet", now=NOW)
    _assert_identical(base, connection, report)


def test_tables_left_are_the_cleaned_ones_only(raw_sample):
    _, connection, _ = raw_sample
    names = {r[0] for r in connection.execute("SELECT table_name FROM "
                                              "information_schema.tables").fetchall()}
    assert not [n for n in names if n.startswith("se_")]
    assert {"contacts", "events", "orders", "rejected_contacts", "rejected_events",
            "rejected_orders", "merged_contacts", "clean_issues", "clean_steps"} <= names


# --- hand-made messy files ------------------------------------------------------------

MESSY_CONTACTS = """contact_id;email;postal_code;country;consent;signup_date;updated_at;interests;city
1; Jean.Dupont@Gmail.COM ;1000;FR;Oui;15/03/2024;2024-05-01;sport;Bourg
2;jean.dupont@gmail.com;01000;France;NON;2024-01-10;2024-06-01;running, sport;Bourg-en-Bresse
3;JEAN.DUPONT@GMAIL.COM;;fr; opt-in ;2024-01-10;;mode;
4;marie@@exemple.fr;2A004;FR;abonné;01/02/2023;;;Ajaccio
5;paul exemple@free.fr;20 000;FR;Désabonné;02/02/2023;;;Ajaccio
;claire@exemple.fr;75001.0;FR;peut-être;03/02/2023;;;Paris
;;1050;BE;given;04/02/2023;;;Ixelles
8;no-at-sign.fr;1050;Belgique;withdrawn;05/02/2023;;;Ixelles
8;other@exemple.be;1000;BE;pending;06/02/2023;;;Bruxelles
10;José.Martín@Exemple.ES;28013;ES;sí;07/02/2023;;;Madrid
11;josé.martín@exemple.es;28013;ES;Inscrit;01/01/2022;;;Madrid
12;\u00a0Anna@Exemple.de\u00a0;1234;DE;ja;31/12/2099;;;Berlin
13;anna@exemple.de;;DE;Nee;01/01/1890;;;Berlin
14;x@domaine;4000;;;;;;Liège
15;y@domaine.fr;400;;given;;;;
"""

MESSY_EVENTS = """contact_id,timestamp,event_type,amount
1,2024-06-01 10:00:00,Ouverture,
2,2024-06-01 10:05:00,CLICKED,
3,2024-06-02 11:00:00, Achat ,"12.50"
99,2024-06-02 11:00:00,open,
,2024-06-02 11:00:00,open,
8,,open,
8,not a date,open,
11,2030-01-01 00:00:00,visit,
12,2024-06-03 09:00:00,,
13,2024-06-03 09:00:00,purchase,-5
14,2024-06-03 09:00:00,purchase,abc
15,2024-06-03 09:00:00,Webinar,
"""

MESSY_ORDERS = """contact_id;timestamp;amount;items
1;2024-06-01 10:00;12,50;1
1;2024-06-01 10:00;12,50;1
2;2024-06-01 10:00;12,50;1
3;2024-06-02 10:00;-3,00;1
99;2024-06-02 10:00;3,00;1
11;2024-06-02 10:00;1 234,50;2
"""


@pytest.fixture(scope="module")
def messy(tmp_path_factory):
    folder = tmp_path_factory.mktemp("messy")
    paths = {}
    for table, text in zip(TABLES, (MESSY_CONTACTS, MESSY_EVENTS, MESSY_ORDERS), strict=True):
        paths[table] = folder / f"{table}.csv"
        paths[table].write_text(text, encoding="utf-8")
    return paths


def test_messy_files_are_cleaned_as_pandas_cleans_them(messy):
    base, connection, report = _clean_both(messy)
    _assert_identical(base, connection, report)
    reasons = set(report.rejects["contacts"]["reason"])
    assert {"no contact_id and no email", "contact_id is missing",
            "contact_id reused by a different email (first row kept)"} <= reasons
    assert len(report.merges) == 4  # Jean twice more, José once more, Anna once more
    events = set(report.rejects["events"]["reason"])
    assert len(events) >= 7
    assert "repeated orders kept" in set(report.steps["step"])


def test_merge_keeps_earliest_signup_latest_values_and_the_strongest_consent(messy):
    _, connection, _ = _clean_both(messy)
    jean = connection.execute("SELECT contact_id, postal_code, consent, signup_date, "
                              "interests, city FROM contacts WHERE email = "
                              "'jean.dupont@gmail.com'").fetchall()
    # Rows 2 and 3 share the earliest signup; row 2 comes first in the file and survives.
    # updated_at orders the values: row 2 (June) is the latest, row 3 (no date) after it.
    assert jean == [(2, "01000", "withdrawn", pd.Timestamp("2024-01-10").to_pydatetime(),
                     "mode|running|sport", "Bourg-en-Bresse")]


def test_french_postal_codes_are_padded_and_corsica_reported(messy):
    _, connection, report = _clean_both(messy)
    codes = dict(connection.execute("SELECT contact_id, postal_code FROM contacts").fetchall())
    assert codes[4] == "2A004" and codes[5] == "20000"
    problems = report.issues[report.issues["column"] == "postal_code"]
    assert "2A004" in set(problems["value"])


def test_events_keyed_by_email(messy, tmp_path):
    events = tmp_path / "events.csv"
    events.write_text("email,timestamp,event_type\n JEAN.dupont@gmail.com,2024-06-01,open\n"
                      "nobody@x.fr,2024-06-01,open\n,2024-06-01,open\n"
                      "josé.martín@exemple.es,2024-06-01,click\n", encoding="utf-8")
    base, connection, report = _clean_both({"contacts": messy["contacts"], "events": events})
    _assert_identical(base, connection, report)
    assert connection.execute("SELECT contact_id FROM events").fetchall() == [(2,), (11,)]


# --- the patterns mean the same in RE2 and in pandas ---------------------------------

TRICKY = ["a@b.co", "a.b@c.fr", "a..b@c.fr", ".a@c.fr", "a.@c.fr", "a@c", "a@-c.fr",
          "a@c-.fr", "a@c.f", "a@c.f1", "a@xn--bcher-kva.ch", "a+tag@c.fr", "a'b@c.fr",
          "a{b}@c.fr", "é@c.fr", "a@é.fr", "a@c.fr.", "a@@c.fr", "a b@c.fr", "a@c..fr",
          "a@" + "b" * 63 + ".fr", "a@" + "b" * 64 + ".fr", "\u00a0a@c.fr", "a\u2003@c.fr",
          "a\x0b@c.fr", "a\x1c@c.fr", "a@c.fr\n", "ß@c.de", "İ@c.tr", "a@c.ΑΣ", "", "  "]


def test_email_pattern_and_problems_agree_on_tricky_addresses():
    connection = duckdb.connect()
    connection.register("tricky", pd.DataFrame({"email": TRICKY}))
    connection.execute("CREATE TABLE contacts_raw AS SELECT row_number() OVER () AS "
                       "contact_id, email FROM tricky")
    report = clean_in_duckdb(connection, now=NOW, first_row=0)
    got = connection.execute("SELECT email, email_valid, email_problem FROM contacts ORDER BY "
                             "position").df()
    expected = se.read_base(pd.DataFrame({"contact_id": range(1, len(TRICKY) + 1),
                                          "email": TRICKY}), now=NOW).contacts
    assert _plain(got["email"]) == _plain(expected["email"])
    assert len(report.merges) == 1  # "\u00a0a@c.fr" and "a@c.fr\n" are one address
    assert _plain(got["email_problem"]) == _plain(expected["email_problem"])
    assert got["email_valid"].sum() > 5 and (~got["email_valid"]).sum() > 10
    assert report.accounting()["balanced"].all()


def test_ascii_whitespace_is_what_pandas_strips():
    stripped = [ch for ch in map(chr, range(1, 128))
                if pd.Series(["x" + ch]).astype("string").str.strip().iloc[0] == "x"]
    assert "".join(stripped) == ASCII_SPACE
    matched = duckdb.connect().execute(
        f"SELECT list_filter(range(1, 128), lambda i: regexp_matches(chr(CAST(i AS INTEGER)), "
        f"'[{ASCII_SPACE_CLASS}]'))").fetchone()[0]
    assert "".join(map(chr, matched)) == ASCII_SPACE
    assert duckdb.connect().execute("SELECT regexp_full_match(?, ?)",
                                    ["a@b.fr", EMAIL_PATTERN]).fetchone()[0]


# --- generated contact tables ---------------------------------------------------------

_LOCALS = ["jean", "Marie.Curie", "o'neil", "zoë", "a_b", "x"]
_DOMAINS = ["gmail.com", "Free.FR", "exemple", "bücher.de", "telenet.be"]
_SPACES = ["", " ", "\t", "\u00a0", "  "]
_email = st.one_of(
    st.none(), st.just(""), st.just("no-at"), st.just("a@@b.fr"),
    st.builds(lambda pre, local, domain, post, upper: pre + (
        local.upper() if upper else local) + "@" + domain + post,
        st.sampled_from(_SPACES), st.sampled_from(_LOCALS), st.sampled_from(_DOMAINS),
        st.sampled_from(_SPACES), st.booleans()))
_row = st.fixed_dictionaries({
    "contact_id": st.one_of(st.none(), st.integers(1, 12)),
    "email": _email,
    "postal_code": st.sampled_from([None, "1000", "01000", "75001", "2A004", "1050", " 4000 ",
                                    "20 000", "abc", "123456", "٣٤٥٦٧"]),
    "country": st.sampled_from([None, "FR", "france", " BE", "Belgique", "ES", "de", "ß"]),
    "consent": st.sampled_from([None, "Oui", "non", "opt-in", "ABONNÉ", "désabonné",
                                "pending", "maybe", " Given "]),
    "signup_date": st.sampled_from([None, "2024-01-10", "10/01/2024", "2023-05-05",
                                    "31/12/2099", "garbage"]),
    "interests": st.sampled_from([None, "sport", "sport;mode", " mode ; sport ", "", "b;a"]),
    "city": st.sampled_from([None, "Paris", "Liège", "Ajaccio"]),
})


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(rows=st.lists(_row, min_size=1, max_size=25), with_country=st.booleans())
def test_generated_contact_tables_are_cleaned_as_pandas_cleans_them(rows, with_country):
    frame = pd.DataFrame(rows)
    frame["contact_id"] = frame["contact_id"].astype("Float64").astype("float64")
    if not with_country:
        frame = frame.drop(columns="country")
    base, connection, report = _clean_both({"contacts": frame})
    _assert_identical(base, connection, report)
