"""Concurrent writers of a catalog and of a size history never lose work (issue 11).

Real processes (``subprocess``, each a fresh interpreter) write the same files at the same
time: every worker first says it is ready, then waits for a shared start file, so their
writes really overlap even on a loaded machine. Counts are checked against what the
workers were told to write, not against what the code reports.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from segexplore.delivery import catalog as cat
from segexplore.delivery import refresh as rf
from segexplore.delivery.catalog import Catalog
from segexplore.delivery.refresh import read_history
from segexplore.errors import CatalogConflictError, LockTimeoutError, SegexploreError

#: Preamble of every worker: wait for the start file, so that all workers begin together.
_START = """
import json, sys, time
from pathlib import Path
folder = Path(sys.argv[1]); me = int(sys.argv[2])
import segexplore as se
from segexplore.delivery.catalog import Catalog
from segexplore.delivery.refresh import refresh
from segexplore.errors import CatalogConflictError
{setup}
(folder / f"ready-{{me}}").touch()
while not (folder / "go").exists():
    time.sleep(0.005)
"""


def _run_workers(folder: Path, body: str, count: int, *, setup: str = "",
                 timeout: float = 240) -> list[subprocess.CompletedProcess]:
    """Run ``count`` worker processes on ``folder``; start them together; wait for all."""
    code = textwrap.dedent(_START).format(setup=textwrap.dedent(setup)) + textwrap.dedent(body)
    workers = [subprocess.Popen([sys.executable, "-c", code, str(folder), str(i)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for i in range(count)]
    deadline = time.monotonic() + timeout
    try:
        while sum((folder / f"ready-{i}").exists() for i in range(count)) < count:
            crashed = [w for w in workers if w.poll() not in (None, 0)]
            assert not crashed, crashed[0].communicate()[1]
            assert time.monotonic() < deadline, "workers never got ready"
            time.sleep(0.01)
        (folder / "go").touch()
        results = []
        for worker in workers:
            out, err = worker.communicate(timeout=max(1.0, deadline - time.monotonic()))
            results.append(subprocess.CompletedProcess(worker.args, worker.returncode, out, err))
        return results
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait()


def _names_on_disk(path: Path) -> list[str]:
    """Segment names read straight from the YAML, without segexplore."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [item["name"] for item in data["segments"]]


# --------------------------------------------------------------------------- catalog


def test_four_processes_adding_25_segments_each_keep_all_100(tmp_path):
    path = tmp_path / "segments.yaml"
    seed = Catalog()
    seed.add("All Lyon", 'city = "Lyon"')
    seed.save(path)
    # Even workers reload before every add (load -> add -> save, as a script would);
    # odd ones keep one Catalog object and save it after every add (as a notebook would).
    body = """
    catalog = Catalog.load(folder / "segments.yaml")
    for j in range(25):
        if me % 2 == 0:
            catalog = Catalog.load(folder / "segments.yaml")
        catalog.add(f"w{me} s{j:02d}", f"score > {me * 100 + j}", owner=f"worker {me}")
        catalog.save()
    print(json.dumps(catalog.names))
    """
    results = _run_workers(tmp_path, body, 4)
    assert [r.returncode for r in results] == [0] * 4, [r.stderr for r in results]
    expected = {"All Lyon"} | {f"w{i} s{j:02d}" for i in range(4) for j in range(25)}
    names = _names_on_disk(path)
    assert len(names) == 101 and set(names) == expected
    # each segment kept the rule its own worker gave it
    rules = {item["name"]: item["rule"]
             for item in yaml.safe_load(path.read_text(encoding="utf-8"))["segments"]}
    assert all(rules[f"w{i} s{j:02d}"] == f"score > {i * 100 + j}"
               for i in range(4) for j in range(25))
    # every worker's last save held what the others had saved before it, plus its own
    for i, result in enumerate(results):
        seen = set(json.loads(result.stdout))
        assert {f"w{i} s{j:02d}" for j in range(25)} <= seen
    assert Catalog.load(path).names == names  # and it loads


