"""Variant plans: assignment against an independent "first rule wins" computation in plain
pandas, the overlap waterfall, fallbacks against pandas' missing counts, previews, and the
export (waterfall, suppressions, erasure, holdout, manifests, formula-safe cells)."""

from __future__ import annotations

import csv
import json

import numpy as np
import pandas as pd
import pytest

import segexplore as se
from segexplore.delivery.manifest import verify_export
from segexplore.errors import (
    BaseFrozenError,
    ExportError,
    ParameterError,
    ParameterTypeError,
    RuleEvaluationError,
    TemplateError,
)
from segexplore.model.base import ContactBase


@pytest.fixture(scope="module")
def sample() -> ContactBase:
    return se.load_sample()


def _first_rule_wins(conditions: list[np.ndarray], names: list[str], target: np.ndarray,
                     default: str | None) -> pd.Series:
    """Plain numpy: the first condition that holds names the variant (np.select)."""
    chosen = np.select(conditions, names, default=default if default is not None else "")
    return pd.Series(np.where(target, chosen, ""))


def _sample_conditions(base: ContactBase) -> tuple[list[np.ndarray], np.ndarray]:
    contacts, features = base.contacts, base.features
    conditions = [
        (contacts["loyalty_tier"] == "gold").fillna(False).to_numpy(bool),
        (features["purchases_365d"] >= 1).to_numpy(bool),
        (contacts["city"] == "Paris").fillna(False).to_numpy(bool),
    ]
    target = (contacts["country"] == "FR").fillna(False).to_numpy(bool)
    return conditions, target


def _sample_plan(base: ContactBase, default: str | None = "standard") -> se.VariantPlan:
    plan = se.VariantPlan(base, target='country = "FR"', default=default, name="rentree")
    return (plan
            .add('loyalty_tier = "gold"', variant="gold",
                 subject="{first_name|Cher client}, votre offre or",
                 template="Bonjour {first_name|cher client}, -20% sur "
                          "{preferred_brand|nos marques}", offer="OR20")
            .add("purchases_365d >= 1", variant="buyers",
                 template="Votre dernier achat date de {days_since_last_purchase} jours")
            .add('city = "Paris"', variant="paris", subject="Paris : {first_name}"))


# --- assignment ----------------------------------------------------------------------------

@pytest.mark.parametrize("default", ["standard", None])
def test_assignment_is_first_match_wins_as_plain_pandas_computes_it(sample, default):
    before = sample.contacts.copy()
    plan = _sample_plan(sample, default)
    conditions, target = _sample_conditions(sample)
    expected = _first_rule_wins(conditions, ["gold", "buyers", "paris"], target, default)
    keep = (expected != "").to_numpy()
    want = pd.DataFrame({"contact_id": sample.contacts["contact_id"].to_numpy()[keep],
                         "variant": expected[keep].to_numpy()},
                        index=sample.contacts.index[keep])
    got = plan.assign()
    pd.testing.assert_frame_equal(got.astype({"variant": object}),
                                  want.astype({"variant": object}))
    assert got["contact_id"].is_unique
    pd.testing.assert_frame_equal(sample.contacts, before)  # nothing was mutated


def test_summary_is_the_overlap_waterfall(sample):
    plan = _sample_plan(sample)
    conditions, target = _sample_conditions(sample)
    names = ["gold", "buyers", "paris"]
    chosen = _first_rule_wins(conditions, names, target, "standard").to_numpy()
    summary = plan.summary().set_index("variant")
    for name, condition in zip(names, conditions, strict=True):
        matched = condition & target
        assert summary.loc[name, "matched"] == matched.sum()
        assert summary.loc[name, "assigned"] == (chosen == name).sum()
        assert summary.loc[name, "taken_by_earlier"] == matched.sum() - (chosen == name).sum()
    # what "paris" lost, entry by entry
    paris = conditions[2] & target
    lost = {n: int((paris & (chosen == n)).sum()) for n in ("gold", "buyers")}
    assert summary.loc["paris", "taken_by"] == ", ".join(f"{n} {v:,}" for n, v in lost.items()
                                                         if v)
    assert summary.loc["standard", "matched"] == target.sum()
    assert summary.loc["standard", "assigned"] == (chosen == "standard").sum()
    assert summary["assigned"].sum() == target.sum()
    assert summary.attrs == {"target": int(target.sum()), "unassigned": 0,
                             "outside_target": int((~target).sum())}
    assert summary["priority"].tolist() == [1, 2, 3, 4]
    assert summary["default"].tolist() == [False, False, False, True]
    without = _sample_plan(sample, None).summary()
    assert without.attrs["unassigned"] == (target & ~np.any(conditions, axis=0)).sum()


