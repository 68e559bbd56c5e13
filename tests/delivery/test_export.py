"""Export: the sendable waterfall step by step, presets, formula-safe CSV, atomic writes,
manifests, priority exports and seeded splits. Every file is read back twice: with Python's
csv module and with pandas."""

from __future__ import annotations

import csv
import json

import numpy as np
import pandas as pd
import pytest
from export_faults import failing_writer

import segexplore as se
from segexplore.delivery import csv as ecsv
from segexplore.delivery import export as ex
from segexplore.delivery import manifest as mf
from segexplore.delivery import split as spl
from segexplore.delivery import suppressions as sup
from segexplore.delivery import waterfall as wf
from segexplore.errors import ExportError, SchemaError
from segexplore.model.base import ContactBase


def _read_csv_module(path, sep=",", encoding="utf-8"):
    with open(path, encoding=encoding, newline="") as handle:
        rows = list(csv.reader(handle, delimiter=sep))
    return rows[0], rows[1:]


def _read_pandas(path, sep=",", encoding="utf-8"):
    return pd.read_csv(path, sep=sep, encoding=encoding, dtype=str, keep_default_na=False)


def _read_both(path, expected_header, expected_rows, sep=",", encoding="utf-8"):
    header, rows = _read_csv_module(path, sep, encoding)
    assert header == expected_header
    assert rows == expected_rows
    frame = _read_pandas(path, sep, encoding)
    assert list(frame.columns) == expected_header
    assert frame.to_numpy().tolist() == expected_rows


@pytest.fixture
def waterfall_base() -> ContactBase:
    """One contact removed at each step of the waterfall, for a known reason."""
    contacts = pd.DataFrame({
        "contact_id": [1, 2, 3, 4, 5, 6, 7, 8],
        "email": ["ann@x.fr", "not-an-email", "carl@x.fr", "dora@x.fr", "eve@x.fr",
                  "fred@x.fr", "gus@x.fr", "ann@x.fr"],
        "email_valid": [True, False, True, True, True, True, True, True],
        "consent": pd.Categorical(["given", "given", "withdrawn", "pending", "unknown",
                                   "given", "given", "given"]),
        "first_name": ["Ann", "Bea", "Carl", "Dora", "Eve", "Fred", "Gus", "Annie"],
        "last_name": ["Arnaud", "Blanc", "Colin", "Dupont", "Émery", "Faure", "Garnier",
                      "Arnaud"],
        "city": ["Lyon"] * 6 + ["Paris", "Lyon"],
        "score": [-5.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0],
    })
    return ContactBase(contacts, as_of="2026-10-31")


SUPPRESSED = pd.DataFrame({"E-mail": [" FRED@x.fr"], "Motif": ["hard bounce"],
                           "Date": ["2026-05-01"]})


def test_waterfall_removes_one_known_contact_per_step(waterfall_base, tmp_path):
    seg = waterfall_base.segment('city = "Lyon"', name="Lyon")
    result = ex.export_segment(seg, tmp_path / "lyon.csv", suppressions=SUPPRESSED)
    steps = result.waterfall.set_index("step")
    assert steps["remaining"].to_dict() == {
        "matched by the rule": 7, "valid email": 6, "consented": 3, "not suppressed": 2,
        "de-duplicated": 1, "exported": 1}
    assert steps["removed"].to_dict() == {
        "matched by the rule": 1, "valid email": 1, "consented": 3, "not suppressed": 1,
        "de-duplicated": 1, "exported": 0}
    assert steps.loc["consented", "reason"] == \
        "consent not given (pending 1, unknown 1, withdrawn 1)"
    assert steps.loc["not suppressed", "reason"] == "on a suppression list (bounce 1)"
    assert result.rows == 1
    _read_both(tmp_path / "lyon.csv", ["contact_id", "email", "first_name", "last_name"],
               [["1", "ann@x.fr", "Ann", "Arnaud"]])
    html = result._repr_html_()
    assert "de-duplicated" in html and "<table>" in html
    assert "bounce 1" in result.waterfall._repr_html_()


def test_include_unsendable_says_where_each_contact_was_removed(waterfall_base, tmp_path):
    seg = waterfall_base.segment('city = "Lyon"', name="Lyon")
    result = ex.export_segment(seg, tmp_path / "audit.csv", suppressions=SUPPRESSED,
                               include_unsendable=True, columns=["contact_id"])
    frame = _read_pandas(tmp_path / "audit.csv")
    assert dict(zip(frame["contact_id"], frame["excluded_at"], strict=True)) == {
        "1": "", "2": "valid email", "3": "consented", "4": "consented", "5": "consented",
        "6": "not suppressed", "8": "de-duplicated"}
    assert frame["sendable"].tolist() == ["true"] + ["false"] * 6
    assert result.rows == 7 and result.manifest["options"]["include_unsendable"] is True


