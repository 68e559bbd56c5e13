"""The data fingerprint of a DuckDB base: Parquet files by their identities and footers
(the same files give the same fingerprint in another process; a rewritten file, even of
the same size, another one), what DuckDB holds (CSV copied in, scores) by its rows."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import segexplore as se
from segexplore.engines.duckdb_fingerprint import FOOTERS, ROWS, fingerprint_duckdb
from segexplore.errors import ParameterError


def _contacts(n: int = 50) -> pd.DataFrame:
    return pd.DataFrame({
        "contact_id": np.arange(1, n + 1),
        "email": [f"c{i}@example.com" for i in range(1, n + 1)],
        "city": ["Lyon", "Paris"] * (n // 2),
        "score": np.arange(n, dtype=float),
    })


def _events(n: int = 50) -> pd.DataFrame:
    return pd.DataFrame({
        "contact_id": np.arange(1, n + 1),
        "timestamp": pd.Timestamp("2026-10-01") + pd.to_timedelta(np.arange(n), unit="h"),
        "event_type": ["open"] * n,
    })


def _write(frame: pd.DataFrame, path) -> None:
    # Plain, uncompressed, no dictionary: a changed value of the same width keeps the
    # file's size and every offset.
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path,
                   compression="none", use_dictionary=False, row_group_size=20)


@pytest.fixture
def files(tmp_path):
    _write(_contacts(), tmp_path / "contacts.parquet")
    _write(_events(), tmp_path / "events.parquet")
    return tmp_path


def _open(folder, **options):
    return se.read_base(folder / "contacts.parquet", folder / "events.parquet",
                        engine="duckdb", as_of="2026-10-31", threads=1, **options)


CHILD = """
import json, sys
import segexplore as se
from segexplore.engines.duckdb_fingerprint import fingerprint_duckdb
folder = sys.argv[1]
base = se.read_base(folder + "/contacts.parquet", folder + "/events.parquet",
                    engine="duckdb", as_of="2026-10-31", threads=1)
print(json.dumps(fingerprint_duckdb(base)))
"""


def test_the_same_files_give_the_same_fingerprint_in_another_process(files):
    here = fingerprint_duckdb(_open(files))
    again = fingerprint_duckdb(_open(files))
    child = subprocess.run([sys.executable, "-c", CHILD, str(files)], check=True,
                           capture_output=True, text=True)
    assert json.loads(child.stdout) == here == again
    assert here["contacts"]["method"] == here["events"]["method"] == FOOTERS
    assert here["contacts"]["rows"] == 50 and here["events"]["rows"] == 50
    assert "footers" in here["method"]


def test_a_rewritten_file_of_the_same_size_changes_the_fingerprint(files):
    before = fingerprint_duckdb(_open(files))
    path = files / "contacts.parquet"
    size, modified = path.stat().st_size, path.stat().st_mtime_ns
    contacts = _contacts()
    contacts.loc[25, "email"] = "c26@example.org"  # same width, not a min or max
    _write(contacts, path)
    assert path.stat().st_size == size
    if path.stat().st_mtime_ns == modified:  # a clock coarser than the rewrite
        os.utime(path, ns=(modified + 1_000_000_000, modified + 1_000_000_000))
    after = fingerprint_duckdb(_open(files))
    assert after["contacts"]["sha256"] != before["contacts"]["sha256"]
    assert after["events"]["sha256"] == before["events"]["sha256"]
    assert after["sha256"] != before["sha256"]


def test_changed_statistics_are_seen_even_with_the_old_modification_time(files):
    before = fingerprint_duckdb(_open(files))
    path = files / "contacts.parquet"
    status = path.stat()
    contacts = _contacts()
    contacts.loc[49, "score"] = 1e6  # a new maximum in the footer's statistics
    _write(contacts, path)
    os.utime(path, ns=(status.st_atime_ns, status.st_mtime_ns))
    assert fingerprint_duckdb(_open(files))["contacts"]["sha256"] != \
        before["contacts"]["sha256"]


def test_another_as_of_gives_another_fingerprint_of_the_same_tables(files):
    base = _open(files)
    now, earlier = fingerprint_duckdb(base), fingerprint_duckdb(base.at("2026-06-30"))
    assert now["sha256"] != earlier["sha256"]
    assert all(now[t] == earlier[t] for t in ("contacts", "events", "orders"))


def test_a_csv_base_is_hashed_by_its_rows_and_changes_with_a_row(tmp_path):
    contacts, events = _contacts(), _events()
    contacts.to_csv(tmp_path / "contacts.csv", index=False)
    events.to_csv(tmp_path / "events.csv", index=False)

    def opened():
        return se.read_base(tmp_path / "contacts.csv", tmp_path / "events.csv",
                            engine="duckdb", as_of="2026-10-31", threads=1)

    before = fingerprint_duckdb(opened())
    assert before["contacts"]["method"] == before["events"]["method"] == ROWS
    assert fingerprint_duckdb(opened()) == before
    contacts.loc[10, "city"] = "Nice"
    contacts.to_csv(tmp_path / "contacts.csv", index=False)
    after = fingerprint_duckdb(opened())
    assert after["contacts"]["sha256"] != before["contacts"]["sha256"]
    assert after["events"] == before["events"]


def test_scores_held_in_duckdb_are_hashed_by_their_rows(files):
    base = _open(files)
    plain = fingerprint_duckdb(base)
    one = fingerprint_duckdb(base.with_contact_columns({"p": np.arange(50) % 3}))
    two = fingerprint_duckdb(base.with_contact_columns({"p": np.arange(50) % 4}))
    other = _open(files)
    other.with_contact_columns({"q": np.arange(50)})  # numbers the next view 2, not 1
    same = fingerprint_duckdb(other.with_contact_columns({"p": np.arange(50) % 3}))
    assert len({plain["contacts"]["sha256"], one["contacts"]["sha256"],
                two["contacts"]["sha256"]}) == 3
    assert same["contacts"] == one["contacts"]  # the view's number does not count
    assert one["contacts"]["method"] == FOOTERS and one["contacts"]["columns"] == 6


def test_rows_true_hashes_every_row_and_checks_its_argument(files):
    base = _open(files)
    found = fingerprint_duckdb(base, rows=True)
    assert found["contacts"]["method"] == found["events"]["method"] == ROWS
    assert found["sha256"] != fingerprint_duckdb(base)["sha256"]
    with pytest.raises(ParameterError, match="rows must be True or False"):
        fingerprint_duckdb(base, rows="yes")
