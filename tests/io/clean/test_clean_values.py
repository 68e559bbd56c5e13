"""Values the cleaner met on real exports (issue 10): list and dict cells, orders repeated
without an order id, postal codes without a country. Expectations are written by hand."""

from __future__ import annotations

import json

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import segexplore as se
from segexplore.errors import SchemaError

NOW = pd.Timestamp("2026-11-01")


# --- list and dict cells (Parquet list<string> and struct columns) ------------------------

def _nested_contacts() -> pd.DataFrame:
    return pd.DataFrame({
        "contact_id": [1, 2, 3, 4],
        "email": ["a@example.fr", "b@example.fr", "c@example.fr", "d@example.fr"],
        "hobbies": [["sport", "running", "sport"], ["home"], None, []],
        "address": [{"zip": "69001", "city": "Lyon"}, {"city": "Paris"}, None,
                    {"city": "Lille", "floor": 2}],
    })


def test_list_cells_become_multi_valued_tags_and_dicts_json_text():
    base = se.read_base(_nested_contacts(), now=NOW)
    contacts = base.contacts.set_index("contact_id")
    # Lists: the multi-valued form every other tag column has (de-duplicated, sorted, |).
    assert contacts["hobbies"].astype(object).where(contacts["hobbies"].notna(), None).tolist() == \
        ["running|sport", "home", None, None]
    assert base.roles["hobbies"] == "multi"
    assert base.count('hobbies has any ("sport")') == 1
    assert base.count('hobbies has any ("home", "running")') == 2
    # Dicts: JSON text, keys sorted, so equal records are equal strings.
    address = contacts["address"].astype(object)
    assert json.loads(address.loc[1]) == {"zip": "69001", "city": "Lyon"}
    assert address.loc[1] == '{"city": "Lyon", "zip": "69001"}'
    assert address.loc[4] == '{"city": "Lille", "floor": 2}'
    assert pd.isna(address.loc[3])
    assert base.roles["address"] == "text"
    # Both conversions are reported, naming the file and column.
    steps = base.report.steps
    lists = steps[steps["step"] == "list values joined as tags"]
    assert lists["rows"].tolist() == [2]
    assert "hobbies" in lists["detail"].iloc[0] and "<contacts DataFrame>" in lists["detail"].iloc[0]
    dicts = steps[steps["step"] == "nested values kept as JSON text"]
    assert dicts["rows"].tolist() == [3]
    assert "address" in dicts["detail"].iloc[0]


def test_interests_given_as_lists_are_united_on_merge():
    contacts = pd.DataFrame({"contact_id": [1, 2], "email": ["a@example.fr", "A@example.fr"],
                             "interests": [["sport", "outdoor"], ["kids"]]})
    base = se.read_base(contacts, now=NOW)
    assert base.contacts["interests"].astype(str).tolist() == ["kids|outdoor|sport"]


def test_parquet_list_and_struct_columns_load(tmp_path):
    path = tmp_path / "contacts.parquet"
    pq.write_table(pa.Table.from_pandas(_nested_contacts()), path)
    base = se.read_base(path, now=NOW)
    contacts = base.contacts.set_index("contact_id")
    assert contacts.loc[1, "hobbies"] == "running|sport"
    # A struct column gives every field to every row, missing ones as null.
    assert json.loads(contacts.loc[2, "address"]) == {"city": "Paris", "floor": None,
                                                       "zip": None}
    detail = base.report.steps.set_index("step").loc["list values joined as tags", "detail"]
    assert "contacts.parquet" in detail


def test_dict_cells_in_events_load_as_json_text():
    contacts = pd.DataFrame({"contact_id": [1], "email": ["a@example.fr"]})
    events = pd.DataFrame({"contact_id": [1, 1], "timestamp": ["2026-10-05", "2026-10-06"],
                           "event_type": ["open", "open"],
                           "props": [{"utm": "x"}, {"utm": "y"}]})
    base = se.read_base(contacts, events, now=NOW)
    assert base.events["props"].astype(str).tolist() == ['{"utm": "x"}', '{"utm": "y"}']
    assert base.features["opens_30d"].tolist() == [2]


@pytest.mark.parametrize("column", ["contact_id", "email"])
def test_lists_in_an_identifier_column_are_a_clear_error(column):
    contacts = pd.DataFrame({"contact_id": [1, 2], "email": ["a@example.fr", "b@example.fr"]})
    contacts[column] = pd.Series([[1, 2], ["b@example.fr"]] if column == "contact_id"
                                 else [["a@example.fr", "x@example.fr"], "b@example.fr"],
                                 dtype=object)
    with pytest.raises(SchemaError, match=rf"<contacts DataFrame>.*column '{column}'.*"
                                          r"one value per row"):
        se.read_base(contacts, now=NOW)


# --- orders without an order id: exact repeats are reported, not dropped -------------------