def test_presets_name_columns_as_the_platform_expects(waterfall_base, tmp_path):
    seg = waterfall_base.segment('city = "Lyon"', name="Lyon")
    ex.export_segment(seg, tmp_path / "mc.csv", preset="mailchimp", suppressions=SUPPRESSED)
    _read_both(tmp_path / "mc.csv", ["Email Address", "First Name", "Last Name"],
               [["ann@x.fr", "Ann", "Arnaud"]])
    ex.export_segment(seg, tmp_path / "brevo.csv", preset="brevo", suppressions=["fred@x.fr"],
                      columns=["email", "first_name", "last_name", "contact_id", "city"])
    _read_both(tmp_path / "brevo.csv", ["EMAIL", "FIRSTNAME", "LASTNAME", "EXT_ID", "CITY"],
               [["ann@x.fr", "Ann", "Arnaud", "1", "Lyon"]])
    with pytest.raises(ExportError, match="unknown preset 'sendgrid'"):
        ex.export_segment(seg, tmp_path / "x.csv", preset="sendgrid")
    with pytest.raises(ExportError, match="folder .*missing of x.csv does not exist"):
        ex.export_segment(seg, tmp_path / "missing" / "x.csv")
    with pytest.raises(SchemaError, match="'citty'.*did you mean 'city'"):
        ex.export_segment(seg, tmp_path / "x.csv", columns=["citty"])


DANGEROUS = ["=1+1", "+33 6 12", "-5", "@SUM(A1)", "\tx", "\rx"]


@pytest.fixture
def formula_base() -> ContactBase:
    n = len(DANGEROUS)
    contacts = pd.DataFrame({
        "contact_id": range(1, n + 1),
        "email": [f"p{i}@x.fr" for i in range(n)],
        "email_valid": True,
        "consent": "given",
        "first_name": DANGEROUS,
        "phone": DANGEROUS[::-1],
        "score": [-5.0, -1.5, 0.0, 2.0, 3.0, 4.0],
        "visits": [-3, 1, 2, 3, 4, 5],
    })
    return ContactBase(contacts, as_of="2026-10-31")


@pytest.mark.parametrize("excel", [False, True])
def test_text_cells_that_start_a_formula_are_neutralised(formula_base, tmp_path, excel):
    seg = formula_base.segment("score < 100", name="all")
    path = tmp_path / "f.csv"
    result = ex.export_segment(seg, path, columns=["email", "first_name", "phone", "score",
                                                   "visits"], excel=excel)
    sep, encoding = (";", "utf-8-sig") if excel else (",", "utf-8")
    expected = [[f"p{i}@x.fr", "'" + DANGEROUS[i], "'" + DANGEROUS[::-1][i],
                 str(score), str(visits)]
                for i, (score, visits) in enumerate(zip([-5.0, -1.5, 0.0, 2.0, 3.0, 4.0],
                                                        [-3, 1, 2, 3, 4, 5], strict=True))]
    _read_both(path, ["email", "first_name", "phone", "score", "visits"], expected,
               sep=sep, encoding=encoding)
    # Numbers written by us stay numbers: -5.0 and -3 are not quoted.
    assert expected[0][3:] == ["-5.0", "-3"]
    assert result.manifest["neutralised_cells"] == {"first_name": 6, "phone": 6}
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") == excel
    assert not raw.startswith(b"\xef\xbb\xbf\xef\xbb\xbf")


def test_neutralise_formula_leaves_ordinary_text_alone():
    assert ecsv.neutralise_formula("Anne-Marie") == "Anne-Marie"
    assert ecsv.neutralise_formula("") == ""
    assert ecsv.neutralise_formula("=x") == "'=x"


def test_interrupted_write_leaves_the_previous_file_intact(formula_base, tmp_path,
                                                           monkeypatch):
    seg = formula_base.segment("score < 100", name="all")
    path = tmp_path / "out.csv"
    ex.export_segment(seg, path)
    before = path.read_bytes()
    manifest_before = (tmp_path / "out.csv.manifest.json").read_bytes()
    monkeypatch.setattr(ecsv, "_row_writer", failing_writer(after=3))
    with pytest.raises(RuntimeError, match="disk full"):
        ex.export_segment(seg, path, columns=["email", "score"])
    assert path.read_bytes() == before
    assert (tmp_path / "out.csv.manifest.json").read_bytes() == manifest_before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv", "out.csv.manifest.json"]
    with pytest.raises(RuntimeError):
        ex.export_segment(seg, tmp_path / "new.csv")
    assert not (tmp_path / "new.csv").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv", "out.csv.manifest.json"]