def test_two_processes_adding_one_name_with_different_rules_conflict(tmp_path):
    path = tmp_path / "segments.yaml"
    Catalog().save(path)
    # Both load the empty catalog before either saves (the start file), so the second
    # writer finds the first one's 'Lyon' on disk with another rule.
    setup = """
    catalog = Catalog.load(folder / "segments.yaml")
    catalog.add("Lyon", 'city = "Lyon"' if me == 0 else 'city = "Paris"')
    """
    body = """
    try:
        catalog.save()
        print(json.dumps({"saved": True}))
    except CatalogConflictError as error:
        print(json.dumps({"saved": False, "message": str(error),
                          "conflicts": error.conflicts, "path": str(error.path)}))
    """
    results = _run_workers(tmp_path, body, 2, setup=setup)
    assert [r.returncode for r in results] == [0, 0], [r.stderr for r in results]
    outcomes = [json.loads(r.stdout) for r in results]
    assert sorted(o["saved"] for o in outcomes) == [False, True]
    winner = [i for i, o in enumerate(outcomes) if o["saved"]][0]
    loser = outcomes[1 - winner]
    rules = ['city = "Lyon"', 'city = "Paris"']
    on_disk = yaml.safe_load(path.read_text(encoding="utf-8"))["segments"]
    assert [(s["name"], s["rule"]) for s in on_disk] == [("Lyon", rules[winner])]
    assert loser["conflicts"] == [{"segment": "Lyon", "ours": rules[1 - winner],
                                   "theirs": rules[winner]}]
    assert loser["path"] == str(path)
    message = loser["message"]
    assert str(path) in message and "'Lyon'" in message
    assert rules[0] in message and rules[1] in message
    assert "Catalog.load" in message and "overwrite=True" in message  # how to resolve


# --------------------------------------------------------------------------- refresh


_REFRESH_SETUP = """
import pandas as pd
contacts = pd.DataFrame({"contact_id": range(1, 41),
                         "email": [f"c{i}@example.com" for i in range(1, 41)],
                         "city": ["Lyon", "Paris", "Lille", "Nice"] * 10,
                         "score": range(40), "consent": "given"})
events = pd.DataFrame({"contact_id": [1, 2], "event_type": ["open", "open"],
                       "timestamp": pd.to_datetime(["2026-10-01", "2026-10-02"])})
base = se.read_base(contacts, events, now="2026-10-31")
catalog = Catalog()
for k in range(12):
    catalog.add(f"score > {k * 3}", f"score > {k * 3}")
"""


def test_two_concurrent_refresh_runs_keep_every_history_row(tmp_path):
    runs_each = 3
    body = f"""
    for _ in range({runs_each}):
        refresh(catalog, base, history_path=folder / "history.csv")
    """
    results = _run_workers(tmp_path, body, 2, setup=_REFRESH_SETUP)
    assert [r.returncode for r in results] == [0, 0], [r.stderr for r in results]
    # counted from the file itself: one row per segment per run, 2 workers x 3 runs
    raw = pd.read_csv(tmp_path / "history.csv", dtype={"segment": "str"})
    names = [f"score > {k * 3}" for k in range(12)]
    assert len(raw) == 2 * runs_each * 12
    assert raw["segment"].value_counts().to_dict() == {n: 2 * runs_each for n in names}
    # sizes are those of plain pandas on the same 40 scores (0..39)
    assert all(raw.loc[raw["segment"] == f"score > {k * 3}", "size"].eq(39 - k * 3).all()
               for k in range(12))
    # each run read the one before it under the lock: only the very first row of a
    # segment has no previous run; every later one compared with the same members
    history = read_history(tmp_path / "history.csv")
    for name in names:
        rows = history[history["segment"] == name]
        assert rows["jaccard"].isna().tolist() == [True] + [False] * (2 * runs_each - 1)
        assert rows["jaccard"].iloc[1:].eq(1.0).all()
        assert rows["entered"].iloc[1:].eq(0).all() and rows["left"].iloc[1:].eq(0).all()
    # the members file holds one snapshot per segment, of the last run written
    members = pd.read_parquet(tmp_path / "history.members.parquet")
    assert members.groupby("segment").size().to_dict() == {
        f"score > {k * 3}": 39 - k * 3 for k in range(12)}
    last_run = history.groupby("segment")["run_at"].last()
    assert members.groupby("segment")["run_at"].unique().map(list).to_dict() == {
        n: [last_run[n]] for n in names}


