"""The raw, messy sample: nothing is lost, and the counts match plain-pandas expectations."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import segexplore as se

RAW = Path(__file__).parents[2] / "sample_data" / "raw"
NOW = pd.Timestamp("2026-11-24")


@pytest.fixture(scope="module")
def base() -> se.ContactBase:
    return se.read_base(RAW / "contacts_raw.csv", RAW / "events_raw.csv",
                        RAW / "orders_raw.csv", now=NOW)


@pytest.fixture(scope="module")
def plain() -> dict[str, pd.DataFrame]:
    """The same files read with hand-chosen options, no segexplore involved."""
    return {
        "contacts": pd.read_csv(RAW / "contacts_raw.csv", sep=";", encoding="cp1252",
                                decimal=",", dtype=str, keep_default_na=False),
        "events": pd.read_csv(RAW / "events_raw.csv"),
        "orders": pd.read_csv(RAW / "orders_raw.csv", sep=";", encoding="utf-8-sig",
                              decimal=",", dtype={"Date commande": str}),
    }


@pytest.mark.parametrize("table", ["contacts", "events", "orders"])
def test_every_input_row_is_kept_merged_or_rejected_exactly_once(base, plain, table):
    lineage = base.report.lineage(table)
    assert len(lineage) == len(plain[table])
    # Rows are named by their line in the file: header is line 1.
    assert lineage["row"].tolist() == list(range(2, len(plain[table]) + 2))
    counts = lineage["action"].value_counts().to_dict()
    acc = base.report.accounting().set_index("table").loc[table]
    assert counts.get("kept", 0) == acc["kept"] == len(getattr(base, table))
    assert counts.get("merged", 0) == acc["merged"]
    assert counts.get("rejected", 0) == acc["rejected"]
    assert lineage.loc[lineage["action"] == "rejected", "reason"].notna().all()


def test_merged_contacts_match_duplicate_valid_emails(base, plain):
    emails = plain["contacts"]["Email"].str.strip().str.lower()
    valid = emails.str.fullmatch(r"[^@\s]+@[^@\s.]+(\.[^@\s.]+)*\.[a-z]{2,}")
    expected_merges = int(emails[valid].duplicated().sum())
    assert expected_merges > 0
    assert len(base.report.merges) == expected_merges
    kept_ids = set(base.contacts["contact_id"])
    assert set(base.report.merges["merged_into"]) <= kept_ids
    assert len(base.contacts) == len(plain["contacts"]) - expected_merges
    assert base.contacts["email"].dropna()[base.contacts["email_valid"]].is_unique


def test_event_rejects_match_unknown_contacts(base, plain):
    known = set(pd.to_numeric(plain["contacts"]["Identifiant"]))
    unknown = ~plain["events"]["contact_id"].isin(known)
    reasons = base.report.rejects["events"]["reason"]
    assert (reasons == "unknown contact_id (not in contacts)").sum() == int(unknown.sum())


def test_order_rejects_match_negative_amounts_and_future_dates(base, plain):
    orders = plain["orders"]
    negative = int((orders["Montant TTC"] < 0).sum())
    # Layout by layout: pandas' format="mixed" with dayfirst=True swaps ISO months/days.
    text = orders["Date commande"]
    dates = pd.to_datetime(text, format="ISO8601", errors="coerce")
    for layout in ("%d/%m/%Y %H:%M", "%d/%m/%Y"):
        dates = dates.fillna(pd.to_datetime(text, format=layout, errors="coerce"))
    assert dates.notna().all()
    future = int((dates > NOW).sum())
    reasons = base.report.rejects["orders"]["reason"]
    assert (reasons == "negative amount").sum() == negative > 0
    assert reasons.str.startswith("timestamp in the future").sum() == future > 0


def test_french_postal_codes_regain_leading_zero(base, plain):
    raw = plain["contacts"].set_index(pd.to_numeric(plain["contacts"]["Identifiant"]))
    short_fr = raw[(raw["Pays"] == "FR") & raw["Code postal"].str.fullmatch(r"\d{4}")]
    assert len(short_fr) > 0
    clean = base.contacts.set_index("contact_id")["postal_code"].astype(str)
    survivors = short_fr.index.intersection(clean.index)
    assert (clean.loc[survivors] == short_fr.loc[survivors, "Code postal"].str.zfill(5)).all()


def test_withdrawn_consent_never_comes_back_after_merge(base, plain):
    raw = plain["contacts"].assign(key=plain["contacts"]["Email"].str.strip().str.lower())
    withdrawn = set(raw.loc[raw["Consentement"].str.lower() == "withdrawn", "key"])
    valid = base.contacts[base.contacts["email_valid"]]  # invalid emails are not merged
    clean = valid.set_index("email")["consent"]
    affected = [e for e in withdrawn if e in clean.index]
    assert affected
    assert (clean.loc[affected] == "withdrawn").all()
