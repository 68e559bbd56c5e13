"""A DuckDB base's export is streamed and is the pandas engine's export: the same bytes, the
same waterfall and manifest (but the data fingerprint, hashed in DuckDB, and the time it was
written), for segments, presets, columns, suppression lists, priority exports and erasures;
rows read and written a few at a time (ROWS_PER_CHUNK = 7, so an export is many chunks), never
all at once; an interrupted or killed export leaves the previous file and a private
temporary only."""

from __future__ import annotations

import csv
import stat
import textwrap
from pathlib import Path

import pandas as pd
import pytest
from export_faults import failing_writer, kill_when_flagged

import segexplore as se
from segexplore.delivery import csv as ecsv
from segexplore.delivery import export as ex
from segexplore.delivery.manifest import verify_export
from segexplore.engines.duckdb import DuckDBBase
from segexplore.model.base import ContactBase

#: Manifest fields that legitimately differ between the engines: the data fingerprint is
#: computed by each engine its own way (DuckDB: engines/duckdb_fingerprint.py), and the
#: time of writing.
ENGINE_FIELDS = {"data", "created_at"}

CHUNK = 7


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch):
    monkeypatch.setattr(ecsv, "ROWS_PER_CHUNK", CHUNK)


@pytest.fixture(scope="module")
def bases() -> tuple[ContactBase, DuckDBBase]:
    folder = se.sample_path()
    tables = [folder / f"{name}.parquet" for name in ("contacts", "events", "orders")]
    return se.load_sample(clean=False), se.read_base(*tables, engine="duckdb", threads=2)


def _temporaries(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.name.endswith(".tmp"))


def _member_tables(duck: DuckDBBase) -> list[str]:
    return [t for (t,) in duck.connection.execute(
        "SELECT table_name FROM duckdb_tables() WHERE temporary AND (table_name LIKE "
        "'_export_members%' OR table_name LIKE '_claimed%')").fetchall()]


def _same_export(pandas_result, duck_result) -> None:
    assert duck_result.path.read_bytes() == pandas_result.path.read_bytes()
    assert duck_result.rows == pandas_result.rows
    assert duck_result.waterfall.equals(pandas_result.waterfall)
    differs = {k for k in pandas_result.manifest
               if pandas_result.manifest[k] != duck_result.manifest.get(k)}
    assert differs <= ENGINE_FIELDS, differs
    assert set(duck_result.manifest) == set(pandas_result.manifest)
    assert verify_export(duck_result.path)["sha256"] == duck_result.manifest["sha256"]
    assert duck_result.manifest["data"]["contacts"]["rows"] == \
        pandas_result.manifest["data"]["contacts"]["rows"]


def _both(bases, tmp_path, rule, *, parent=None, **options):
    results = []
    for name, base in zip(("pandas", "duckdb"), bases, strict=True):
        folder = tmp_path / name
        folder.mkdir(exist_ok=True)
        owner = base.segment(parent, name="Parent") if parent else None
        segment = base.segment(rule, name="S", parent=owner)
        results.append(segment.to_csv(folder / "segment.csv", **options))
    return results


CASES = [
    ('city = "Lyon"', None, {}),
    ('rfm_group in ("champions", "loyal")', None,
     {"preset": "mailchimp", "columns": ["email", "first_name", "birth_date", "interests",
                                         "signup_date", "postal_code",
                                         "revenue_365d", "last_purchase_date"]}),
    ('consent != "given" or device = "iOS"', None,
     {"preset": "brevo", "excel": True, "include_unsendable": True,
      "columns": ["email", "consent", "loyalty_tier", "age", "rfm_recency",
                  "cart_abandoner", "next_birthday", "days_since_last_open"]}),
    ("count(purchase, last 365 days) >= 1", 'country = "BE"',
     {"columns": ["contact_id", "email", "purchases_365d", "avg_basket", "rfm_score",
                  "first_purchase_date", "consent_date"]}),
    ('language = "nl" and engagement_score >= 20', None, {"preset": "plain", "excel": True}),
]


@pytest.mark.parametrize(("rule", "parent", "options"), CASES)
def test_exports_are_the_pandas_engines_bytes_written_many_chunks(bases, tmp_path, rule,
                                                                  parent, options):
    expected, got = _both(bases, tmp_path, rule, parent=parent, **options)
    _same_export(expected, got)
    assert got.rows > 3 * CHUNK  # many chunks
    assert _member_tables(bases[1]) == []  # the members' table is dropped