def test_order_matters_and_an_entry_can_lose_everything(sample):
    wide_first = (se.VariantPlan(sample).add('country = "FR"', variant="france")
                  .add('city = "Paris"', variant="paris"))
    assert wide_first.summary().set_index("variant").loc["paris", "assigned"] == 0
    narrow_first = (se.VariantPlan(sample).add('city = "Paris"', variant="paris")
                    .add('country = "FR"', variant="france"))
    assert narrow_first.summary().set_index("variant").loc["paris", "assigned"] == \
        sample.count('city = "Paris"')


def test_segments_with_parents_and_saved_segments(tiny_base):
    lyon = tiny_base.segment('city = "Lyon"', name="Lyon")
    android_lyon = tiny_base.segment('device = "Android"', name="Android Lyon", parent=lyon)
    plan = (se.VariantPlan(tiny_base)
            .add(android_lyon, variant="android_lyon")  # the parent counts: contact 1 only
            .add('segment("Lyon")', variant="lyon")
            .add(se.parse('language = "nl"'), variant="dutch")
            .with_default("others"))
    got = plan.assign().set_index("contact_id")["variant"].to_dict()
    assert got == {1: "android_lyon", 2: "lyon", 3: "others", 4: "others", 5: "dutch",
                   6: "dutch", 7: "others"}
    assert plan.summary()["source"].tolist() == ["Android Lyon", 'segment("Lyon")',
                                                 'language = "nl"', "everyone else"]


def test_target_and_default(tiny_base):
    plan = se.VariantPlan(tiny_base, target='country = "FR"', default="fr_default")
    plan = plan.add('city = "Paris"', variant="paris")
    got = plan.assign().set_index("contact_id")["variant"].to_dict()
    assert got == {1: "fr_default", 2: "fr_default", 3: "paris", 4: "paris", 7: "fr_default"}
    assert plan.summary().attrs == {"target": 5, "unassigned": 0, "outside_target": 2}


def test_a_plan_does_not_change(tiny_base):
    empty = se.VariantPlan(tiny_base)
    one = empty.add('city = "Lyon"', variant="lyon")
    assert empty.entries == () and len(one.entries) == 1
    with pytest.raises(BaseFrozenError, match="plan = plan.add"):
        one.name = "other"  # type: ignore[misc]
    with pytest.raises(ParameterError, match=r"plan = plan.add\(...\)"):
        empty.assign()
    two = one.with_default("rest")
    assert one.default is None and two.default.variant == "rest"
    three = two.add('city = "Paris"', variant="paris")  # the default stays last
    assert [e.variant for e in three.all_entries] == ["lyon", "paris", "rest"]
    assert [e.priority for e in three.all_entries] == [1, 2, 3]
    assert three.with_default("others").default.variant == "others"


def test_bad_entries(tiny_base):
    plan = se.VariantPlan(tiny_base).add('city = "Lyon"', variant="Lyon")
    with pytest.raises(ParameterError, match="'lyon' is in the plan already"):
        plan.add('city = "Paris"', variant="lyon")
    with pytest.raises(ParameterError, match="non-empty"):
        plan.add('city = "Paris"', variant=" ")
    with pytest.raises(ParameterTypeError, match="Segment, a Rule or rule text"):
        plan.add(42, variant="x")
    with pytest.raises(RuleEvaluationError, match="citty"):
        plan.add('citty = "Paris"', variant="paris")
    with pytest.raises(TemplateError, match="did you mean 'city'"):
        plan.add('city = "Paris"', variant="paris", subject="À {cityy}")
    with pytest.raises(TemplateError, match="subject of variant 'paris'"):
        plan.add('city = "Paris"', variant="paris", subject="{city.upper}")
    with pytest.raises(ParameterError, match="give 'variant'"):
        se.VariantPlan(tiny_base, default={"name": "x"})
    with pytest.raises(ParameterTypeError, match="ContactBase"):
        se.VariantPlan(tiny_base.contacts)


# --- merge fields ---------------------------------------------------------------------------

