"""Personal data: erasure across every table, subject access, stale consent, masking."""

from __future__ import annotations

import json

import pandas as pd
import pytest

import segexplore as se
from segexplore.delivery import export as ex
from segexplore.delivery import privacy as pv
from segexplore.delivery import waterfall as wf
from segexplore.errors import NotFoundError
from segexplore.model import pii
from segexplore.model.base import ContactBase
from segexplore.model.erasures import identifier_hash

NOW = pd.Timestamp("2026-11-01")


@pytest.fixture
def base() -> se.ContactBase:
    """Ann has a merged duplicate (with a bad birth date), events, a rejected future event
    and a suppression entry; Bob has an issue of his own; Dan is untouched."""
    contacts = pd.DataFrame({
        "contact_id": [1, 2, 3, 4],
        "email": ["Ann@X.fr", "bob@x.fr", "ann@x.fr ", "dan@x.fr"],
        "first_name": ["Ann", "Bob", "Annie", "Dan"],
        "birth_date": ["1990-01-01", "x", "1980-13-45", "1970-01-01"],
        "signup_date": ["2020-01-01", "2021-01-01", "2022-01-01", "2020-01-01"],
        "signup_source": ["footer", "popup", "shop", "footer"],
        "consent": ["given", "given", "given", "given"],
        "consent_date": ["2020-01-01", "2021-01-01", "2022-01-01", "2020-01-01"],
        "city": ["Lyon", "Lyon", "Lyon", "Paris"],
    })
    events = pd.DataFrame({
        "contact_id": [1, 1, 3, 2, 1, 99],
        "timestamp": ["2026-10-01", "2026-10-02", "2026-10-03", "2026-10-04", "2027-01-01",
                      "2026-10-05"],
        "event_type": ["open", "click", "visit", "open", "open", "open"],
    })
    orders = pd.DataFrame({"order_id": [10, 11], "contact_id": [3, 2],
                           "timestamp": ["2026-09-01", "2026-09-02"], "amount": [50.0, 20.0]})
    base = se.read_base(contacts, events, orders, now=NOW)
    return base.with_suppressions(pd.DataFrame({
        "email": ["ANN@x.fr", "zoe@x.fr"], "reason": ["complaint", "bounce"],
        "date": ["2026-06-01", "2026-06-02"]}))


def test_forget_removes_the_person_from_every_table(base, tmp_path):
    lyon = base.segment('city = "Lyon"', name="Lyon")
    assert lyon.size == 2
    log = tmp_path / "erasures.jsonl"
    report = pv.forget(base, " ANN@x.fr", log_path=log, salt="secret")
    assert report.removed == {
        "contacts": 1, "rejected contacts": 0, "events": 3, "rejected events": 1,
        "orders": 1, "rejected orders": 0, "merged records": 1, "cleaning issues": 1,
        "unreadable lines": 0, "suppression lists": 1}
    assert base.contacts["contact_id"].tolist() == [2, 4]
    assert base.events["contact_id"].tolist() == [2]
    assert base.orders["order_id"].tolist() == [11]
    assert len(base.report.merges) == 0
    assert base.report.rejects["events"]["contact_id"].astype(str).tolist() == ["99"]
    assert base.report.issues["value"].tolist() == ["x"]  # Bob's issue stays
    assert base.suppressions["email"].tolist() == ["zoe@x.fr"]
    accounting = base.report.accounting().set_index("table")
    assert accounting["balanced"].all()
    assert accounting.loc["contacts", "input"] == 2 and accounting.loc["events", "input"] == 2
    assert base.report.lineage("contacts")["action"].tolist() == ["kept", "kept"]
    # Caches rebuilt on the new tables.
    assert len(base.features) == 2 and lyon.size == 1
    assert wf.sendable_waterfall(lyon)["remaining"].iloc[0] == 1
    records = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    assert len(records) == 1
    assert records[0]["identifier_sha256"] == identifier_hash("ann@x.fr", "secret")
    assert records[0]["removed"]["events"] == 3
    text = log.read_text(encoding="utf-8").lower()
    assert "ann" not in text  # neither the email nor the name
    assert "annie" not in text


def test_erased_person_never_comes_back_in_exports_or_subject_access(base, tmp_path):
    contacts_before = base.contacts.copy()
    pv.forget(base, 1)
    with pytest.raises(NotFoundError, match="no contact with email 'ann@x.fr'"):
        pv.subject_access(base, "ann@x.fr")
    with pytest.raises(NotFoundError):
        pv.subject_access(base, 3)  # the merged record's id
    again = pv.forget(base, "ann@x.fr")
    assert again.already_forgotten and again.total == 0
    # The old row comes back into the tables (a stale import): exports still leave Ann out.
    base._replace_tables(contacts=pd.concat([base.contacts, contacts_before.iloc[[0]]],
                                            ignore_index=True))
    seg = base.segment('city = "Lyon"', name="Lyon")
    result = ex.export_segment(seg, tmp_path / "lyon.csv", columns=["email"])
    steps = result.waterfall.set_index("step")
    assert steps.loc["not suppressed", "reason"] == "on a suppression list (erased 1)"
    assert (tmp_path / "lyon.csv").read_text(encoding="utf-8").splitlines() == [
        "email", "bob@x.fr"]
    with pytest.raises(NotFoundError, match="contact_id '42'"):
        pv.forget(base, 42)


