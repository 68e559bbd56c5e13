"""Dates as real exports write them: time zones, offsets, compact dates and Unix times.

Issue 10 ("Crashes on ordinary data", "Silent miscounts"): a time-zone-aware column
raised a raw TypeError, ISO offsets were silently dropped, and ``19970101`` (CDNOW's
``date`` column), Unix seconds and milliseconds written as text were "not a date".
Expected values are written out by hand (UTC arithmetic done in the comments).
"""

from __future__ import annotations

import datetime

import numpy as np
import pandas as pd
import pytest

import segexplore as se
from segexplore.io.parsing import parse_datetimes
from segexplore.io.read import read_table

T = pd.Timestamp
NOW = "2027-01-01"


def contacts_frame() -> pd.DataFrame:
    return pd.DataFrame({"contact_id": [1, 2], "email": ["a@example.fr", "b@example.fr"]})


# ------------------------------------------------------------- time zones and offsets

def test_offsets_in_text_are_converted_to_utc_not_dropped():
    values = pd.Series(["2026-01-01T10:00+02:00", "2026-01-01T10:00Z", "2026-01-01 10:00",
                        "2026-07-01T23:30:00-05:00", "2026-01-01 10:00 +0100"])
    result, info = parse_datetimes(values)
    # 10:00+02:00 is 08:00 UTC; 23:30-05:00 is 04:30 UTC the next day; naive stays.
    assert result.tolist() == [T("2026-01-01 08:00"), T("2026-01-01 10:00"),
                               T("2026-01-01 10:00"), T("2026-07-02 04:30"),
                               T("2026-01-01 09:00")]
    assert result.dtype == np.dtype("datetime64[ns]")
    assert info.failures.empty
    assert any("offsets converted to UTC in 4 values" in note for note in info.notes)


def test_offsets_in_text_are_converted_to_the_zone_asked():
    values = pd.Series(["2026-01-01T10:00Z", "2026-07-01T10:00Z", "2026-01-01T10:00+01:00"])
    result, info = parse_datetimes(values, tz="Europe/Paris")
    # Paris is UTC+1 in January, UTC+2 in July (summer time).
    assert result.tolist() == [T("2026-01-01 11:00"), T("2026-07-01 12:00"),
                               T("2026-01-01 10:00")]
    assert any("converted to Europe/Paris" in note for note in info.notes)


def test_aware_series_is_converted_not_reinterpreted():
    aware = pd.Series(pd.to_datetime(["2026-03-15T10:00+02:00", "2026-03-15T23:00Z"],
                                     utc=True)).dt.tz_convert("Europe/Paris")
    utc, info = parse_datetimes(aware)
    assert utc.tolist() == [T("2026-03-15 08:00"), T("2026-03-15 23:00")]
    assert any("Europe/Paris converted to UTC" in note for note in info.notes)
    paris, _ = parse_datetimes(aware, tz="Europe/Paris")
    assert paris.tolist() == [T("2026-03-15 09:00"), T("2026-03-16 00:00")]  # UTC+1 in March


def test_aware_datetime_objects_in_an_object_column():
    cells = pd.Series([datetime.datetime(2026, 1, 1, 10, tzinfo=datetime.timezone(
        datetime.timedelta(hours=2))), datetime.datetime(2026, 1, 1, 10)], dtype=object)
    result, _ = parse_datetimes(cells)
    assert result.tolist() == [T("2026-01-01 08:00"), T("2026-01-01 10:00")]


def test_unknown_time_zone_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown time zone 'Europe/Pariss'"):
        parse_datetimes(pd.Series(["2026-01-01"]), tz="Europe/Pariss")


def test_aware_parquet_column_loads_in_utc_and_says_so(tmp_path):
    path = tmp_path / "events.parquet"
    pd.DataFrame({
        "contact_id": [1, 2, 2],
        "timestamp": pd.Series(pd.to_datetime(
            ["2026-03-01 10:00", "2026-03-02 10:00", "2026-08-01 00:30"])
        ).dt.tz_localize("Europe/Paris"),
        "event_type": ["open", "click", "visit"],
    }).to_parquet(path)
    frame, info = read_table(path)
    assert frame["timestamp"].tolist() == [T("2026-03-01 09:00"), T("2026-03-02 09:00"),
                                           T("2026-07-31 22:30")]
    assert "column timestamp: time zone Europe/Paris converted to UTC, stored without " \
           "zone" in info.notes
    base = se.read_base(contacts_frame(), path, now=NOW)
    assert base.events["timestamp"].tolist() == [T("2026-03-01 09:00"), T("2026-03-02 09:00"),
                                                 T("2026-07-31 22:30")]
    assert any("converted to UTC" in note for note in base.report.reads["events"].notes)
    paris = se.read_base(contacts_frame(), path, now=NOW, tz="Europe/Paris")
    assert paris.events["timestamp"].tolist() == [T("2026-03-01 10:00"), T("2026-03-02 10:00"),
                                                  T("2026-08-01 00:30")]


def test_aware_dataframe_columns_load_without_mutating_the_input():
    contacts = contacts_frame().assign(signup_date=pd.to_datetime(
        ["2025-01-01T23:30Z", "2025-06-01T00:15+02:00"], utc=True))
    before = contacts.copy()
    events = pd.DataFrame({"contact_id": [1], "event_type": ["open"],
                           "timestamp": pd.to_datetime(["2026-01-01T00:30+01:00"])})
    base = se.read_base(contacts, events, now=NOW)
    assert base.contacts["signup_date"].tolist() == [T("2025-01-01 23:30"), T("2025-05-31 22:15")]
    assert base.events["timestamp"].tolist() == [T("2025-12-31 23:30")]
    pd.testing.assert_frame_equal(contacts, before)
    assert str(contacts["signup_date"].dtype).startswith("datetime64") and \
        contacts["signup_date"].dt.tz is not None