@pytest.mark.parametrize("form", ["list", "frame", "file"])
def test_suppression_lists_passed_to_the_export(bases, tmp_path, form):
    pandas_base = bases[0]
    emails = pandas_base.segment('city = "Paris"').members(["email"])["email"].head(60)
    listed = pd.DataFrame({"email": emails.str.upper().tolist() + ["nobody@x.fr"],
                           "reason": ["hard bounce"] * 20 + ["spam"] * 20 + [None] * 21})
    source = {"list": emails.tolist(), "frame": listed}.get(form)
    if form == "file":
        source = tmp_path / "suppressed.csv"
        listed.to_csv(source, index=False)
    expected, got = _both(bases, tmp_path, 'city = "Paris"', suppressions=source,
                          preset="brevo")
    _same_export(expected, got)
    step = got.waterfall.set_index("step").loc["not suppressed"]
    assert step["removed"] > 0 and "on a suppression list (" in step["reason"]


def test_priority_exports_of_several_segments(bases, tmp_path):
    rules = {"Belgium": 'country = "BE"', "Dutch": 'language = "nl"',
             "Lyon or Belgium": 'city = "Lyon" or country = "BE"'}
    results = []
    for name, base in zip(("pandas", "duckdb"), bases, strict=True):
        segments = [base.segment(rule, name=n) for n, rule in rules.items()]
        results.append(ex.export_segments(segments, tmp_path / name, overlap="priority",
                                          suppressions=["nobody@x.fr"], columns=["email"]))
    for name in rules:
        _same_export(results[0][name], results[1][name])
    steps = results[1]["Lyon or Belgium"].waterfall.set_index("step")
    assert steps.loc["not in a higher-priority segment", "removed"] > 0
    assert _member_tables(bases[1]) == []  # the claims are dropped too


def test_the_data_is_fingerprinted_once_per_base_and_date(bases, tmp_path, monkeypatch):
    duck = bases[1]
    first = duck.segment('city = "Lyon"').to_csv(tmp_path / "a.csv").manifest["data"]
    calls = []
    fingerprint = DuckDBBase.fingerprint
    monkeypatch.setattr(DuckDBBase, "fingerprint", lambda b: calls.append(1) or fingerprint(b))
    again = duck.segment('city = "Paris"').to_csv(tmp_path / "b.csv").manifest["data"]
    assert again == first and calls == []  # 200M events are not hashed for every file
    earlier = duck.at("2026-06-30").segment('city = "Paris"').to_csv(tmp_path / "c.csv")
    assert calls == [1] and earlier.manifest["data"]["sha256"] != first["sha256"]


def _pair_of(contacts: pd.DataFrame, folder: Path) -> tuple[ContactBase, DuckDBBase]:
    contacts.to_parquet(folder / "contacts.parquet", index=False)
    return (ContactBase(contacts, as_of="2026-10-31"),
            se.read_base(folder / "contacts.parquet", engine="duckdb", as_of="2026-10-31"))


@pytest.fixture
def stepwise(tmp_path) -> tuple[ContactBase, DuckDBBase]:
    """One contact removed at each step, two by de-duplication, formulas in the cells."""
    contacts = pd.DataFrame({
        "contact_id": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
        "email": ["ann@x.fr", "not-an-email", "carl@x.fr", "dora@x.fr", None,
                  "fred@x.fr", "gus@x.fr", "ann@x.fr", "gus@x.fr", "hal@x.fr"],
        "email_valid": [True, False, True, True, False, True, True, True, True, True],
        "consent": ["given", "given", "withdrawn", "pending", "given", "given", "given",
                    "given", "given", None],
        "first_name": ["=1+1", "Bea", "Carl", "+33 6", "Eve", "@SUM(A1)", "Gus", "-Annie",
                       "\tGus", "Hal"],
        "city": ["Lyon"] * 10,
        "score": [-5.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, None],
        "visits": [-3, 1, 2, 3, 4, 5, 6, 7, 8, 9],
        "signup": pd.to_datetime(["2026-01-01 10:30"] + ["2026-02-01 00:00"] * 9),
    })
    folder = tmp_path / "stepwise"
    folder.mkdir()
    return _pair_of(contacts, folder)


@pytest.mark.parametrize("include_unsendable", [False, True])
def test_every_step_of_the_waterfall_and_the_formula_guard(stepwise, tmp_path,
                                                           include_unsendable, monkeypatch):
    monkeypatch.setattr(ecsv, "ROWS_PER_CHUNK", 2)
    results = []
    for name, base in zip(("pandas", "duckdb"), stepwise, strict=True):
        (tmp_path / name).mkdir()
        results.append(ex.export_segment(
            base.segment('city = "Lyon"', name="Lyon"), tmp_path / name / "lyon.csv",
            suppressions=pd.DataFrame({"email": ["FRED@x.fr"], "reason": ["bounce"]}),
            columns=["email", "first_name", "score", "visits", "signup"],
            include_unsendable=include_unsendable))
    _same_export(*results)
    steps = results[1].waterfall.set_index("step")["removed"].to_dict()
    assert steps == {"matched by the rule": 0, "valid email": 2, "consented": 3,
                     "not suppressed": 1, "de-duplicated": 2, "exported": 0}
    assert results[1].manifest["neutralised_cells"]["first_name"] >= 1
    with open(results[1].path, encoding="utf-8", newline="") as handle:
        cells = [cell for row in csv.reader(handle) for cell in row]
    assert not any(c[:1] in ("=", "+", "@", "\t") for c in cells)


