"""Tests of the sample-data generator (segexplore.datasets.generate) and the bundled sample."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from segexplore.datasets import activity, tables
from segexplore.datasets import generate as sample
from segexplore.datasets import raw as raw_exports
from segexplore.datasets import sample as sample_data
from segexplore.model import columns as col

AS_OF = pd.Timestamp("2026-10-31")
N = 2_000
EMAIL_PATTERN = r"^[a-z0-9._-]+@[a-z0-9-]+(\.[a-z0-9-]+)*\.[a-z]{2,}$"
# Address shape a loader would accept, after stripping and lower-casing.
VALID_EMAIL = r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$"


@pytest.fixture(scope="module")
def base() -> dict[str, pd.DataFrame]:
    return sample.generate_base(N, seed=11)


@pytest.fixture(scope="module")
def big_base() -> dict[str, pd.DataFrame]:
    """Large enough for statistical properties to be stable (still < 1 s)."""
    return sample.generate_base(10_000, seed=4)


@pytest.fixture(scope="module")
def raw(base) -> dict[str, pd.DataFrame]:
    return raw_exports.make_raw(base, seed=11)


def _with_signup(frame: pd.DataFrame, contacts: pd.DataFrame) -> pd.DataFrame:
    return frame.merge(contacts[["contact_id", "signup_date", "consent", "consent_date"]],
                       on="contact_id", how="left", validate="many_to_one")


# --- determinism and schema ---------------------------------------------------------
def test_same_seed_gives_identical_frames(base):
    again = sample.generate_base(N, seed=11)
    for name in ("contacts", "events", "orders"):
        pd.testing.assert_frame_equal(base[name], again[name])


def test_different_seed_differs(base):
    other = sample.generate_base(N, seed=12)
    assert not base["contacts"]["email"].equals(other["contacts"]["email"])
    assert len(base["events"]) != len(other["events"]) or not base["events"].equals(other["events"])


def test_columns_are_canonical(base):
    assert tuple(base["contacts"].columns) == col.CONTACT_COLUMNS
    assert tuple(base["events"].columns) == col.EVENT_COLUMNS
    assert tuple(base["orders"].columns) == col.ORDER_COLUMNS


def test_dtypes(base):
    contacts, events, orders = base["contacts"], base["events"], base["orders"]
    for frame in (contacts, events, orders):
        assert frame["contact_id"].dtype == np.int64
    for name in ("gender", "city", "department", "region", "country", "language", "device",
                 "signup_source", "consent", "loyalty_tier"):
        assert isinstance(contacts[name].dtype, pd.CategoricalDtype), name
    for name in ("event_type", "campaign_id", "brand", "category"):
        assert isinstance(events[name].dtype, pd.CategoricalDtype), name
    for name in ("email", "first_name", "last_name", "postal_code", "interests"):
        assert pd.api.types.is_string_dtype(contacts[name].dtype), name
    for name in ("birth_date", "signup_date", "consent_date"):
        assert pd.api.types.is_datetime64_dtype(contacts[name].dtype), name
    assert pd.api.types.is_datetime64_dtype(events["timestamp"].dtype)
    assert pd.api.types.is_datetime64_dtype(orders["timestamp"].dtype)
    assert list(events["event_type"].cat.categories) == list(col.EVENT_TYPES)
    assert list(contacts["consent"].cat.categories) == list(col.CONSENT_VALUES)
    assert events["amount"].dtype == np.float64 and str(events["items"].dtype) == "Int64"
    assert orders["order_id"].dtype == np.int64 and orders["items"].dtype == np.int64


def test_invalid_arguments():
    with pytest.raises(ValueError):
        sample.generate_base(0)
    with pytest.raises(ValueError):
        sample.generate_base(10, events_per_contact=-1)


# --- contacts -----------------------------------------------------------------------
def test_contact_values(base):
    contacts = base["contacts"]
    assert (contacts["contact_id"].to_numpy() == np.arange(1, N + 1)).all()
    emails = contacts["email"]
    assert emails.is_unique and emails.str.match(EMAIL_PATTERN).all()
    assert contacts["first_name"].str.contains(r"[éèëïçôÉ]").any()  # accents kept
    assert set(contacts["gender"].unique()) <= {"F", "M", "X"}
    assert 0 < (contacts["gender"] == "X").mean() < 0.05
    assert set(contacts["language"].unique()) <= {"fr", "nl", "en", "de"}
    flemish = contacts["region"] == "Flandre"
    assert (contacts.loc[flemish, "language"] == "nl").mean() > 0.7
    assert (contacts.loc[~flemish, "language"] == "nl").mean() < 0.05
    interests = contacts["interests"]
    assert interests.isna().any() and (interests == "").any()
    tags = set(interests.dropna().str.split("|").explode()) - {""}
    assert tags <= set(tables.INTEREST_TAGS)
    assert contacts["loyalty_tier"].isna().mean() > 0.3


def test_geography_is_consistent(base):
    contacts = base["contacts"]
    per_city = contacts.groupby("city", observed=True)[["department", "region", "country"]]
    per_city = per_city.nunique()
    assert (per_city == 1).all().all()
    assert (contacts.groupby("postal_code")["city"].nunique() == 1).all()
    french = contacts["country"] == "FR"
    assert contacts.loc[french, "postal_code"].str.fullmatch(r"\d{5}").all()
    assert contacts.loc[~french, "postal_code"].str.fullmatch(r"\d{4}").all()
    assert contacts.loc[french, "postal_code"].str.startswith("0").any()  # "01000" kept
    assert set(contacts.loc[~french, "region"]) <= {"Bruxelles-Capitale", "Flandre", "Wallonie"}
    paris = contacts[contacts["city"] == "Paris"]["postal_code"]
    assert paris.str.startswith("750").all()


def test_devices_differ_by_region(big_base):
    contacts = big_base["contacts"]
    paris = contacts["region"] == "Île-de-France"
    north = contacts["region"].isin(["Hauts-de-France", "Grand Est", "Wallonie"])
    ios = contacts["device"] == "iOS"
    assert ios[paris].mean() > ios[north].mean() + 0.1
    android = contacts["device"] == "Android"
    assert android[north].mean() > android[paris].mean() + 0.1


def test_consent_dates(base):
    contacts = base["contacts"]
    assert (contacts["signup_date"] < AS_OF).all() and (contacts["consent_date"] <= AS_OF).all()
    withdrawn = contacts["consent"] == "withdrawn"
    assert withdrawn.any()
    assert (contacts.loc[withdrawn, "consent_date"] > contacts.loc[withdrawn, "signup_date"]).all()
    assert (contacts["consent_date"] >= contacts["signup_date"]).all()


# --- events and orders --------------------------------------------------------------
def test_events_inside_each_contacts_window(base):
    events = _with_signup(base["events"], base["contacts"])
    assert events["signup_date"].notna().all()  # no unknown contact in the clean base
    assert (events["timestamp"] >= events["signup_date"]).all()
    assert (events["timestamp"] < AS_OF).all()
    assert events["timestamp"].is_monotonic_increasing


def test_no_email_after_withdrawal_or_while_pending(base):
    events = _with_signup(base["events"], base["contacts"])
    emails = events[events["event_type"].isin(["open", "click"])]
    assert not (emails["consent"] == "pending").any()
    withdrawn = emails[emails["consent"] == "withdrawn"]
    assert (withdrawn["timestamp"] < withdrawn["consent_date"]).all()


def test_columns_filled_by_event_type(base):
    events = base["events"]
    kind = events["event_type"]
    email = kind.isin(["open", "click"])
    assert events.loc[email, "campaign_id"].notna().all()
    assert events.loc[~email, "campaign_id"].isna().all()
    assert events.loc[~email, "brand"].notna().all() and events.loc[email, "brand"].isna().all()
    assert events["campaign_id"].dropna().astype(str).str.fullmatch(r"CMP-\d{4}-\d{2}-[A-Z]").all()
    purchase = kind == "purchase"
    for name in ("amount", "items"):
        assert events.loc[purchase, name].notna().all()
        assert events.loc[~purchase, name].isna().all()


def test_purchase_events_mirror_orders(base):
    events, orders = base["events"], base["orders"]
    purchases = events[events["event_type"] == "purchase"].reset_index(drop=True)
    shared = ["contact_id", "timestamp", "amount", "brand", "category"]
    pd.testing.assert_frame_equal(purchases[shared], orders[shared])
    assert (purchases["items"].astype("int64") == orders["items"]).all()
    assert orders["order_id"].is_unique and (orders["items"] >= 1).all()
    assert (orders["amount"] > 0).all() and (orders["amount"] == orders["amount"].round(2)).all()


def test_events_per_contact_close_to_target():
    tables = sample.generate_base(3_000, seed=2, events_per_contact=8.0)
    assert 7.0 < len(tables["events"]) / 3_000 < 9.0


def test_engagement_is_heavy_tailed(base):
    counts = base["events"]["contact_id"].value_counts()
    counts = counts.reindex(base["contacts"]["contact_id"], fill_value=0)
    counts = counts.sort_values(ascending=False)
    assert counts.iloc[: N // 10].sum() > 0.4 * counts.sum()
    assert (counts == 0).mean() > 0.1  # never-engaged contacts exist


def test_cart_abandoners_exist(base):
    events = base["events"]
    carts = events[events["event_type"] == "add_to_cart"][["contact_id", "timestamp"]]
    buys = events[events["event_type"] == "purchase"][["contact_id", "timestamp"]]
    matched = pd.merge_asof(carts, buys.rename(columns={"timestamp": "bought"}),
                            left_on="timestamp", right_on="bought", by="contact_id",
                            direction="forward")
    late = matched["bought"] - matched["timestamp"] > pd.Timedelta("24h")
    abandoned = matched["bought"].isna() | late
    assert matched.loc[abandoned, "contact_id"].nunique() > 0.05 * N


def test_lapsed_buyers_exist(base):
    orders = base["orders"].groupby("contact_id")["timestamp"].agg(["size", "max"])
    lapsed = (orders["size"] >= 2) & (orders["max"] < AS_OF - pd.Timedelta(days=365))
    assert lapsed.sum() >= 10
    recent = orders["max"] >= AS_OF - pd.Timedelta(days=90)
    assert recent.sum() >= 10


def test_brand_affinity(big_base):
    products = big_base["events"].dropna(subset=["brand"])
    per_contact = products.groupby("contact_id")["brand"]
    top_share = per_contact.agg(lambda brands: brands.value_counts().iloc[0] / len(brands))
    active = per_contact.size() >= 5
    assert top_share[active].mean() > 3 / len(tables.BRANDS)


def test_seasonality(big_base):
    stamps = big_base["events"]["timestamp"]
    month, day = stamps.dt.month, stamps.dt.normalize()

    def per_day(mask):
        return mask.sum() / day[mask].nunique()

    assert per_day(month.isin([11, 12])) > 1.3 * per_day(month.isin([7, 8]))
    assert per_day(month == 1) > per_day(month.isin([7, 8]))


def test_purchases_follow_recent_engagement(big_base):
    events, orders = big_base["events"], big_base["orders"]
    cutoff = AS_OF - pd.Timedelta(days=90)
    recent = events[(events["timestamp"] < cutoff)
                    & (events["timestamp"] >= cutoff - pd.Timedelta(days=14))
                    & events["event_type"].isin(["visit", "click"])]["contact_id"].unique()
    window = orders["timestamp"].between(cutoff, cutoff + pd.Timedelta(days=30), inclusive="left")
    buyers = set(orders.loc[window, "contact_id"])
    engaged = np.isin(big_base["contacts"]["contact_id"], recent)
    bought = big_base["contacts"]["contact_id"].isin(buyers).to_numpy()
    assert bought[engaged].mean() > 3 * bought[~engaged].mean()


# --- raw, messy exports -------------------------------------------------------------
def test_raw_has_planted_duplicates(raw, base):
    contacts = raw["contacts"]
    normalised = contacts["email"].str.strip().str.lower()
    valid = normalised.str.match(VALID_EMAIL)
    duplicated = normalised.duplicated(keep=False) & valid
    assert 0.02 * N < duplicated.sum() / 2 < 0.05 * N
    assert contacts["contact_id"].is_unique  # duplicates are separate rows with new ids
    copies = contacts[duplicated]
    assert (copies["email"] != copies["email"].str.strip().str.lower()).any()  # case/spaces
    per_person = copies.groupby(normalised[duplicated])[["city", "consent", "interests"]]
    differing = per_person.nunique(dropna=False)
    assert (differing > 1).any().all()


def test_raw_has_invalid_emails_and_missing_values(raw):
    contacts = raw["contacts"]
    invalid = ~contacts["email"].fillna("").str.strip().str.lower().str.match(VALID_EMAIL)
    assert 0.005 * N <= invalid.sum() <= 0.02 * N
    assert contacts["email"].isin(["no-email", "a@b"]).any()
    assert contacts["email"].str.contains(r"^[^@]+ [^@]+@").any()
    for name in ("first_name", "postal_code", "city", "gender", "birth_date"):
        assert contacts[name].isna().any(), name


def test_raw_postal_codes_lost_leading_zero(raw):
    french = raw["contacts"][raw["contacts"]["country"] == "FR"]["postal_code"].dropna()
    assert french.str.fullmatch(r"\d{4}").any()


def test_raw_dates_have_mixed_formats(raw):
    signup = raw["contacts"]["signup_date"].dropna()
    assert signup.str.fullmatch(r"\d{4}-\d{2}-\d{2}").any()
    assert signup.str.fullmatch(r"\d{2}/\d{2}/\d{4}").any()
    assert signup.str.fullmatch(r"\d{2}/\d{2}/\d{4} \d{2}:\d{2}").any()
    stamps = raw["events"]["timestamp"]
    assert stamps.str.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}").any()
    assert stamps.str.fullmatch(r"\d{2}/\d{2}/\d{4} \d{2}:\d{2}").any()


def test_raw_events_and_orders_oddities(raw):
    known = set(raw["contacts"]["contact_id"])
    unknown = ~raw["events"]["contact_id"].isin(known)
    assert 0 < unknown.sum() < 0.01 * len(raw["events"])
    orders = raw["orders"]
    assert (orders["amount"] < 0).sum() >= 2
    when = pd.to_datetime(orders["timestamp"], format="mixed", dayfirst=True)
    assert (when > AS_OF).sum() >= 2
    # activity of re-registered contacts moved to their new id
    assert raw["events"]["contact_id"].max() > N or raw["orders"]["contact_id"].max() > N


def test_make_raw_is_deterministic(base, raw):
    again = raw_exports.make_raw(base, seed=11)
    for name in raw:
        pd.testing.assert_frame_equal(raw[name], again[name])


def test_write_raw_files(raw, tmp_path):
    paths = raw_exports.write_raw(raw, tmp_path)
    contacts_bytes = paths["contacts"].read_bytes()
    with pytest.raises(UnicodeDecodeError):
        contacts_bytes.decode("utf-8")  # really cp1252, not UTF-8
    text = contacts_bytes.decode("cp1252")
    header = text.split("\r\n", 1)[0]
    assert header.split(";")[:3] == ["Identifiant", "Email", "Prénom"]
    assert "CA cumulé (€)" in header
    assert re.search(r";\d+,\d{2}\r\n", text)  # decimal comma, last column
    back = pd.read_csv(paths["contacts"], sep=";", decimal=",", encoding="cp1252",
                       dtype={"Code postal": str})
    assert len(back) == len(raw["contacts"])
    assert np.allclose(back["CA cumulé (€)"], raw["contacts"]["lifetime_value"])
    events_text = paths["events"].read_text(encoding="utf-8")
    assert events_text.startswith(",".join(col.EVENT_COLUMNS))
    orders_text = paths["orders"].read_text(encoding="utf-8-sig")
    assert orders_text.startswith("Numéro commande;ID client;Date commande;Montant TTC")
    assert re.search(r";-\d+,\d{2};", orders_text)  # refunds, decimal commas


# --- bundled sample and CLI ---------------------------------------------------------
def test_write_sample_parquet_round_trip(tmp_path):
    paths = sample.write_sample(tmp_path, n_contacts=300, seed=5)
    expected = sample.generate_base(300, seed=5)
    for name in ("contacts", "events", "orders"):
        pd.testing.assert_frame_equal(pd.read_parquet(paths[name]), expected[name])


def test_write_sample_csv_and_raw(tmp_path):
    paths = sample.write_sample(tmp_path / "base", n_contacts=200, file_format="csv",
                                raw_directory=tmp_path / "raw", raw_contacts=300)
    assert sorted(p.name for p in paths.values()) == sorted(
        ["contacts.csv", "events.csv", "orders.csv",
         "contacts_raw.csv", "events_raw.csv", "orders_raw.csv"])
    assert len(pd.read_csv(paths["contacts"])) == 200
    with pytest.raises(ValueError):
        sample.write_sample(tmp_path, n_contacts=10, file_format="xlsx")


def test_sample_path_holds_the_bundle():
    folder = sample_data.sample_path()
    assert isinstance(folder, Path) and folder.name == "data"
    files = [folder / f"{name}.parquet" for name in ("contacts", "events", "orders")]
    assert all(f.is_file() for f in files)
    assert sum(f.stat().st_size for f in files) < 8_000_000
    contacts = pd.read_parquet(files[0])
    assert len(contacts) >= 15_000 and tuple(contacts.columns) == col.CONTACT_COLUMNS


def test_committed_raw_files_are_small():
    raw_dir = Path(__file__).resolve().parents[2] / "sample_data" / "raw"
    files = sorted(raw_dir.glob("*_raw.csv"))
    assert [f.name for f in files] == ["contacts_raw.csv", "events_raw.csv", "orders_raw.csv"]
    assert all(f.stat().st_size < 5_000_000 for f in files)


def test_cli_writes_files(tmp_path, capsys):
    script = Path(__file__).resolve().parents[2] / "sample_data" / "generate.py"
    spec = importlib.util.spec_from_file_location("generate_script", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main(["--contacts", "150", "--out", str(tmp_path), "--seed", "3",
                        "--format", "csv"]) == 0
    assert (tmp_path / "events.csv").is_file()
    assert "contacts" in capsys.readouterr().out


# --- helpers ------------------------------------------------------------------------
@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(0, 5), min_size=1, max_size=20))
def test_within_group_cumsum_matches_groupby(counts):
    counts = np.array(counts)
    values = np.arange(int(counts.sum()), dtype=np.int64) % 7
    groups = np.repeat(np.arange(len(counts)), counts)
    expected = pd.Series(values).groupby(groups).cumsum().to_numpy()
    assert (activity._within_group_cumsum(values, counts) == expected).all()