def test_subject_access_lists_everything_held(base):
    dutch = base.segment('city = "Lyon"', name="Lyon")
    assert dutch.size == 2
    base.segment('city = "Paris"', name="Paris")
    data = pv.subject_access(base, "ann@x.fr")
    assert json.loads(json.dumps(data)) == data  # JSON-serialisable as is
    assert [c["contact_id"] for c in data["contacts"]] == [1]
    assert data["contacts"][0]["email_original"] == "Ann@X.fr"
    assert data["contacts"][0]["first_name"] == "Annie"  # latest non-missing value won
    assert [m["contact_id"] for m in data["merged_records"]] == [3]
    assert [e["event_type"] for e in data["events"]] == ["open", "click", "visit"]
    assert [o["order_id"] for o in data["orders"]] == [10]
    assert [r["timestamp"] for r in data["rejected_records"]["events"]] == ["2027-01-01"]
    assert data["features"]["1"]["purchases_total"] == 1
    assert data["segments"] == ["Lyon"]
    assert [h["event"] for h in data["consent_history"]] == [
        "signed up", "consent given", "suppressed: complaint", "duplicate record merged"]
    assert data["suppressions"][0]["reason"] == "complaint"
    by_id = pv.subject_access(base, "1")
    assert by_id["contacts"] == data["contacts"]
    assert json.loads(pv.subject_access_json(base, 2))["contacts"][0]["email"] == "bob@x.fr"


def test_stale_consent_hand_checked():
    contacts = pd.DataFrame({
        "contact_id": [1, 2, 3, 4, 5, 6],
        "email": [f"{c}@x.fr" for c in "abcdef"],
        "consent": ["given", "given", "given", "withdrawn", "given", "given"],
        "consent_date": pd.to_datetime(["2023-01-01", "2023-01-01", "2026-01-01",
                                        "2023-01-01", None, "2023-01-01"]),
        "signup_date": pd.to_datetime(["2023-01-01"] * 4 + ["2020-01-01", "2023-01-01"]),
    })
    events = pd.DataFrame({
        "contact_id": [2, 6, 3],
        "timestamp": pd.to_datetime(["2026-06-01", "2026-06-01", "2026-06-01"]),
        "event_type": pd.Categorical(["click", "add_to_cart", "open"]),
    })
    base = ContactBase(contacts, events, as_of="2026-10-31")
    stale = pv.stale_consent(base, months=24)
    # 1 old, no activity; 2 clicked since; 3 recent; 4 withdrawn; 5 signup fallback;
    # 6 only added to cart (not an open, click, visit or purchase).
    assert stale.tolist() == [True, False, False, False, True, True]
    assert stale.name == "stale_consent"
    assert pv.stale_consent(base, months=48).tolist() == [False] * 4 + [True, False]


def test_mask_pii_pseudonymises_without_mutating():
    frame = pd.DataFrame({
        "email": ["jean.dupont@gmail.com", "anne@free.fr", None],
        "email_original": [" Jean.Dupont@Gmail.com", "anne@free.fr", None],
        "first_name": pd.Categorical(["jean", "Élodie", None]),
        "last_name": ["Dupont", "Le Goff", ""],
        "phone": ["+33 6 12 34 56 78", None, "0612"],
        "city": ["Lyon", "Paris", "Gent"],
    })
    before = frame.copy()
    masked = pii.mask_pii(frame, salt="s")
    pd.testing.assert_frame_equal(frame, before)
    assert masked["email"].iloc[0].startswith("j***@gmail.com #")
    assert masked["email"].iloc[0] == masked["email_original"].iloc[0]  # same address
    assert masked["email"].iloc[0][-6:] != masked["email"].iloc[1][-6:]
    assert pd.isna(masked["email"].iloc[2])
    assert masked["first_name"].tolist()[:2] == ["J.", "É."] and pd.isna(masked["first_name"][2])
    assert masked["last_name"].tolist() == ["D.", "L.", ""]
    assert masked["phone"].tolist()[0] == "+** * ** ** ** 78"
    assert masked["phone"].tolist()[2] == "**12"
    assert masked["city"].tolist() == ["Lyon", "Paris", "Gent"]
    assert pii.mask_pii(frame, salt="s").equals(masked)
    assert not pii.mask_pii(frame, salt="t")["email"].equals(masked["email"])
    only = pii.mask_pii(frame, columns=["email"], salt="s")
    assert only["first_name"].equals(frame["first_name"])


def test_mask_pii_hides_people_in_profiles_and_members(tiny_base):
    emails = set(tiny_base.contacts["email"])
    masked = tiny_base.profile(mask_pii=True)
    top = masked.top_values
    shown = set(top.loc[top["attribute"] == "email_original", "value"])
    # email_original identifies people: no value of it is quoted, masked or not (issue 11)
    assert shown == set() and not shown & emails
    assert pd.isna(masked.to_frame().loc["email_original", "top"])
    # The numbers do not change: same distinct and missing counts.
    plain = tiny_base.profile().to_frame().loc["email_original"]
    assert masked.to_frame().loc["email_original", "distinct"] == plain["distinct"] == 7
    members = tiny_base.segment('city = "Lyon"').members(mask_pii=True)
    assert members["contact_id"].tolist() == [1, 2]
    assert not set(members["email"]) & emails
    assert not set(members["email_original"]) & emails
    # The masked form, formerly checked on the profile's top values, holds where values show.
    assert all(value.split("@")[0].endswith("***") for value in members["email_original"])