def test_erased_people_are_removed_as_in_pandas(tmp_path):
    folder = se.sample_path()
    pandas_base = se.load_sample(clean=False)
    duck = se.read_base(folder / "contacts.parquet", engine="duckdb",
                        as_of=pandas_base.as_of)
    erased = pandas_base.segment('city = "Lyon"').members(["email"])["email"].head(9)
    for base in (pandas_base, duck):  # what an erasure leaves in the ledger, for 9 people
        base.erasures._add([base.erasures.hash(e) for e in erased])
    expected, got = _both((pandas_base, duck), tmp_path, 'city = "Lyon"')
    _same_export(expected, got)
    # the 9 less those an earlier step removed (consent)
    assert "(erased " in got.waterfall.set_index("step").loc["not suppressed", "reason"]


@pytest.fixture
def cell_sizes(monkeypatch) -> list[int]:
    """The length of every column chunk the CSV writer converts, as they come."""
    sizes: list[int] = []
    cells = ecsv._cells

    def counting(values, *args):
        sizes.append(len(values))
        return cells(values, *args)

    monkeypatch.setattr(ecsv, "_cells", counting)
    return sizes


def test_no_member_rows_in_pandas_and_bounded_chunks(bases, tmp_path, monkeypatch,
                                                     cell_sizes):
    def refuse(*args, **kwargs):
        raise AssertionError("the members were read into pandas")

    monkeypatch.setattr(DuckDBBase, "_member_rows", refuse)
    sizes = cell_sizes
    result = bases[1].segment('country = "FR"', name="France").to_csv(
        tmp_path / "france.csv", columns=["email", "city", "revenue_90d"])
    assert max(sizes) <= CHUNK and len(sizes) == 3 * -(-result.rows // CHUNK)
    assert bases[1].segment('country = "FR"', name="France").waterfall().equals(
        result.waterfall)


def test_an_interrupted_export_keeps_the_previous_file_and_a_private_temporary(
        bases, tmp_path, monkeypatch):
    duck = bases[1]
    segment = duck.segment('country = "BE"', name="Belgium")
    path = tmp_path / "belgium.csv"
    ex.export_segment(segment, path)
    before = path.read_bytes(), (tmp_path / "belgium.csv.manifest.json").read_bytes()
    seen: list[int] = []

    def note_modes():
        seen.extend(stat.S_IMODE(p.stat().st_mode) for p in _temporaries(tmp_path))

    monkeypatch.setattr(ecsv, "_row_writer", failing_writer(5 * CHUNK, note_modes))
    with pytest.raises(RuntimeError, match="disk full"):
        ex.export_segment(segment, path, preset="brevo")
    assert seen == [0o600]  # the staged file, half written, was the owner's only
    assert (path.read_bytes(), (tmp_path / "belgium.csv.manifest.json").read_bytes()) == before
    assert _temporaries(tmp_path) == []
    assert _member_tables(duck) == []


#: The child opens the sample with the DuckDB engine, exports a segment and stops dead half
#: way through its rows, after touching the flag file, so that the parent kills it there.
CHILD = textwrap.dedent('''
    import sys
    from pathlib import Path
    import segexplore as se
    from segexplore.delivery import csv as ecsv
    from export_faults import stop_mid_write

    out, flag = Path(sys.argv[1]), Path(sys.argv[2])
    ecsv.ROWS_PER_CHUNK = 7
    stop_mid_write(500, flag)
    folder = se.sample_path()
    base = se.read_base(folder / "contacts.parquet", engine="duckdb", threads=1)
    base.segment('country = "BE"', name="Belgium").to_csv(out)
''')


@pytest.mark.slow
def test_a_killed_export_leaves_the_previous_pair_and_a_private_temporary(bases, tmp_path):
    out = tmp_path / "segment.csv"
    bases[1].segment('city = "Lyon"', name="Lyon").to_csv(out)
    before = out.read_bytes(), (tmp_path / "segment.csv.manifest.json").read_bytes()
    flag = tmp_path / "flag"
    kill_when_flagged(CHILD, [str(out), str(flag)], flag)
    assert (out.read_bytes(), (tmp_path / "segment.csv.manifest.json").read_bytes()) == before
    left = _temporaries(tmp_path)
    assert len(left) == 1 and left[0].stat().st_size > 0
    assert stat.S_IMODE(left[0].stat().st_mode) == 0o600
    bases[1].segment('city = "Paris"', name="Paris").to_csv(tmp_path / "other.csv")
    assert _temporaries(tmp_path) == []  # the next export in the folder removed it