def test_offsets_in_a_csv_are_converted_when_loading(tmp_path):
    path = tmp_path / "events.csv"
    path.write_text("contact_id,timestamp,event_type\n1,2026-01-01T10:00+02:00,open\n"
                    "2,2026-01-01T10:00Z,click\n", encoding="utf-8")
    base = se.read_base(contacts_frame(), path, now=NOW)
    assert base.events["timestamp"].tolist() == [T("2026-01-01 08:00"), T("2026-01-01 10:00")]
    paris = se.read_base(contacts_frame(), path, now=NOW, tz="Europe/Paris")
    assert paris.events["timestamp"].tolist() == [T("2026-01-01 09:00"), T("2026-01-01 11:00")]


# ----------------------------------------------------- compact dates and Unix times

def test_compact_dates_as_integers_and_text():
    as_int, info = parse_datetimes(pd.Series([19970101, 19970112, 20001231]))
    assert as_int.tolist() == [T("1997-01-01"), T("1997-01-12"), T("2000-12-31")]
    assert dict(info.formats) == {"%Y%m%d": 3}
    as_text, info = parse_datetimes(pd.Series(["19970101", "19970330", None]))
    assert as_text.tolist()[:2] == [T("1997-01-01"), T("1997-03-30")]
    assert pd.isna(as_text.iloc[2])
    assert dict(info.formats) == {"%Y%m%d": 2}


def test_impossible_compact_dates_are_failures_with_a_reason():
    result, info = parse_datetimes(pd.Series([19970101, 19971345, 19970230]))
    assert result.isna().tolist() == [False, True, True]
    assert info.failures["row"].tolist() == [1, 2]
    assert set(info.failures["problem"]) == {"8-digit number that is not a valid YYYYMMDD date"}


def test_unix_seconds_and_milliseconds_as_text():
    # 1704067200 s = 2024-01-01 00:00 UTC; 1704110400123 ms = 2024-01-01 12:00:00.123 UTC
    result, info = parse_datetimes(pd.Series(["1704067200", "1704110400123", "1704067200.5"]))
    assert result.tolist() == [T("2024-01-01"), T("2024-01-01 12:00:00.123"),
                               T("2024-01-01 00:00:00.500")]
    assert dict(info.formats) == {"Unix time (seconds)": 2, "Unix time (milliseconds)": 1}
    paris, _ = parse_datetimes(pd.Series([1704067200]), tz="Europe/Paris")
    assert paris.tolist() == [T("2024-01-01 01:00")]  # a Unix time is a UTC instant


def test_small_integers_do_not_become_dates():
    result, info = parse_datetimes(pd.Series(["3", "12", "1234567", "00012"]))
    assert result.isna().all()
    assert info.failures["value"].tolist() == ["3", "12", "1234567", "00012"]
    assert all("outside the ranges" in problem for problem in info.failures["problem"])


def test_text_column_mixing_layouts_keeps_each_layout():
    values = pd.Series(["19970101", "1997-01-02", "03/01/1997", "852163200"])
    result, info = parse_datetimes(values)
    # 852163200 s = 1997-01-02 00:00 UTC (852076800 is 1997-01-01)
    assert result.tolist() == [T("1997-01-01"), T("1997-01-02"), T("1997-01-03"),
                               T("1997-01-02")]
    assert dict(info.formats) == {"%Y%m%d": 1, "Unix time (seconds)": 1, "%Y-%m-%d": 1,
                                  "%d/%m/%Y": 1}


def test_cdnow_compact_dates_are_kept_when_loading(tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text("customer_id,date,dollar_value\n1,19970101,11.77\n2,19970112,12.00\n"
                    "2,19970330,20.76\n", encoding="utf-8")
    base = se.read_base(contacts_frame(), orders=path, now=NOW,
                        columns={"orders": {"dollar_value": "amount"}})
    assert base.report.outputs["orders"] == 3
    assert base.orders["timestamp"].tolist() == [T("1997-01-01"), T("1997-01-12"),
                                                 T("1997-03-30")]
    assert base.orders["amount"].sum() == pytest.approx(11.77 + 12.00 + 20.76)
    steps = base.report.steps
    parsed = steps[(steps["table"] == "orders") & (steps["step"] == "timestamps parsed")]
    assert "%Y%m%d" in parsed["detail"].iloc[0]


def test_excel_serial_dates_in_an_excel_file(tmp_path):
    import openpyxl

    path = tmp_path / "orders.xlsx"
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["contact_id", "order_date", "amount"])
    sheet.append([1, 45366, 10.0])  # 45366 = 2024-03-15 (days since 1899-12-30)
    sheet.append([2, 45366.5, 20.0])  # noon
    book.save(path)
    base = se.read_base(contacts_frame(), orders=path, now=NOW)
    assert base.orders["timestamp"].tolist() == [T("2024-03-15"), T("2024-03-15 12:00")]


def test_offsets_in_contact_date_columns_are_reported_as_a_step():
    contacts = pd.DataFrame({"contact_id": [1, 2], "email": ["a@x.fr", "b@x.fr"],
                             "signup_date": ["2026-01-01T00:30+02:00", "2026-01-02"]})
    base = se.read_base(contacts, now="2026-06-01")
    assert base.contacts["signup_date"].tolist() == [pd.Timestamp("2025-12-31 22:30"),
                                                     pd.Timestamp("2026-01-02")]
    steps = base.report.steps.set_index("step")
    assert "offsets converted to UTC in 1 value" in steps.loc["signup_date parsed", "detail"]