def test_missing_counts_against_pandas(sample):
    plan = _sample_plan(sample)
    got = plan.missing().set_index(["variant", "field"])
    assigned = plan.assign()
    table = pd.concat([sample.contacts, sample.features], axis=1)
    for (variant, field), row in got.iterrows():
        ids = assigned.index[assigned["variant"] == variant]
        expected = int(table.loc[ids, field].isna().sum())
        assert row["missing"] == expected, (variant, field)
        assert row["contacts"] == len(ids)
    assert got.loc[("gold", "preferred_brand"), "fallback"] == "nos marques"
    assert got.loc[("gold", "first_name"), "fallback"] == "Cher client / cher client"
    assert got.loc[("gold", "first_name"), "used_in"] == "subject, template"
    assert bool(got.loc[("buyers", "days_since_last_purchase"), "no_fallback"]) is True
    assert got.loc[("gold", "preferred_brand"), "missing"] > 0  # the sample has some
    assert ("standard", "first_name") not in got.index  # the default has no template


def test_fallback_counts_blank_text_as_missing():
    contacts = pd.DataFrame({"contact_id": [1, 2, 3, 4],
                             "email": ["a@x.fr", "b@x.fr", "c@x.fr", "d@x.fr"],
                             "first_name": ["Anne", None, "   ", "Dora"]})
    base = ContactBase(contacts, as_of="2026-10-31")
    plan = se.VariantPlan(base).add("contact_id >= 1", variant="all",
                                    subject="Bonjour {first_name|toi}")
    assert plan.missing()["missing"].tolist() == [2]
    preview = plan.preview(10)
    assert preview["subject"].tolist() == ["Bonjour Anne", "Bonjour toi", "Bonjour toi",
                                           "Bonjour Dora"]


def test_preview_renders_real_rows_and_masks_them(sample):
    plan = _sample_plan(sample)
    shown = plan.preview(3)
    assert shown.groupby("variant").size().to_dict() == {"buyers": 3, "gold": 3, "paris": 3,
                                                         "standard": 3}
    rows = sample.contacts.set_index("contact_id")
    gold = shown[shown["variant"] == "gold"]
    for rec in gold.itertuples():
        first = rows.loc[rec.contact_id, "first_name"]
        assert rec.subject == f"{first}, votre offre or"
        assert rec.email == rows.loc[rec.contact_id, "email"]
    assert plan.preview(3).equals(shown)  # seeded
    masked = plan.preview(3, mask_pii=True)
    assert masked["contact_id"].tolist() == shown["contact_id"].tolist()
    raw_emails = set(shown["email"])
    text = masked.to_csv()
    assert not any(email in text for email in raw_emails)
    for rec in masked[masked["variant"] == "gold"].itertuples():
        first = rows.loc[rec.contact_id, "first_name"]
        assert rec.subject == f"{first[0].upper()}., votre offre or"
        assert first not in rec.body
    with pytest.raises(ParameterError, match="n must be"):
        plan.preview(0)


def test_repr_and_html(tiny_base):
    plan = (se.VariantPlan(tiny_base, name="<b>bold</b>")
            .add('city = "Lyon"', variant="<i>lyon</i>")
            .add('country = "FR"', variant="fr").with_default("rest"))
    text = repr(plan)
    assert "first match wins" in text
    assert "fr" in text and "lost to <i>lyon</i> 2" in text
    html = plan._repr_html_()
    assert "First match wins" in html
    assert "<i>lyon</i>" not in html and "&lt;i&gt;lyon&lt;/i&gt;" in html
    assert "<b>bold</b>" not in html and "&quot;Lyon&quot;" in html
    assert "no entries yet" in repr(se.VariantPlan(tiny_base))


# --- export ---------------------------------------------------------------------------------

@pytest.fixture
def small_base() -> ContactBase:
    """Eight contacts: ann@x.fr twice (ids 1 and 8), one invalid email, three without
    consent, and a first name that a spreadsheet would run as a formula."""
    contacts = pd.DataFrame({
        "contact_id": [1, 2, 3, 4, 5, 6, 7, 8],
        "email": ["ann@x.fr", "not-an-email", "carl@x.fr", "dora@x.fr", "eve@x.fr",
                  "fred@x.fr", "gus@x.fr", "ann@x.fr"],
        "email_valid": [True, False, True, True, True, True, True, True],
        "consent": pd.Categorical(["given", "given", "withdrawn", "given", "unknown",
                                   "given", "given", "given"]),
        "first_name": ["Ann", "Bea", "Carl", "=2+3", None, "Fred", "Gus", "Annie"],
        "city": ["Lyon", "Lyon", "Lyon", "Lyon", "Paris", "Paris", "Paris", "Lyon"],
        "score": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0],
    })
    return ContactBase(contacts, as_of="2026-10-31")


