"""An export killed with SIGKILL never leaves a CSV beside a manifest that is not its own,
nor readable temporaries full of contacts (issue 11). Real processes, real kills."""

from __future__ import annotations

import stat
import textwrap
from pathlib import Path

import pytest
from export_faults import kill_when_flagged

import segexplore as se
from segexplore.delivery import export as ex
from segexplore.delivery import manifest as mf
from segexplore.errors import ExportError
from segexplore.io import atomic

#: The child exports a segment and stops dead at the point named by its first argument,
#: after touching the flag file, so that the parent can kill it exactly there.
CHILD = textwrap.dedent('''
    import sys, time
    from pathlib import Path
    import segexplore as se
    from segexplore.io import atomic
    from segexplore.delivery import export as ex
    from export_faults import stop_mid_write

    point, out, flag = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])

    def stop_here():
        flag.touch()
        time.sleep(600)

    if point == "mid-write":
        stop_mid_write(500, flag)
    elif point == "between-renames":
        publish = atomic.StagedFile.publish
        def publish_then_stop(self):
            publish(self)
            if self.target.suffix == ".csv":
                stop_here()
        atomic.StagedFile.publish = publish_then_stop
    base = se.load_sample()
    ex.export_segment(base.segment('country = "BE"', name="Belgium"), out)
''')


def _export_and_kill(point: str, out: Path, tmp_path: Path) -> None:
    flag = tmp_path / f"{point}.flag"
    kill_when_flagged(CHILD, [point, str(out), str(flag)], flag)


@pytest.fixture(scope="module")
def base() -> se.ContactBase:
    return se.load_sample()


def _temporaries(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.name.startswith(".") and
                  p.name.endswith(".tmp"))


@pytest.mark.slow
def test_kill_mid_write_keeps_the_old_pair_and_a_private_temporary_the_next_write_removes(
        base, tmp_path):
    out = tmp_path / "segment.csv"
    ex.export_segment(base.segment('city = "Lyon"', name="Lyon"), out)
    before = out.read_bytes(), (tmp_path / "segment.csv.manifest.json").read_bytes()

    _export_and_kill("mid-write", out, tmp_path)

    assert (out.read_bytes(), (tmp_path / "segment.csv.manifest.json").read_bytes()) == before
    assert mf.verify_export(out)["segment"]["name"] == "Lyon"
    left = _temporaries(tmp_path)
    assert len(left) == 1 and left[0].stat().st_size > 0  # the killed write's rows
    assert stat.S_IMODE(left[0].stat().st_mode) == 0o600  # readable by the owner only

    ex.export_segment(base.segment('city = "Paris"', name="Paris"), tmp_path / "other.csv")
    assert _temporaries(tmp_path) == []  # the next write in the folder removed it


@pytest.mark.slow
def test_kill_between_the_csv_and_its_manifest_is_reported_as_unfinished(base, tmp_path):
    out = tmp_path / "segment.csv"
    ex.export_segment(base.segment('city = "Lyon"', name="Lyon"), out)

    _export_and_kill("between-renames", out, tmp_path)

    # The new CSV is in place, its manifest is not: readers must not trust the pair.
    with pytest.raises(ExportError, match="unfinished export"):
        mf.verify_export(out)
    result = ex.export_segment(base.segment('country = "BE"', name="Belgium"), out)
    assert mf.verify_export(out)["rows"] == result.rows
    assert _temporaries(tmp_path) == []


def test_a_csv_without_any_manifest_is_unfinished(tmp_path):
    lonely = tmp_path / "segment.csv"
    lonely.write_text("email\nann@x.fr\n", encoding="utf-8")
    with pytest.raises(ExportError, match="unfinished export"):
        mf.verify_export(lonely)


def test_a_live_writers_temporary_is_never_removed(tmp_path):
    with atomic.atomic_write(tmp_path / "a.csv") as handle:
        handle.write("half")
        mine = _temporaries(tmp_path)
        assert len(mine) == 1
        atomic.atomic_write_bytes(tmp_path / "b.csv", b"other")  # cleans the folder
        assert _temporaries(tmp_path) == mine  # this process is alive: kept
    assert (tmp_path / "a.csv").read_text() == "half"
    assert _temporaries(tmp_path) == []


def test_stale_temporaries_of_other_names_are_left_alone(tmp_path):
    foreign = tmp_path / ".notes.txt.swp"
    foreign.write_text("mine")
    dead = tmp_path / ".a.csv.999999999.abc_12.tmp"  # no such process
    dead.write_text("rows of a killed write")
    assert atomic.remove_stale_temporaries(tmp_path) == [dead]
    assert foreign.exists() and not dead.exists()