def test_exactly_repeated_orders_without_order_id_are_kept_and_reported(tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text(
        "contact_id,timestamp,amount\n"
        "1,2026-10-01 10:00,642.2\n"     # line 2
        "1,2026-10-01 10:00,642.2\n"     # line 3: repeats line 2
        "1,2026-10-02 10:00,642.2\n"     # line 4: another day, not a repeat
        "2,2026-10-01 10:00,642.2\n"     # line 5: another contact
        "1,2026-10-01 10:00,642.2\n",    # line 6: repeats line 2 again
        encoding="utf-8")
    contacts = pd.DataFrame({"contact_id": [1, 2], "email": ["a@example.fr", "b@example.fr"]})
    base = se.read_base(contacts, orders=path, now=NOW)
    assert len(base.orders) == 5                      # kept: they may be real
    assert base.features["purchases_total"].tolist() == [4, 1]
    issues = base.report.issues
    repeats = issues[issues["problem"].str.contains("repeats", na=False)]
    assert repeats["table"].tolist() == ["orders", "orders"]
    assert repeats["file"].tolist() == ["orders.csv", "orders.csv"]
    assert repeats["row"].tolist() == [3, 6]
    assert repeats["value"].tolist() == ["same as line 2", "same as line 2"]
    assert set(repeats["action"]) == {"kept (may be two real orders)"}
    step = base.report.steps.set_index("step").loc["repeated orders kept"]
    assert int(step["rows"]) == 2
    assert "no order_id column" in step["detail"] and "line 3" in step["detail"]


def test_repeated_orders_with_an_order_id_are_still_rejected_not_reported():
    contacts = pd.DataFrame({"contact_id": [1], "email": ["a@example.fr"]})
    orders = pd.DataFrame({"order_id": ["A1", "A1"], "contact_id": [1, 1],
                           "timestamp": ["2026-10-01", "2026-10-01"], "amount": [5.0, 5.0]})
    base = se.read_base(contacts, orders=orders, now=NOW)
    assert len(base.orders) == 1
    assert base.report.rejects["orders"]["reason"].tolist() == ["order_id repeats an earlier row"]
    assert not base.report.issues["problem"].str.contains("repeats", na=False).any()


def test_repeats_of_a_rejected_order_count_among_standing_rows_only():
    contacts = pd.DataFrame({"contact_id": [1], "email": ["a@example.fr"]})
    orders = pd.DataFrame({"contact_id": [9, 9, 1], "timestamp": ["2026-10-01"] * 3,
                           "amount": [5.0, 5.0, 5.0]}, index=[10, 11, 12])
    base = se.read_base(contacts, orders=orders, now=NOW)
    # Both rows of unknown contact 9 are rejected; no repeat is left among the kept ones.
    assert len(base.report.rejects["orders"]) == 2
    assert not base.report.issues["problem"].str.contains("repeats", na=False).any()


# --- postal codes without a country ------------------------------------------------------

def _contacts_with_codes(codes: list[str], countries: list | None = None) -> pd.DataFrame:
    frame = pd.DataFrame({"contact_id": range(1, len(codes) + 1),
                          "email": [f"p{i}@example.fr" for i in range(len(codes))],
                          "postal_code": codes})
    if countries is not None:
        frame["country"] = countries
    return frame


def test_postal_code_of_unusual_length_without_country_is_reported_not_padded():
    codes = ["69001", "75011", "13008", "1000", "33000", "59000"]
    base = se.read_base(_contacts_with_codes(codes), now=NOW)
    assert base.contacts["postal_code"].astype(str).tolist() == codes   # not padded
    issues = base.report.issues[base.report.issues["column"] == "postal_code"]
    assert issues["row"].tolist() == [3]                       # DataFrame index label
    assert issues["value"].tolist() == ["1000"]
    assert issues["problem"].tolist() == [
        "postal code 1000 has 4 digits where most codes have 5; no country to tell how many "
        "are expected"]
    assert issues["action"].tolist() == ["kept as is (not padded)"]


def test_postal_codes_with_missing_country_cells_are_checked_too():
    codes = ["69001", "1000", "75011", "9000", "13008", "33000"]
    countries = ["FR", None, "FR", "BE", "FR", "FR"]
    base = se.read_base(_contacts_with_codes(codes, countries), now=NOW)
    contacts = base.contacts.set_index("contact_id")
    assert contacts.loc[2, "postal_code"] == "1000"            # no country: not padded
    assert contacts.loc[4, "postal_code"] == "9000"            # Belgian: fine
    issues = base.report.issues[base.report.issues["column"] == "postal_code"]
    assert issues["value"].tolist() == ["1000"]


def test_a_base_of_four_digit_codes_without_country_is_not_reported():
    codes = ["1000", "9000", "4000", "1050", "2000"]           # all Belgian-like
    base = se.read_base(_contacts_with_codes(codes), now=NOW)
    assert base.contacts["postal_code"].astype(str).tolist() == codes
    assert not (base.report.issues["column"] == "postal_code").any()


def test_evenly_mixed_lengths_without_country_are_not_guessed_but_said():
    codes = ["1000", "69001", "9000", "75011"]                 # half and half: ambiguous
    base = se.read_base(_contacts_with_codes(codes), now=NOW)
    assert base.contacts["postal_code"].astype(str).tolist() == codes
    assert not (base.report.issues["column"] == "postal_code").any()
    step = base.report.steps.set_index("step").loc["postal codes without country"]
    assert int(step["rows"]) == 4
    assert "not checked" in step["detail"]