def _small_plan(base: ContactBase) -> se.VariantPlan:
    return (se.VariantPlan(base, name="Rentrée")
            .add("score >= 8", variant="vip", subject="{first_name|Cher client}, merci")
            .add('city = "Lyon"', variant="lyon", template="{first_name|Bonjour}, à Lyon")
            .with_default("others", subject="Bonjour {first_name|à vous}"))


def _rows(path):
    with open(path, encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    return rows[0], rows[1:]


def test_export_one_file(small_base, tmp_path):
    result = _small_plan(small_base).export(tmp_path)
    header, rows = _rows(tmp_path / "Rentree.csv")
    assert header == ["contact_id", "email", "first_name", "variant", "subject", "body"]
    # vip: 8 (ann@x.fr). lyon: 1 2 3 4 matched; 1 has ann@x.fr, exported with vip
    # (de-duplicated); 2 invalid; 3 withdrawn. others: 5 (unknown consent) 6 7.
    assert [r[0] for r in rows] == ["8", "4", "6", "7"]
    assert [r[3] for r in rows] == ["vip", "lyon", "others", "others"]
    assert rows[0][4:] == ["Annie, merci", ""]
    assert rows[1][4:] == ["", "'=2+3, à Lyon"]  # neutralised by the export's CSV writer
    assert rows[1][2] == "'=2+3"
    assert rows[2][4:] == ["Bonjour Fred", ""]
    manifest = json.loads((tmp_path / "Rentree.csv.manifest.json").read_text("utf-8"))
    assert manifest["neutralised_cells"] == {"first_name": 1, "body": 1}
    steps = {s["step"]: s for s in manifest["waterfall"]}
    assert steps["assigned a variant (first match wins)"]["remaining"] == 8
    assert steps["exported"]["remaining"] == 4
    assert steps["de-duplicated"]["removed"] == 1
    assert manifest["plan"]["manifest"] == "Rentree.plan.json"
    verify_export(tmp_path / "Rentree.csv")
    assert list(result.files) == ["Rentree.csv"]


def test_the_plan_manifest(small_base, tmp_path):
    plan = _small_plan(small_base)
    result = plan.export(tmp_path, layout="per_variant")
    info = json.loads((tmp_path / "Rentree.plan.json").read_text("utf-8"))
    assert info == result.manifest
    assert info["schema"] == "segexplore.plan/1" and "first match wins" in info["overlap"]
    entries = {e["variant"]: e for e in info["entries"]}
    assert [e["variant"] for e in info["entries"]] == ["vip", "lyon", "others"]
    assert [e["priority"] for e in info["entries"]] == [1, 2, 3]
    assert entries["vip"]["subject"] == "{first_name|Cher client}, merci"
    assert entries["lyon"]["template"] == "{first_name|Bonjour}, à Lyon"
    assert entries["lyon"]["rule"] == 'city = "Lyon"'
    assert (entries["lyon"]["matched"], entries["lyon"]["taken_by_earlier"],
            entries["lyon"]["assigned"], entries["lyon"]["exported"]) == (5, 1, 4, 1)
    assert entries["lyon"]["taken_by"] == "vip 1"
    assert entries["others"]["default"] is True and entries["others"]["assigned"] == 3
    assert [f["file"] for f in info["files"]] == ["Rentree_vip.csv", "Rentree_lyon.csv",
                                                  "Rentree_others.csv"]
    for file in info["files"]:
        assert verify_export(tmp_path / file["file"])["sha256"] == file["sha256"]
    lyon = info["waterfalls"]["lyon"]
    assert [s["step"] for s in lyon] == ["matched by the rule", "not in a higher-priority segment",
                                         "valid email", "consented", "not suppressed",
                                         "de-duplicated", "exported"]
    assert info["data"]["contacts"]["rows"] == 8
    assert {m["variant"] for m in info["missing"]} == {"vip", "lyon", "others"}


def test_suppressed_and_erased_people_are_not_exported(small_base, tmp_path):
    quiet = small_base.with_suppressions(["FRED@x.fr"])
    _small_plan(quiet).export(tmp_path / "quiet")
    _, rows = _rows(tmp_path / "quiet" / "Rentree.csv")
    assert [r[0] for r in rows] == ["8", "4", "7"]
    small_base.forget("gus@x.fr")
    _small_plan(small_base).export(tmp_path / "erased", suppressions=["dora@x.fr"])
    _, rows = _rows(tmp_path / "erased" / "Rentree.csv")
    assert [r[0] for r in rows] == ["8", "6"]


def test_holdout_per_variant(sample, tmp_path):
    plan = _sample_plan(sample)
    result = plan.export(tmp_path, layout="per_variant", holdout=0.2, seed=11,
                         preset="mailchimp")
    info = result.manifest
    assert info["holdout"]["seed"] == 11 and info["holdout"]["share"] == 0.2
    for entry in info["entries"]:
        sendable = entry["sendable"]
        assert entry["exported"] + entry["holdout"] == sendable
        assert abs(entry["holdout"] - 0.2 * sendable) < 1  # largest remainder
        send = pd.read_csv(tmp_path / f"rentree_{entry['variant']}.csv", dtype=str)
        held = pd.read_csv(tmp_path / f"rentree_{entry['variant']}_holdout.csv", dtype=str)
        assert len(send) == entry["exported"] and len(held) == entry["holdout"]
        assert not set(send["Email Address"]) & set(held["Email Address"])
        assert (send["Variant"] == entry["variant"]).all()
        held_manifest = verify_export(tmp_path / f"rentree_{entry['variant']}_holdout.csv")
        assert held_manifest["plan"]["note"] == "holdout: do NOT email these contacts"
    plan.export(tmp_path / "again", layout="per_variant", holdout=0.2, seed=11,
                        preset="mailchimp")
    for name in result.files:
        assert (tmp_path / name).read_bytes() == (tmp_path / "again" / name).read_bytes()
    header = (tmp_path / "rentree_gold.csv").read_text("utf-8").splitlines()[0]
    assert header == "Email Address,First Name,Last Name,Variant,Subject,Body,Offer"


def test_the_export_sends_what_the_plan_assigned(sample, tmp_path):
    plan = _sample_plan(sample)
    result = plan.export(tmp_path, preset="brevo", merge_fields=False)
    frame = pd.read_csv(tmp_path / "rentree.csv", dtype=str)
    assert list(frame.columns) == ["EMAIL", "FIRSTNAME", "LASTNAME", "EXT_ID", "VARIANT"]
    assigned = plan.assign().set_index("contact_id")["variant"]
    exported = frame.set_index(frame["EXT_ID"].astype(int))["VARIANT"]
    assert (assigned.loc[exported.index] == exported).all()
    contacts = sample.contacts.set_index("contact_id").loc[assigned.index]
    sendable = contacts["email_valid"] & (contacts["consent"] == "given")
    sendable &= ~contacts["email"].duplicated()
    assert sorted(exported.index) == sorted(sendable.index[sendable.to_numpy()])
    sizes = plan.summary().set_index("variant")["assigned"]
    for variant, waterfall in result.waterfalls.items():
        steps = waterfall.set_index("step")["remaining"]
        after_priority = steps.get("not in a higher-priority segment", steps.iloc[0])
        assert after_priority == sizes[variant]
        assert steps["exported"] == (exported == variant).sum()


def test_export_errors(small_base, tmp_path):
    plan = _small_plan(small_base)
    with pytest.raises(ExportError, match="layout"):
        plan.export(tmp_path, layout="zip")
    with pytest.raises(ExportError, match="holdout"):
        plan.export(tmp_path, holdout=1.0)
    with pytest.raises(ExportError, match="preset"):
        plan.export(tmp_path, preset="sendgrid")
    with pytest.raises(ExportError, match="'variant' is written by the plan"):
        se.VariantPlan(ContactBase(small_base.contacts.assign(variant="x"),
                                   as_of="2026-10-31")).add(
            "score >= 1", variant="a").export(tmp_path, columns=["email", "variant"])
    clash = (se.VariantPlan(small_base).add("score >= 8", variant="a b")
             .add("score >= 1", variant="a_b"))
    with pytest.raises(ExportError, match="would be named plan_a_b.csv"):
        clash.export(tmp_path, layout="per_variant")
    assert not list(tmp_path.iterdir())  # refused before writing anything