def test_manifest_describes_rule_data_waterfall_and_file(tiny_base, tmp_path):
    seg = tiny_base.segment('country = "FR"', name="France")
    child = tiny_base.segment('city = "Lyon"', name="Lyon FR", parent=seg)
    result = ex.export_segment(child, tmp_path / "lyon.csv", preset="brevo")
    manifest = json.loads((tmp_path / "lyon.csv.manifest.json").read_text(encoding="utf-8"))
    assert manifest == json.loads(json.dumps(result.manifest, default=str))
    assert manifest["segment"]["name"] == "Lyon FR"
    assert manifest["segment"]["rule"] == 'city = "Lyon"'
    assert manifest["segment"]["effective_rule"] == 'country = "FR" and city = "Lyon"'
    assert manifest["segment"]["parent"] == "France"
    assert se.rule_from_dict(manifest["segment"]["rule_json"]) == se.parse('city = "Lyon"')
    assert manifest["as_of"] == "2026-10-31T00:00:00"
    assert manifest["data"]["contacts"]["rows"] == 7
    assert manifest["data"]["events"]["rows"] == 32 and manifest["data"]["orders"] is None
    assert [s["step"] for s in manifest["waterfall"]][-1] == "exported"
    assert manifest["rows"] == result.rows == 2
    assert manifest["preset"] == "brevo" and manifest["segexplore_version"] == se.__version__
    assert manifest["created_at"].endswith("Z")
    assert mf.verify_export(tmp_path / "lyon.csv")["sha256"] == manifest["sha256"]
    (tmp_path / "lyon.csv").write_text("EMAIL\nsomeone@else.fr\n", encoding="utf-8")
    with pytest.raises(ExportError, match="does not match its manifest"):
        mf.verify_export(tmp_path / "lyon.csv")


def test_data_fingerprint_is_stable_and_sees_changes(tiny_tables):
    contacts, events = tiny_tables
    now = pd.Timestamp("2026-11-01")
    a = mf.data_fingerprint(se.read_base(contacts, events, now=now))
    b = mf.data_fingerprint(se.read_base(contacts, events, now=now))
    assert a == b
    changed = contacts.assign(city=contacts["city"].replace("Gent", "Gand"))
    c = mf.data_fingerprint(se.read_base(changed, events, now=now))
    assert c["contacts"]["sha256"] != a["contacts"]["sha256"]
    assert c["events"] == a["events"] and c["sha256"] != a["sha256"]


def test_read_suppressions_aliases_reasons_and_dates(tmp_path):
    path = tmp_path / "supp.csv"
    path.write_text("Mail;Type;Timestamp\n Ann@X.fr ;Unsubscribed;15/03/2026\n"
                    "bob@x.fr;spam;16/03/2026\ncid@x.fr;;\n;bounce;\n", encoding="utf-8")
    listed = sup.read_suppressions(path)
    assert listed["email"].tolist() == ["ann@x.fr", "bob@x.fr", "cid@x.fr"]
    assert listed["reason"].tolist() == ["unsubscribe", "complaint", "other"]
    assert listed["date"].iloc[0] == pd.Timestamp("2026-03-15")
    with pytest.raises(SchemaError, match="no email column"):
        sup.read_suppressions(pd.DataFrame({"name": ["x"]}))


def test_a_base_with_suppressions_applies_them_to_every_export(waterfall_base, tmp_path):
    quiet = waterfall_base.with_suppressions(pd.DataFrame({"email": ["ANN@x.fr"]}))
    seg = quiet.segment('city = "Lyon"', name="Lyon")
    steps = wf.sendable_waterfall(seg).set_index("step")
    assert steps.loc["not suppressed", "removed"] == 2  # contacts 1 and 8 share ann@x.fr
    assert steps.loc["de-duplicated", "removed"] == 0
    assert len(quiet.suppressions) == 1
    ex.export_segment(seg, tmp_path / "lyon.csv", columns=["email"])
    _read_both(tmp_path / "lyon.csv", ["email"], [["fred@x.fr"]])


@pytest.fixture(scope="module")
def sample():
    return se.load_sample()


