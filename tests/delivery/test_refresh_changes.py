"""refresh() keeps who entered and who left each segment at each run (ids, not only
counts), and Catalog.changes / read_changes give them back: checked against the members
computed with plain pandas masks at each date."""

from __future__ import annotations

import pandas as pd
import pytest

import segexplore as se
from segexplore.delivery.catalog import Catalog
from segexplore.delivery.changes import changes_path, read_changes
from segexplore.delivery.refresh import refresh
from segexplore.errors import CatalogError, FileFormatError

DATES = ["2026-05-31", "2026-07-31", "2026-09-30"]
RULES = {"Buyers": "count(purchase, last 90 days) >= 1",
         "Openers": "count(open, last 30 days) >= 2"}


def _ids(base, rule) -> set[str]:
    mask = base.segment(rule).mask.to_numpy(dtype=bool)
    return set(base.contacts["contact_id"][mask].astype(str))


@pytest.fixture(scope="module")
def refreshed(tmp_path_factory):
    folder = tmp_path_factory.mktemp("catalog")
    catalog = Catalog()
    for name, rule in RULES.items():
        catalog.add(name, rule)
    catalog.save(folder / "segments.yaml")
    sample = se.load_sample()
    history = folder / "segments.history.csv"  # what segexplore refresh writes by default
    reports = [refresh(catalog, sample.at(date), history_path=history) for date in DATES]
    return {"catalog": catalog, "sample": sample, "history": history, "reports": reports}


def test_the_ids_that_entered_and_left_are_the_set_differences(refreshed):
    sample = refreshed["sample"]
    changes = refreshed["catalog"].changes("Buyers")
    checked = 0
    for run, (earlier, later) in enumerate(zip(DATES[:-1], DATES[1:], strict=True), start=1):
        before, after = (_ids(sample.at(d), RULES["Buyers"]) for d in (earlier, later))
        moved = changes[changes["date"] == pd.Timestamp(later)]
        entered = set(moved.loc[moved["change"] == "entered", "contact_id"])
        left = set(moved.loc[moved["change"] == "left", "contact_id"])
        assert entered == after - before and left == before - after
        report = refreshed["reports"][run].set_index("segment")
        assert (report.loc["Buyers", "entered"], report.loc["Buyers", "left"]) == (
            len(entered), len(left))
        checked += len(entered) + len(left)
    assert checked > 100  # not vacuous: people moved both ways
    assert set(changes["segment"]) == {"Buyers"}
    assert list(changes.columns) == ["date", "run_at", "segment", "change", "contact_id"]


def test_since_keeps_the_later_runs_and_the_first_run_records_nothing(refreshed):
    history = refreshed["history"]
    every = read_changes(history)
    assert set(every["segment"]) == set(RULES)
    assert set(every["date"]) == {pd.Timestamp(d) for d in DATES[1:]}  # none on the first
    last = refreshed["catalog"].changes("Openers", since=DATES[2])
    assert set(last["date"]) == {pd.Timestamp(DATES[2])} and len(last) > 0
    assert last.equals(every[(every["segment"] == "Openers")
                             & (every["date"] >= DATES[2])].reset_index(drop=True))


def test_clear_errors(refreshed, tmp_path):
    with pytest.raises(CatalogError, match="did you mean 'Buyers'"):
        refreshed["catalog"].changes("Buyer")
    unsaved = Catalog()
    unsaved.add("Buyers", RULES["Buyers"])
    with pytest.raises(CatalogError, match="history_path"):
        unsaved.changes("Buyers")
    assert len(unsaved.changes("Buyers", history_path=tmp_path / "none.csv")) == 0
    changes_path(tmp_path / "h.csv").write_text("not parquet")
    with pytest.raises(FileFormatError, match="h.changes.parquet"):
        read_changes(tmp_path / "h.csv")
