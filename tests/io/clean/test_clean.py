"""Cleaning against hand-computed expectations: duplicates, consent merge, conservation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import segexplore as se
from segexplore.io.clean.contacts import EMAIL_PATTERN, normalise_emails

NOW = pd.Timestamp("2026-11-01")


@pytest.fixture
def raw_contacts() -> pd.DataFrame:
    return pd.DataFrame({
        "contact_id": [1, 2, 3, 4, 5, 6, 3],
        "email": [" Jean.Dupont@Gmail.com ", "jean.dupont@gmail.com", "marie@example.fr",
                  "bad-email", "JEAN.DUPONT@gmail.com", None, "other@example.fr"],
        "city": ["Lyon", "Paris", "Bourg-en-Bresse", "Lille", None, "Gand", "Nice"],
        "postal_code": ["69001", "75001", "1000", "59000", "69001", "9000", "06000"],
        "country": ["FR", "France", "fr", "FR", "FR", "Belgique", "FR"],
        "signup_date": ["2024-01-10", "01/05/2024", "2024-02-01", "2024-03-01", "2023-12-01",
                        "2024-04-01", "2024-06-01"],
        "consent": ["given", "withdrawn", "oui", "pending", "yes", "peut-être", "given"],
        "interests": ["sport|outdoor", "running", None, "beauty", "kids|sport", None, "home"],
    })


@pytest.fixture
def raw_events() -> pd.DataFrame:
    return pd.DataFrame({
        "customer_id": [1, 2, 5, 3, 99, 3, 4],
        "ts": ["2026-10-01 10:00", "2026-10-02 11:00", "2026-10-03 12:00", "not a date",
               "2026-10-04", "2027-01-01", "2026-09-30"],
        "type": ["open", "Clicked", "page_view", "open", "open", "open", "add to cart"],
    })


@pytest.fixture
def raw_orders() -> pd.DataFrame:
    return pd.DataFrame({
        "order_id": ["A1", "A2", "A3", "A2", "A1"],
        "client_id": [2, 3, 4, 3, 4],
        "order_date": ["2026-10-05", "2026-10-06", "2026-10-07", "2026-10-08", "2026-10-09"],
        "total": [49.9, -10.0, 20.0, 30.0, 15.0],
    })


@pytest.fixture
def base(raw_contacts, raw_events, raw_orders) -> se.ContactBase:
    return se.read_base(raw_contacts, raw_events, raw_orders, now=NOW)


def test_emails_are_trimmed_lowercased_and_original_kept(base):
    contacts = base.contacts.set_index("contact_id")
    assert contacts.loc[5, "email"] == "jean.dupont@gmail.com"
    assert contacts.loc[5, "email_original"] == "JEAN.DUPONT@gmail.com"
    assert contacts.loc[3, "email"] == "marie@example.fr"


def test_duplicates_merge_into_earliest_signup_with_documented_policy(base):
    contacts = base.contacts.set_index("contact_id")
    # Rows with ids 1, 2 and 5 share an email; id 5 signed up first (2023-12-01).
    assert sorted(contacts.index) == [3, 4, 5, 6]
    jean = contacts.loc[5]
    assert jean["signup_date"] == pd.Timestamp("2023-12-01")
    # Latest non-missing city in file order: row of id 5 has none, id 2 says Paris.
    assert jean["city"] == "Paris"
    assert jean["interests"] == "kids|outdoor|running|sport"
    # One copy withdrew consent: the merge never turns it back into consent.
    assert jean["consent"] == "withdrawn"
    merges = base.report.merges.sort_values("contact_id")
    assert merges["contact_id"].tolist() == [1, 2]
    assert merges["merged_into"].tolist() == [5, 5]
    assert merges["row"].tolist() == [0, 1]


def test_withdrawn_consent_wins_whatever_the_order():
    frame = pd.DataFrame({"contact_id": [1, 2], "email": ["a@x.fr", "A@X.FR"],
                          "consent": ["withdrawn", "given"],
                          "consent_date": ["2022-01-01", "2025-01-01"]})
    contacts = se.read_base(frame, now=NOW).contacts
    assert contacts["consent"].tolist() == ["withdrawn"]
    assert contacts["consent_date"].tolist() == [pd.Timestamp("2022-01-01")]


def test_reused_contact_id_is_rejected_with_reason(base):
    rejects = base.report.rejects["contacts"]
    assert rejects["row"].tolist() == [6]
    assert rejects["reason"].tolist() == ["contact_id reused by a different email (first row kept)"]
    assert rejects["email"].tolist() == ["other@example.fr"]


def test_postal_codes_get_their_leading_zero_back_only_where_the_country_says_so(base):
    contacts = base.contacts.set_index("contact_id")
    assert contacts.loc[3, "postal_code"] == "01000"   # France: 5 digits
    assert contacts.loc[6, "postal_code"] == "9000"    # Belgium: 4 digits
    assert contacts.loc[6, "country"] == "BE"


def test_invalid_and_missing_emails_are_flagged_not_dropped(base):
    contacts = base.contacts.set_index("contact_id")
    assert not contacts.loc[4, "email_valid"]
    assert contacts.loc[4, "email_problem"] == "no @"
    assert not contacts.loc[6, "email_valid"]
    assert contacts.loc[6, "email_problem"] == "missing"
    assert contacts.loc[3, "email_valid"]


def test_unrecognised_consent_is_reported_and_set_unknown(base):
    contacts = base.contacts.set_index("contact_id")
    assert contacts.loc[6, "consent"] == "unknown"
    assert contacts.loc[3, "consent"] == "given"
    issues = base.report.issues
    row = issues[(issues["column"] == "consent")]
    assert row["value"].tolist() == ["peut-être"]
    assert row["row"].tolist() == [5]


def test_events_move_to_survivor_and_bad_rows_are_rejected_with_reasons(base):
    events = base.events
    # ids 1, 2 and 5 are now contact 5.
    assert events["contact_id"].tolist() == [5, 5, 5, 4]
    assert events["event_type"].astype(str).tolist() == ["open", "click", "visit", "add_to_cart"]
    rejects = base.report.rejects["events"].set_index("row")["reason"]
    assert rejects.loc[3].startswith("timestamp is not a date")
    assert rejects.loc[4] == "unknown contact_id (not in contacts)"
    assert rejects.loc[5].startswith("timestamp in the future")
    assert len(rejects) == 3


def test_orders_negative_amount_and_repeated_id_rejected(base):
    # The first A2 is rejected for its amount, so the second A2 is no repeat.
    assert base.orders["order_id"].tolist() == ["A1", "A3", "A2"]
    assert base.orders["contact_id"].tolist() == [5, 4, 3]
    rejects = base.report.rejects["orders"].set_index("row")["reason"]
    assert rejects.to_dict() == {1: "negative amount", 4: "order_id repeats an earlier row"}


def test_every_input_row_is_accounted_for(base):
    acc = base.report.accounting().set_index("table")
    assert acc.loc["contacts", ["input", "kept", "merged", "rejected"]].tolist() == [7, 4, 2, 1]
    assert acc.loc["events", ["input", "kept", "merged", "rejected"]].tolist() == [7, 4, 0, 3]
    assert acc.loc["orders", ["input", "kept", "merged", "rejected"]].tolist() == [5, 3, 0, 2]
    assert acc["balanced"].all()


def test_inputs_are_not_mutated(raw_contacts, raw_events, raw_orders):
    before = [f.copy() for f in (raw_contacts, raw_events, raw_orders)]
    se.read_base(raw_contacts, raw_events, raw_orders, now=NOW)
    for original, after in zip(before, (raw_contacts, raw_events, raw_orders)):
        pd.testing.assert_frame_equal(original, after)


def test_as_of_defaults_to_latest_activity(base):
    # The latest kept row: the 2026-10-09 order is a rejected repeat.
    assert base.as_of == pd.Timestamp("2026-10-08")


def test_missing_required_columns_of_every_table_in_one_error(raw_contacts):
    events = pd.DataFrame({"contact_id": [1], "when": ["2026-01-01"], "type": ["open"]})
    orders = pd.DataFrame({"contact_id": [1], "date": ["2026-01-01"], "totl": [3.0]})
    with pytest.raises(se.SchemaError) as info:
        se.read_base(raw_contacts, events, orders, now=NOW)
    message = str(info.value)
    assert "'timestamp' is missing" in message and "'when'" in message
    assert "'amount' is missing" in message and "closest is 'totl'" in message


def test_column_mapping_fixes_unknown_names(raw_contacts):
    events = pd.DataFrame({"contact_id": [3], "when": ["2026-01-01"], "type": ["open"]})
    base = se.read_base(raw_contacts, events, columns={"events": {"when": "timestamp"}},
                        now=NOW)
    assert base.events["timestamp"].tolist() == [pd.Timestamp("2026-01-01")]


def test_strict_mode_raises_with_every_failure_case(raw_contacts, raw_events):
    with pytest.raises(se.ValidationError) as info:
        se.read_base(raw_contacts, raw_events, now=NOW, strict=True)
    cases = info.value.failure_cases
    assert {"contacts", "events"} <= set(cases["table"])
    assert len(cases) >= 6


@pytest.mark.parametrize("email, valid", [
    ("jean.dupont@gmail.com", True), ("a.b-c+tag@sub.example.co.uk", True),
    ("hélène@orange.fr", True), ("jean.dupont@", False), ("jean dupont@gmail.com", False),
    ("no-email", False), ("a@b", False), ("a..b@gmail.com", False), (".a@gmail.com", False),
    ("a@-gmail.com", False), ("a@gmail.c", False), ("a@@gmail.com", False),
])
def test_email_syntax(email, valid):
    normalised = normalise_emails(pd.Series([email]))
    assert bool(normalised.str.fullmatch(EMAIL_PATTERN).fillna(False).iloc[0]) is valid


def test_french_csv_end_to_end(tmp_path):
    contacts = tmp_path / "contacts.csv"
    contacts.write_bytes(
        "Identifiant;E-mail;Prénom;Ville;Code postal;Pays;Date d'inscription;Consentement\n"
        "10;Hélène.Martin@Orange.fr;Hélène;Bourg-en-Bresse;1000;France;15/03/2024;oui\n"
        "11;loic@free.fr;Loïc;Île-de-France;75001;France;02/04/2024;non\n".encode("cp1252"))
    orders = tmp_path / "orders.csv"
    orders.write_bytes(
        "numero_commande;id_client;date_commande;montant\n"
        "C1;10;25/10/2026;12,50\n"
        "C2;11;26/10/2026;1 234,75\n".encode("cp1252"))
    base = se.read_base(contacts, orders=orders, now=NOW)
    c = base.contacts.set_index("contact_id")
    assert c.loc[10, "email"] == "hélène.martin@orange.fr"
    assert c.loc[10, "first_name"] == "Hélène"
    assert c.loc[10, "postal_code"] == "01000"
    assert c.loc[10, "signup_date"] == pd.Timestamp("2024-03-15")
    assert c.loc[11, "consent"] == "withdrawn"
    assert base.orders["amount"].tolist() == [12.5, 1234.75]
    assert base.orders["timestamp"].tolist() == [pd.Timestamp("2026-10-25"),
                                                  pd.Timestamp("2026-10-26")]
    assert base.report.reads["contacts"].encoding == "cp1252"
    assert base.report.reads["contacts"].sep == ";"


def test_low_cardinality_text_becomes_category(base):
    assert isinstance(base.contacts["consent"].dtype, pd.CategoricalDtype)
    assert isinstance(base.events["event_type"].dtype, pd.CategoricalDtype)
    assert np.issubdtype(base.events["timestamp"].dtype, np.datetime64)


def test_repeated_invalid_emails_are_not_merged():
    frame = pd.DataFrame({"contact_id": [1, 2, 3], "email": ["no-email", "NO-EMAIL", "a@b"]})
    base = se.read_base(frame, now=NOW)
    assert base.contacts["contact_id"].tolist() == [1, 2, 3]
    assert len(base.report.merges) == 0
    assert not base.contacts["email_valid"].any()


def test_inactive_contacts_are_flagged_not_deleted(base):
    # Contact 6 has no event or order at all; 3, 4 and 5 have some in the last 12 months.
    steps = base.report.steps.set_index("step")
    assert steps.loc["inactive flagged", "rows"] == 1
    inactive = base.features.set_index(base.contacts["contact_id"])["inactive"]
    assert inactive.to_dict() == {3: False, 4: False, 5: False, 6: True}
    assert len(base.contacts) == 4


def test_events_keyed_by_email_find_their_contact_or_none():
    contacts = pd.DataFrame({"contact_id": [1, 2], "email": [" A@x.fr", "b@x.fr"]})
    events = pd.DataFrame({"email": ["a@X.fr", "b@x.fr", "zz@x.fr"],
                           "timestamp": ["2026-01-01"] * 3, "event_type": ["open"] * 3})
    raw = se.read_base(contacts, events, clean=False, now=NOW)
    assert raw.events["contact_id"].tolist() == [1, 2, pd.NA]
    clean = se.read_base(contacts, events, now=NOW)
    assert clean.events["contact_id"].tolist() == [1, 2]
    assert clean.rejects["events"]["reason"].tolist() == ["unknown email (not in contacts)"]


def test_a_date_column_with_no_value_at_all_loads_as_missing_dates():
    # Found by the SQL cleaning's generated tables: an all-missing date column raised
    # IndexError (no distinct value to parse); it is a column of missing dates.
    contacts = pd.DataFrame({"contact_id": [1, 2], "email": ["a@x.fr", "b@x.fr"],
                             "signup_date": [None, None]}, dtype=object)
    base = se.read_base(contacts)
    assert base.contacts["signup_date"].dtype == "datetime64[ns]"
    assert base.contacts["signup_date"].isna().all()
    assert len(base.contacts) == 2


def test_no_merge_leaves_only_the_merge_columns():
    # Found by the SQL cleaning: with no merge, report.merges still had a working column.
    base = se.read_base(pd.DataFrame({"contact_id": [1, 2], "email": ["a@x.fr", "b@x.fr"]}))
    merged = se.read_base(pd.DataFrame({"contact_id": [1, 2], "email": ["a@x.fr", "A@x.fr"]}))
    assert len(base.report.merges) == 0 and len(merged.report.merges) == 1
    assert list(base.report.merges.columns) == list(merged.report.merges.columns)