def test_refresh_takes_run_at_under_the_lock(tmp_path, tiny_base, monkeypatch):
    """The history is re-read after the lock is taken, so a run sees the rows written
    while it was evaluating its segments."""
    history = tmp_path / "history.csv"
    catalog = Catalog()
    catalog.add("Lyon", 'city = "Lyon"')
    rf.refresh(catalog, tiny_base, history_path=history)
    real_apply = Catalog.apply
    calls = []

    def apply_then_someone_else_refreshes(self, base):
        segments = real_apply(self, base)
        calls.append(1)
        if len(calls) == 1:  # another run lands while this one evaluates its segments
            rf.refresh(catalog, tiny_base, history_path=history)
        return segments

    monkeypatch.setattr(Catalog, "apply", apply_then_someone_else_refreshes)
    report = rf.refresh(catalog, tiny_base, history_path=history)
    monkeypatch.undo()
    assert len(read_history(history)) == 3
    assert report["previous_size"].tolist() == report["size"].tolist()
    assert report["jaccard"].tolist() == [1.0]


# --------------------------------------------------------------------------- merging


@pytest.fixture
def saved(tmp_path):
    path = tmp_path / "segments.yaml"
    catalog = Catalog()
    catalog.add("Lyon", 'city = "Lyon"', owner="ana")
    catalog.add("Paris", 'city = "Paris"', owner="bob")
    catalog.save(path)
    return path


def test_changes_to_different_segments_merge(saved):
    mine, theirs = Catalog.load(saved), Catalog.load(saved)
    theirs.update("Paris", rule='city in ("Paris", "Versailles")', by="bob")
    theirs.add("Nice", 'city = "Nice"')
    theirs.save()
    mine.update("Lyon", description="Lyonnais", by="ana")
    mine.add("Lille", 'city = "Lille"')
    mine.save()
    on_disk = Catalog.load(saved)
    assert on_disk.names == ["Lyon", "Paris", "Nice", "Lille"]
    assert on_disk["Paris"].text == 'city in ("Paris", "Versailles")'
    assert on_disk["Lyon"].description == "Lyonnais"
    assert mine == on_disk  # the saved object now holds what the file holds


def test_a_removal_merges_with_an_unrelated_change(saved):
    mine, theirs = Catalog.load(saved), Catalog.load(saved)
    theirs.remove("Paris")
    theirs.save()
    mine.add("Nice", 'city = "Nice"')
    mine.save()
    assert _names_on_disk(saved) == ["Lyon", "Nice"]  # Paris stays removed


def test_the_same_change_on_both_sides_is_no_conflict(saved):
    mine, theirs = Catalog.load(saved), Catalog.load(saved)
    theirs.add("Nice", 'city = "Nice"')
    theirs.save()
    mine.add("Nice", 'city = "Nice"')
    mine.save()
    assert _names_on_disk(saved) == ["Lyon", "Paris", "Nice"]


@pytest.mark.parametrize("mine_edit, theirs_edit, ours, theirs_rule", [
    (lambda c: c.update("Lyon", rule='city = "Lyon 1er"'),
     lambda c: c.update("Lyon", rule='city = "Lyon 2e"'), 'city = "Lyon 1er"',
     'city = "Lyon 2e"'),
    (lambda c: c.remove("Lyon"), lambda c: c.update("Lyon", rule='city = "Lyon 2e"'),
     None, 'city = "Lyon 2e"'),
    (lambda c: c.update("Lyon", rule='city = "Lyon 1er"'), lambda c: c.remove("Lyon"),
     'city = "Lyon 1er"', None),
    (lambda c: c.add("nice", 'city = "Nice"'), lambda c: c.add("Nice", 'city = "NICE"'),
     'city = "Nice"', 'city = "NICE"'),  # names are compared ignoring case
])
def test_both_sides_changing_one_segment_differently_raise(saved, mine_edit, theirs_edit,
                                                            ours, theirs_rule):
    mine, theirs = Catalog.load(saved), Catalog.load(saved)
    theirs_edit(theirs)
    theirs.save()
    before = saved.read_bytes()
    mine_edit(mine)
    with pytest.raises(CatalogConflictError) as caught:
        mine.save()
    assert isinstance(caught.value, SegexploreError) and isinstance(caught.value, RuntimeError)
    [conflict] = caught.value.conflicts
    assert (conflict["ours"], conflict["theirs"]) == (ours, theirs_rule)
    assert str(saved) in str(caught.value)
    assert saved.read_bytes() == before  # nothing written
    mine.save(overwrite=True)  # the way out it names
    assert Catalog.load(saved) == mine