def test_priority_export_puts_each_sendable_contact_in_exactly_one_file(sample, tmp_path):
    rules = {"Buyers": "purchases_365d >= 1", "Belgium": 'country = "BE"',
             "Android": 'device = "Android"'}
    segments = [sample.segment(text, name=name) for name, text in rules.items()]
    results = ex.export_segments(segments, tmp_path, overlap="priority")
    files = {name: _read_pandas(r.path) for name, r in results.items()}
    ids = {name: set(frame["contact_id"].astype(int)) for name, frame in files.items()}
    for name, frame in files.items():  # csv module agrees with pandas
        header, rows = _read_csv_module(results[name].path)
        assert rows == frame.to_numpy().tolist()
    sendable = set(sample.contacts["contact_id"][
        sample.contacts["email_valid"] & (sample.contacts["consent"] == "given")])
    matched = set()
    for seg in segments:
        matched |= set(sample.contacts["contact_id"][seg.mask.to_numpy()])
    assert sum(len(s) for s in ids.values()) == len(matched & sendable)
    assert set.union(*ids.values()) == matched & sendable
    assert not ids["Buyers"] & ids["Belgium"] and not ids["Belgium"] & ids["Android"]
    assert not ids["Buyers"] & ids["Android"]
    later = results["Android"].waterfall.set_index("step")
    assert later.loc["not in a higher-priority segment", "removed"] == \
        len((set(sample.contacts["contact_id"][segments[2].mask.to_numpy()]))
            & (set(sample.contacts["contact_id"][segments[0].mask.to_numpy()])
               | set(sample.contacts["contact_id"][segments[1].mask.to_numpy()])))
    manifest = json.loads(results["Android"].manifest_path.read_text(encoding="utf-8"))
    assert manifest["overlap"]["mode"] == "priority"
    assert manifest["overlap"]["order"] == ["Buyers", "Belgium", "Android"]
    allowed = ex.export_segments(segments, tmp_path / "allow", overlap="allow")
    assert "not in a higher-priority segment" not in set(allowed["Android"].waterfall["step"])
    assert allowed["Android"].rows > results["Android"].rows
    with pytest.raises(ExportError, match="overlap"):
        ex.export_segments(segments, tmp_path, overlap="first")


def test_split_is_seeded_exact_and_stratified(sample):
    seg = sample.segment('country = "FR"', name="France")
    groups = spl.split(seg, seed=42)
    assert groups.equals(spl.split(seg, seed=42))
    assert not groups["group"].equals(spl.split(seg, seed=43)["group"])
    n = len(groups)
    assert n == wf.sendable_waterfall(seg)["remaining"].iloc[-1]
    counts = groups["group"].value_counts()
    for group, share in {"A": 0.45, "B": 0.45, "holdout": 0.10}.items():
        assert abs(counts[group] - share * n) < 1
    assert groups.attrs["seed"] == 42 and groups.attrs["counts"] == counts.to_dict()
    strat = spl.split(seg, variants={"A": 0.5, "B": 0.5}, holdout=0, seed=1,
                     stratify="language")
    for _, part in strat.groupby("stratum"):
        sizes = part["group"].value_counts().reindex(["A", "B"], fill_value=0)
        assert abs(sizes["A"] - sizes["B"]) <= 1
    drawn = spl.split(seg)
    assert isinstance(drawn.attrs["seed"], int)
    with pytest.raises(ExportError, match="add up to 1"):
        spl.split(seg, variants={"A": 0.5, "B": 0.5}, holdout=0.1)


def test_split_does_not_depend_on_row_order(waterfall_base):
    contacts = pd.concat([waterfall_base.contacts] * 1, ignore_index=True)
    contacts["email"] = [f"u{i}@x.fr" for i in range(len(contacts))]
    contacts["email_valid"] = True
    contacts["consent"] = "given"
    forward = ContactBase(contacts, as_of="2026-10-31")
    backward = ContactBase(contacts.iloc[::-1].reset_index(drop=True), as_of="2026-10-31")
    a = spl.split(forward.segment("score < 100", name="s"), seed=5).set_index("contact_id")
    b = spl.split(backward.segment("score < 100", name="s"), seed=5).set_index("contact_id")
    assert a["group"].sort_index().equals(b["group"].sort_index())


def test_export_split_writes_one_file_per_group(sample, tmp_path):
    seg = sample.segment('country = "BE"', name="Belgique")
    results = spl.export_split(seg, tmp_path, seed=3, columns=["contact_id", "email"])
    expected = spl.split(seg, seed=3)
    for group, result in results.items():
        frame = _read_pandas(result.path)
        _, rows = _read_csv_module(result.path)
        assert rows == frame.to_numpy().tolist()
        want = expected.loc[expected["group"] == group, "contact_id"].astype(str).tolist()
        assert frame["contact_id"].tolist() == want
        manifest = result.manifest
        assert manifest["split"]["seed"] == 3 and manifest["split"]["group"] == group
        assert manifest["split"]["counts"] == expected.attrs["counts"]
        assert manifest["waterfall"][-2]["step"] == f"in group {group!r}"
    assert results["holdout"].path.name == "Belgique_holdout.csv"
    assert "do NOT email" in results["holdout"].manifest["split"]["note"]
    assert np.sum([r.rows for r in results.values()]) == len(expected)
