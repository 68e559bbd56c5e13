"""Bases written block by block (segexplore.datasets.scale) and ``segexplore sample``.

Memory and speed are measured in benchmarks/bench_generate_scale.py, not here. Most tests
make blocks small (``BLOCK_CONTACTS`` patched) so several blocks take a second.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

import segexplore as se
from segexplore.datasets import scale
from segexplore.datasets.generate import generate_base
from segexplore.errors import ParameterError, ParameterTypeError

#: How rows of each table are ordered to compare two writes split differently.
KEYS = {"contacts": ["contact_id"], "orders": ["order_id"],
        "events": ["contact_id", "timestamp", "event_type"]}
N = 10_000


@pytest.fixture
def small_blocks(monkeypatch):
    """Blocks of 4,000 contacts: a 10,000-contact base is three blocks (4k, 4k, 2k)."""
    monkeypatch.setattr(scale, "BLOCK_CONTACTS", 4_000)


def _read(paths: dict[str, Path]) -> dict[str, pd.DataFrame]:
    return {name: pd.read_parquet(path) for name, path in paths.items()}


def _sorted(frame: pd.DataFrame, table: str) -> pd.DataFrame:
    return frame.sort_values(KEYS[table], kind="stable").reset_index(drop=True)


def _assert_same(frame: pd.DataFrame, expected: pd.DataFrame, **options) -> None:
    """assert_frame_equal, after the fast check (it takes seconds on categorical events)."""
    if options or not frame.equals(expected):
        pd.testing.assert_frame_equal(frame, expected, **options)


def _scalar(query: str):
    return duckdb.sql(query).fetchall()[0][0]


def _digests(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*.parquet"))}


@pytest.fixture
def three_blocks(small_blocks, tmp_path) -> dict[str, pd.DataFrame]:
    return _read(scale.write_base(tmp_path / "base", N, seed=5))


# ------------------------------------------------------------------ determinism
def test_same_seed_gives_the_same_files_and_another_seed_another_base(small_blocks, tmp_path):
    first = tmp_path / "a"
    scale.write_base(first, N, seed=5, chunk_contacts=3_000)
    scale.write_base(tmp_path / "b", N, seed=5, chunk_contacts=3_000)
    assert _digests(first) == _digests(tmp_path / "b")
    assert len(_digests(first)) == 3 * 4
    other = _read(scale.write_base(tmp_path / "c", N, seed=6, chunk_contacts=3_000))
    again = _read({name: first / name for name in scale.TABLES})
    assert not other["contacts"]["email"].equals(again["contacts"]["email"])
    assert not other["events"]["timestamp"].equals(again["events"]["timestamp"])


@pytest.mark.parametrize("chunk", [3_000, 4_000, 7_000, N, 50_000])
def test_the_base_does_not_depend_on_how_it_is_split_into_files(three_blocks, tmp_path, chunk):
    split = _read(scale.write_base(tmp_path, N, seed=5, chunk_contacts=chunk))
    for table, frame in three_blocks.items():
        _assert_same(_sorted(split[table], table), _sorted(frame, table))


def test_csv_holds_the_same_base(three_blocks, tmp_path):
    paths = scale.write_base(tmp_path, N, seed=5, chunk_contacts=3_000, file_format="csv")
    assert sorted(p.name for p in paths["orders"].iterdir()) == [
        f"part-0000{i}.csv" for i in range(4)]
    for table in scale.TABLES:
        parts = [pd.read_csv(p) for p in sorted(paths[table].iterdir())]
        frame = pd.concat(parts, ignore_index=True)
        assert len(frame) == len(three_blocks[table])
        expected = three_blocks[table]
        key = KEYS[table][0]
        assert sorted(frame[key]) == sorted(expected[key])
    contacts = pd.concat([pd.read_csv(p) for p in sorted(paths["contacts"].iterdir())])
    assert contacts["email"].tolist() == three_blocks["contacts"]["email"].tolist()


def test_one_block_is_generate_base(tmp_path):
    """Up to BLOCK_CONTACTS contacts, the base is generate_base's (the files that the
    former one-shot ``segexplore sample`` wrote, row for row)."""
    written = _read(scale.write_base(tmp_path, 1_200, seed=3))
    expected = generate_base(1_200, seed=3)
    for table, frame in expected.items():
        frame.to_parquet(tmp_path / f"expected_{table}.parquet", index=False)
        round_trip = pd.read_parquet(tmp_path / f"expected_{table}.parquet")
        _assert_same(written[table], round_trip)


def test_first_block_of_a_larger_base_is_generate_base_of_a_block(three_blocks, tmp_path):
    block = generate_base(4_000, seed=5)
    for table in ("contacts", "events"):
        block[table].to_parquet(tmp_path / f"{table}.parquet", index=False)
        first = three_blocks[table][three_blocks[table]["contact_id"] <= 4_000]
        _assert_same(first.reset_index(drop=True), pd.read_parquet(tmp_path / f"{table}.parquet"))


# ------------------------------------------------------------------ one base
def test_ids_and_emails_are_unique_across_blocks_and_references_hold(three_blocks):
    contacts, events, orders = (three_blocks[t] for t in scale.TABLES)
    assert contacts["contact_id"].tolist() == list(range(1, N + 1))
    assert contacts["email"].is_unique
    assert orders["order_id"].tolist() == list(range(1, len(orders) + 1))
    assert events["contact_id"].isin(contacts["contact_id"]).all()
    assert orders["contact_id"].isin(contacts["contact_id"]).all()
    # every block has activity: ids were offset, not restarted
    block = (events["contact_id"] - 1) // 4_000
    assert sorted(block.unique()) == [0, 1, 2]
    # purchases mirror orders row for row, as in generate_base
    purchases = events[events["event_type"] == "purchase"]
    assert len(purchases) == len(orders)
    assert sorted(purchases["amount"].round(2)) == sorted(orders["amount"].round(2))


def test_emails_given_before_get_an_extra_number(small_blocks):
    """Blocks of the same seed would repeat addresses: later ones take a number."""
    given = scale._GivenEmails()
    emails = pd.Series(["ana.li@x.fr", "bo@y.be", "cy@z.fr"], dtype="str")
    rng = np.random.default_rng(0)
    assert given.claim(emails, rng) is emails  # nothing given yet: unchanged
    again = given.claim(pd.Series(["bo@y.be", "new@y.be", "bo@y.be"], dtype="str"), rng)
    assert again[1] == "new@y.be"
    assert re.fullmatch(r"bo\d+@y\.be", again[0]) and re.fullmatch(r"bo\d+@y\.be", again[2])
    assert again.is_unique and not set(again) & set(emails)
    assert str(again.dtype) == str(emails.dtype)


# ------------------------------------------------------------------ reading back
def test_files_and_folders_read_back(small_blocks, tmp_path):
    """One file a table is what read_base and the other sub-commands read; a folder of
    parts is read by DuckDB globs (and pandas/pyarrow) but not by read_base today."""
    files = scale.write_base(tmp_path / "files", N, seed=1)
    base = se.read_base(files["contacts"], files["events"], files["orders"], progress=False)
    assert len(base.contacts) == N
    folders = scale.write_base(tmp_path / "parts", N, seed=1, chunk_contacts=2_500)
    for table in scale.TABLES:
        glob = f"{folders[table]}/*.parquet"
        count = _scalar(f"select count(*) from '{glob}'")
        assert count == len(pd.read_parquet(files[table]))
    emails = f"select count(distinct email) from '{folders['contacts']}/*.parquet'"
    assert _scalar(emails) == N


def test_a_second_write_replaces_the_first(small_blocks, tmp_path):
    scale.write_base(tmp_path, N, seed=1, chunk_contacts=1_000)
    paths = scale.write_base(tmp_path, 2_500, seed=2, chunk_contacts=1_000)
    assert sorted(p.name for p in paths["events"].iterdir()) == [
        "part-00000.parquet", "part-00001.parquet", "part-00002.parquet"]
    assert len(pd.read_parquet(paths["contacts"])) == 2_500
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp")]


def test_the_other_layout_in_the_folder_is_refused(tmp_path):
    scale.write_base(tmp_path, 300, seed=1)
    with pytest.raises(ParameterError, match="contacts.parquet"):
        scale.write_base(tmp_path, 300, seed=1, chunk_contacts=100)


def test_an_interrupted_write_leaves_the_folder_as_it_was(small_blocks, tmp_path):
    scale.write_base(tmp_path, 300, seed=1)
    before = _digests(tmp_path)

    def stop(done, total, rows):
        if done > 4_000:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        scale.write_base(tmp_path, N, seed=2, progress=stop)
    assert _digests(tmp_path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "contacts.parquet", "events.parquet", "orders.parquet"]


def test_progress_is_called_after_every_block(small_blocks, tmp_path):
    calls = []
    scale.write_base(tmp_path, N, seed=1, progress=lambda *args: calls.append(args))
    assert [done for done, _, _ in calls] == [4_000, 8_000, N]
    assert calls[-1][2]["contacts"] == N


@pytest.mark.parametrize(("arguments", "error", "name"), [
    ({"n_contacts": 0}, ParameterError, "n_contacts"),
    ({"n_contacts": 2.5}, ParameterTypeError, "n_contacts"),
    ({"seed": -1}, ParameterError, "seed"),
    ({"chunk_contacts": 0}, ParameterError, "chunk_contacts"),
    ({"events_per_contact": -1}, ParameterError, "events_per_contact"),
    ({"file_format": "xlsx"}, ParameterError, "file_format"),
    ({"as_of": "not a date"}, ParameterError, "as_of"),
])
def test_bad_arguments_are_refused_before_anything_is_written(tmp_path, arguments, error,
                                                              name):
    given = {"n_contacts": 100} | arguments
    with pytest.raises(error, match=name):
        scale.write_base(tmp_path / "out", **given)
    assert not (tmp_path / "out").exists()
    if name not in ("chunk_contacts", "file_format"):
        with pytest.raises(error, match=name):
            scale.generate_blocks(**given)


# ------------------------------------------------------------------ the command
def test_the_command_writes_parts_and_says_what_it_wrote(tmp_path):
    out = tmp_path / "base"
    result = subprocess.run(
        [sys.executable, "-m", "segexplore", "sample", "--contacts", "30_000", "--out",
         str(out), "--seed", "4", "--chunk-contacts", "10000", "--events-per-contact", "5"],
        capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    printed = result.stdout
    counts = {name: int(number.replace(",", "")) for name, number in
              re.findall(r"^(contacts|events|orders): \S+  ([\d,]+) rows in 3 files$",
                         printed, flags=re.MULTILINE)}
    assert counts.keys() == {"contacts", "events", "orders"}
    assert counts["contacts"] == 30_000
    assert 4 * 30_000 < counts["events"] < 6 * 30_000
    for table, count in counts.items():
        assert _scalar(f"select count(*) from '{out / table}/*.parquet'") == count
    assert re.search(r"^30,000 contacts, [\d,]+ events, [\d,]+ orders \(seed 4\) in "
                     r"[\d.]+ s, peak memory [\d.]+ GB$", printed, flags=re.MULTILINE)


def test_the_command_without_chunks_writes_what_the_other_commands_read(tmp_path, capsys):
    from segexplore.cli import main

    assert main(["sample", "--contacts", "300", "--out", str(tmp_path), "--seed", "3"]) == 0
    assert "contacts: " + str(tmp_path / "contacts.parquet") in capsys.readouterr().out
    expected = generate_base(300, seed=3)["contacts"]
    assert pd.read_parquet(tmp_path / "contacts.parquet")["email"].tolist() == \
        expected["email"].tolist()
    assert main(["summary", str(tmp_path)]) == 0


def test_the_command_reports_bad_arguments(tmp_path, capsys):
    from segexplore.cli import main

    assert main(["sample", "--contacts", "10", "--out", str(tmp_path), "--seed", "-1"]) == 2
    assert "seed must be >= 0" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["sample", "--contacts", "ten", "--out", str(tmp_path)])
    assert "--contacts" in capsys.readouterr().err


def test_sample_is_listed_once_in_the_help(capsys):
    from segexplore.cli import main

    with pytest.raises(SystemExit):
        main(["--help"])
    assert len(re.findall(r"^    sample ", capsys.readouterr().out, flags=re.MULTILINE)) == 1