def test_the_same_rule_with_another_description_is_a_conflict(saved):
    mine, theirs = Catalog.load(saved), Catalog.load(saved)
    theirs.update("Lyon", description="Lyon et alentours")
    theirs.save()
    mine.update("Lyon", description="Lyonnais")
    with pytest.raises(CatalogConflictError, match="description"):
        mine.save()


def test_a_merge_that_breaks_references_is_a_conflict(saved):
    mine, theirs = Catalog.load(saved), Catalog.load(saved)
    theirs.add("Lyon buyers", "score > 5", parent="Lyon")
    theirs.save()
    mine.rename("Lyon", "Lyon metro")
    with pytest.raises(CatalogConflictError) as caught:
        mine.save()
    message = str(caught.value)
    assert "'Lyon buyers'" in message and "'Lyon'" in message and str(saved) in message
    assert _names_on_disk(saved) == ["Lyon", "Paris", "Lyon buyers"]


def test_a_new_catalog_saved_over_a_file_keeps_its_segments(saved):
    fresh = Catalog()
    fresh.add("Nice", 'city = "Nice"')
    fresh.save(saved)  # not loaded from it: nothing of the file is dropped
    assert _names_on_disk(saved) == ["Lyon", "Paris", "Nice"]
    replaced = Catalog()
    replaced.add("Nice", 'city = "Nice"')
    replaced.save(saved, overwrite=True)  # replacing it is a choice said out loud
    assert _names_on_disk(saved) == ["Nice"]


def test_a_file_broken_by_hand_since_loading_is_not_overwritten(saved):
    mine = Catalog.load(saved)
    saved.write_text("schema: segexplore.catalog/1\nsegments: [oops\n", encoding="utf-8")
    mine.add("Nice", 'city = "Nice"')
    with pytest.raises(CatalogConflictError, match="overwrite=True") as caught:
        mine.save()
    assert str(saved) in str(caught.value)
    assert "oops" in saved.read_text(encoding="utf-8")


def test_a_deleted_file_is_written_again_whole(saved):
    mine = Catalog.load(saved)
    saved.unlink()
    mine.add("Nice", 'city = "Nice"')
    mine.save()
    assert _names_on_disk(saved) == ["Lyon", "Paris", "Nice"]


class _LockHolder:
    """Another process holding ``lock`` until the block ends."""

    def __init__(self, lock: Path) -> None:
        self.lock = lock

    def __enter__(self) -> _LockHolder:
        self.process = subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(f"""
                import sys
                from filelock import FileLock
                with FileLock({str(self.lock)!r}):
                    print("held", flush=True)
                    sys.stdin.read()
                """)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout.readline().strip() == "held"
        return self

    def __exit__(self, *exc: object) -> None:
        self.process.communicate("")


def test_a_lock_held_too_long_raises_naming_both_files(saved, monkeypatch):
    monkeypatch.setattr(cat, "LOCK_TIMEOUT", 0.2)
    mine = Catalog.load(saved)
    mine.add("Nice", 'city = "Nice"')
    lock = saved.with_name("segments.yaml.lock")
    assert cat.lock_path(saved) == lock
    with _LockHolder(lock), pytest.raises(LockTimeoutError) as caught:
        mine.save()
    assert isinstance(caught.value, TimeoutError) and isinstance(caught.value, SegexploreError)
    assert str(saved) in str(caught.value) and str(lock) in str(caught.value)
    assert caught.value.lock_path == lock and caught.value.timeout == 0.2
    assert "Nice" not in _names_on_disk(saved)
    mine.save()  # once the other process is done, the save goes through
    assert "Nice" in _names_on_disk(saved)


def test_refresh_waits_for_the_history_lock_then_raises(tmp_path, tiny_base, monkeypatch):
    monkeypatch.setattr(cat, "LOCK_TIMEOUT", 0.2)
    history = tmp_path / "history.csv"
    catalog = Catalog()
    catalog.add("Lyon", 'city = "Lyon"')
    with _LockHolder(tmp_path / "history.csv.lock"), pytest.raises(LockTimeoutError) as caught:
        rf.refresh(catalog, tiny_base, history_path=history)
    assert str(history) in str(caught.value) and "history.csv.lock" in str(caught.value)
    assert not history.exists() and not (tmp_path / "history.members.parquet").exists()
    rf.refresh(catalog, tiny_base, history_path=history)
    assert len(read_history(history)) == 1
