"""Catalog of saved segments: YAML round trip, history, renames, dependencies, cycles,
refresh history, and the ``export`` / ``refresh`` commands."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest
import yaml

import segexplore as se
from segexplore.cli import main
from segexplore.delivery import catalog as cat
from segexplore.delivery import refresh as rf
from segexplore.delivery.catalog import Catalog
from segexplore.delivery.refresh import read_history, refresh
from segexplore.errors import CatalogError, FileFormatError


@pytest.fixture
def clock(monkeypatch):
    """A clock that moves one minute per call, so times are predictable."""
    ticks = iter(f"2026-11-01T10:{m:02d}:00Z" for m in range(60))
    monkeypatch.setattr(cat, "_now", lambda: next(ticks))


def _catalog() -> Catalog:
    catalog = Catalog()
    catalog.add("Lyon", 'city = "Lyon"', owner="ana", tags=["geo", "fr"],
                description="Lyonnais")
    catalog.add("Buyers 7d", "count(purchase, last 7 days) >= 1", owner="bob")
    catalog.add("Lyon buyers", 'segment("Buyers 7d")', parent="Lyon")
    return catalog


def test_round_trip_is_equal_and_readable_in_a_diff(tmp_path, clock):
    catalog = _catalog()
    catalog.update("Lyon", rule='city in ("Lyon", "Villeurbanne")', by="carl")
    path = catalog.save(tmp_path / "segments.yaml")
    loaded = Catalog.load(path)
    assert loaded == catalog
    assert loaded.path == path
    text = path.read_text(encoding="utf-8")
    assert loaded.to_yaml() == text  # saving again changes nothing in the diff
    assert "rule: city in (\"Lyon\", \"Villeurbanne\")\n" in text
    assert "{" not in text  # block style everywhere
    first = yaml.safe_load(text)["segments"][0]
    assert list(first) == ["name", "description", "owner", "tags", "parent", "rule",
                           "rule_tree", "created", "updated", "updated_by", "previous_names",
                           "history"]
    assert first["rule_tree"]["kind"] == "in"
    assert first["history"] == [{"rule": 'city = "Lyon"', "updated": "2026-11-01T10:00:00Z",
                                 "by": "ana"}]


def test_update_appends_the_old_definition_to_history(clock):
    catalog = _catalog()
    entry = catalog.update("lyon", rule='city = "Lyon" and country = "FR"', by="carl")
    assert entry.updated == "2026-11-01T10:03:00Z" and entry.updated_by == "carl"
    entry = catalog.update("Lyon", rule='city = "Paris"', by="dan")
    assert [h["rule"] for h in entry.history] == ['city = "Lyon"',
                                                  'city = "Lyon" and country = "FR"']
    assert [h["by"] for h in entry.history] == ["ana", "carl"]
    assert entry.created == "2026-11-01T10:00:00Z"
    same = catalog.update("Lyon", description="Parisiens")
    assert len(same.history) == 2 and same.description == "Parisiens"
    moved = catalog.update("Lyon buyers", parent=None)
    assert moved.history[-1]["parent"] == "Lyon"


def test_rename_keeps_history_and_updates_dependents(clock):
    catalog = _catalog()
    catalog.update("Buyers 7d", rule="count(purchase, last 14 days) >= 1")
    entry = catalog.rename("Buyers 7d", "Recent buyers", by="eve")
    assert entry.previous_names == ("Buyers 7d",)
    assert len(entry.history) == 1
    assert catalog["Lyon buyers"].text == 'segment("Recent buyers")'
    catalog.rename("Lyon", "Lyon city")
    assert catalog["Lyon buyers"].parent == "Lyon city"
    assert catalog.names == ["Lyon city", "Recent buyers", "Lyon buyers"]
    with pytest.raises(CatalogError, match="already taken by 'Lyon city'"):
        catalog.rename("Lyon buyers", "LYON CITY")


@pytest.mark.parametrize("name, message", [
    ("", "non-empty"), (" Lyon", "spaces"), ("Lyon ", "spaces"), ("x" * 81, "limit is 80"),
    ("LYON", "already taken by 'Lyon'"), (None, "non-empty"),
])
def test_names_are_checked(name, message):
    catalog = _catalog()
    with pytest.raises(CatalogError, match=message):
        catalog.add(name, "score > 1")


def test_references_must_exist_and_remove_refuses_while_used():
    catalog = _catalog()
    with pytest.raises(CatalogError, match="'Lyonn'.*did you mean 'Lyon'"):
        catalog.add("x", "score > 1", parent="Lyonn")
    with pytest.raises(CatalogError, match="needs 'Buyers 8d'"):
        catalog.add("y", 'segment("Buyers 8d")')
    assert "y" not in catalog
    with pytest.raises(CatalogError, match=r"used by 'Lyon buyers' \(parent\)"):
        catalog.remove("Lyon")
    with pytest.raises(CatalogError, match=r"'Lyon buyers' \(segment\(\) reference\)"):
        catalog.remove("Buyers 7d")
    catalog.remove("Lyon buyers")
    catalog.remove("Lyon")
    assert catalog.names == ["Buyers 7d"]


def _yaml(*segments) -> str:
    return yaml.safe_dump({"schema": cat.CATALOG_SCHEMA, "segments": list(segments)})


def test_dependency_order_and_apply(tiny_base):
    text = _yaml({"name": "Lyon buyers", "parent": "Lyon", "rule": 'segment("Buyers")'},
                 {"name": "Buyers", "rule": "count(purchase, last 30 days) >= 1"},
                 {"name": "Lyon", "rule": 'city = "Lyon"'})
    catalog = Catalog.from_yaml(text)
    assert catalog.dependency_order() == ["Lyon", "Buyers", "Lyon buyers"]
    segments = catalog.apply(tiny_base)
    assert list(segments) == ["Lyon", "Buyers", "Lyon buyers"]
    members = tiny_base.contacts["contact_id"][segments["Lyon buyers"].mask.to_numpy()]
    assert members.tolist() == [1]  # Lyon {1, 2} and bought in 30 days {1, 3, 4, 6}
    assert tiny_base.segments["Lyon buyers"].parent.name == "Lyon"


def test_cycles_are_detected_and_named():
    text = _yaml({"name": "A", "rule": 'segment("B")'}, {"name": "B", "rule": 'segment("C")'},
                 {"name": "C", "rule": 'segment("A") or score > 1'})
    with pytest.raises(CatalogError, match="cycle: A -> B -> C -> A"):
        Catalog.from_yaml(text)
    catalog = Catalog()
    catalog.add("A", "score > 1")
    catalog.add("B", 'segment("A")')
    with pytest.raises(CatalogError, match="cycle: A -> B -> A"):
        catalog.update("A", rule='segment("B")')
    assert catalog["A"].text == "score > 1" and catalog["A"].history == ()
    with pytest.raises(CatalogError, match="cycle: C -> C"):
        catalog.add("C", 'segment("C")')


def test_bad_catalog_files_get_clear_errors(tmp_path):
    with pytest.raises(FileFormatError, match="no such catalog file"):
        Catalog.load(tmp_path / "missing.yaml")
    with pytest.raises(CatalogError, match="not a segexplore catalog"):
        Catalog.from_yaml("segments: []")
    with pytest.raises(CatalogError, match="unknown key 'descripton'.*'description'"):
        Catalog.from_yaml(_yaml({"name": "A", "rule": "score > 1", "descripton": "x"}))
    with pytest.raises(CatalogError, match="'rule' and 'rule_tree' disagree"):
        Catalog.from_yaml(_yaml({"name": "A", "rule": "score > 1",
                                 "rule_tree": se.parse("score > 2").to_dict()}))
    with pytest.raises(CatalogError, match=r"segment 2 \('a'\).*already taken by 'A'"):
        Catalog.from_yaml(_yaml({"name": "A", "rule": "score > 1"},
                                {"name": "a", "rule": "score > 2"}))
    with pytest.raises(CatalogError, match="segment 1 .*expected a value"):
        Catalog.from_yaml(_yaml({"name": "A", "rule": "score >"}))
    with pytest.raises(FileFormatError, match="not valid YAML"):
        Catalog.from_yaml("schema: [")


def _refresh_catalog() -> Catalog:
    catalog = Catalog()
    catalog.add("Lyon", 'city = "Lyon"')
    catalog.add("Buyers 7d", "count(purchase, last 7 days) >= 1")
    catalog.add("Visitors 7d", "count(visit, last 7 days) >= 1")
    return catalog


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_refresh_records_entered_left_and_jaccard(tiny_base, tmp_path, suffix):
    history = tmp_path / f"history{suffix}"
    catalog = _refresh_catalog()
    first = refresh(catalog, tiny_base.at("2026-10-13"), history_path=history).set_index("segment")
    # as of 10-13: Lyon {1, 2}, bought in (10-06, 10-13] {1, 4}, visited {1, 3}
    assert first["size"].to_dict() == {"Lyon": 2, "Buyers 7d": 2, "Visitors 7d": 2}
    assert first["entered"].isna().all() and first["jaccard"].isna().all()
    assert not first["jump"].any()
    second = refresh(catalog, tiny_base.at("2026-10-31"), history_path=history,
                     jump_threshold=0.4)
    second = second.set_index("segment")
    # as of 10-31: bought in (10-24, 10-31] {1, 3, 6}, visited {1, 3, 5}
    assert second["size"].to_dict() == {"Lyon": 2, "Buyers 7d": 3, "Visitors 7d": 3}
    assert second["entered"].to_dict() == {"Lyon": 0, "Buyers 7d": 2, "Visitors 7d": 1}
    assert second["left"].to_dict() == {"Lyon": 0, "Buyers 7d": 1, "Visitors 7d": 0}
    assert second["jaccard"].to_dict() == pytest.approx(
        {"Lyon": 1.0, "Buyers 7d": 1 / 4, "Visitors 7d": 2 / 3})
    assert second["change"].to_dict() == pytest.approx(
        {"Lyon": 0.0, "Buyers 7d": 0.5, "Visitors 7d": 0.5})
    assert second["jump"].to_dict() == {"Lyon": False, "Buyers 7d": True, "Visitors 7d": True}
    stored = read_history(history)
    assert list(stored.columns) == rf.HISTORY_COLUMNS
    assert stored["date"].dt.strftime("%Y-%m-%d").tolist() == ["2026-10-13"] * 3 + \
        ["2026-10-31"] * 3
    assert stored["entered"].tolist()[3:] == [0, 2, 1]
    assert math.isclose(stored["jaccard"].iloc[4], 0.25)
    members = pd.read_parquet(history.with_name("history.members.parquet"))
    assert sorted(members.loc[members["segment"] == "Buyers 7d", "contact_id"]) == \
        ["1", "3", "6"]


def test_refresh_exports_when_asked(tiny_base, tmp_path):
    report = refresh(_refresh_catalog(), tiny_base, history_path=tmp_path / "h.csv",
                     export_dir=tmp_path / "out", preset="mailchimp")
    assert [p.split("/")[-1] for p in report["file"]] == ["Lyon.csv", "Buyers_7d.csv",
                                                          "Visitors_7d.csv"]
    header = (tmp_path / "out" / "Lyon.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header == "Email Address"


@pytest.fixture
def files(tiny_tables, tmp_path):
    contacts, events = tiny_tables
    contacts.to_csv(tmp_path / "contacts.csv", index=False)
    events.to_csv(tmp_path / "events.csv", index=False)
    _refresh_catalog().save(tmp_path / "segments.yaml")
    return tmp_path


def test_cli_export_from_catalog_and_from_rule(files, capsys):
    code = main(["export", str(files / "segments.yaml"), "--data", str(files / "contacts.csv"),
                 "--events", str(files / "events.csv"), "--segment", "lyon",
                 "--out", str(files / "lyon.csv"), "--preset", "brevo"])
    out = capsys.readouterr().out
    assert code == 0
    assert "Exported 2 contacts of 'Lyon'" in out and "consented" in out
    assert (files / "lyon.csv").read_text(encoding="utf-8").splitlines() == [
        "EMAIL,EXT_ID", "a@x.fr,1", "b@x.fr,2"]
    manifest = json.loads((files / "lyon.csv.manifest.json").read_text(encoding="utf-8"))
    assert manifest["segment"]["name"] == "Lyon"
    code = main(["export", 'city = "Paris"', "--data", str(files / "contacts.csv"),
                 "--segment", "Paris", "--out", str(files / "paris.csv"), "--excel"])
    assert code == 0
    assert (files / "paris.csv").read_bytes().startswith(b"\xef\xbb\xbfcontact_id;email")


def test_cli_errors_exit_2_with_one_line(files, capsys):
    code = main(["export", str(files / "segments.yaml"), "--data", str(files / "contacts.csv"),
                 "--out", str(files / "x.csv")])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "holds 3 segments" in err
    code = main(["export", str(files / "segments.yaml"), "--data", str(files / "contacts.csv"),
                 "--segment", "Lyonn", "--out", str(files / "x.csv")])
    assert code == 2 and "did you mean 'Lyon'" in capsys.readouterr().err


def test_cli_refresh_prints_sizes_and_flags_jumps(files, capsys):
    args = ["refresh", str(files / "segments.yaml"), "--data", str(files / "contacts.csv"),
            "--events", str(files / "events.csv")]
    assert main([*args, "--as-of", "2026-10-13"]) == 0
    assert "first run" in capsys.readouterr().out
    assert main([*args, "--fail-on-jump", "--threshold", "0.4"]) == 1
    out = capsys.readouterr().out
    assert "2 segment(s) changed by more than 40%: Buyers 7d, Visitors 7d" in out
    assert (files / "segments.history.csv").exists()
