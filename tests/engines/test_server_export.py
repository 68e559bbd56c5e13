"""The consented export of a connected base (``se.connect``) runs in PostgreSQL 15, Spark and
a DuckDB connection (tests/servers.py starts the servers) and is the pandas engine's export
of the same tables: the same rows and bytes, the same waterfall, the same manifest but the
data fingerprint (hashed in the engine) and the time of writing; suppression lists, priority
exports, the audit columns, many small chunks, seeded splits and their files; the members'
tables are dropped afterwards.

Cells of the features that add up amounts (``SUMS``: revenue and basket) are compared as
numbers within 1e-9: the engine adds them in its own order, so that the last bit of a total
may differ (as tests/feature_parity.py allows); every other cell is byte for byte."""

from __future__ import annotations

import csv
import io

import duckdb
import pandas as pd
import pytest
import servers
from feature_parity import SUMS
from test_server_stats import _connected, pandas_base  # noqa: F401 (a fixture)

from segexplore.delivery import csv as ecsv
from segexplore.delivery import export as ex
from segexplore.delivery.manifest import verify_export
from segexplore.delivery.split import export_split, split

postgres_server, postgres, spark = servers.postgres_server, servers.postgres, servers.spark

ENGINES = ["postgres", "spark", "duckdb"]
CHUNK = 97

#: Manifest fields that differ between the engines: the data fingerprint, the time of
#: writing, and the file's checksum and size when an amount's last digit differs.
ENGINE_FIELDS = {"data", "created_at"}

CASES = [
    ('city = "Lyon"', {}),
    ('rfm_group in ("champions", "loyal")',
     {"preset": "mailchimp", "columns": ["email", "first_name", "birth_date", "interests",
                                         "signup_date", "postal_code", "revenue_365d",
                                         "last_purchase_date"]}),
    ('consent != "given" or device = "iOS"',
     {"preset": "brevo", "excel": True, "include_unsendable": True,
      "columns": ["email", "consent", "loyalty_tier", "age", "rfm_recency",
                  "cart_abandoner", "next_birthday", "days_since_last_open"]}),
    ('country = "BE" and count(purchase, last 365 days) >= 1',
     {"columns": ["contact_id", "email", "purchases_365d", "avg_basket", "rfm_score",
                  "first_purchase_date", "consent_date"]}),
    ('language = "nl" and engagement_score >= 20', {"preset": "plain", "excel": True}),
]


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch):
    monkeypatch.setattr(ecsv, "ROWS_PER_CHUNK", CHUNK)


def _cells(result) -> tuple[list[str], list[list[str]]]:
    separator = result.manifest["options"]["separator"]
    text = result.path.read_text(encoding=result.manifest["options"]["encoding"])
    header, *rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=separator))
    return header, rows


def _same_export(expected, got) -> None:
    """``got`` wrote ``expected``'s file (amount sums within 1e-9), waterfall and manifest."""
    assert got.rows == expected.rows and got.waterfall.equals(expected.waterfall)
    summed = [name in SUMS for name in expected.manifest["options"]["columns"]]
    if got.path.read_bytes() != expected.path.read_bytes():
        assert any(summed), "only a sum of amounts may differ"
        header, rows = _cells(expected)
        assert _cells(got)[0] == header
        for want, have in zip(rows, _cells(got)[1], strict=True):
            for a, b, is_sum in zip(want, have, summed, strict=True):
                if is_sum and a != b:
                    assert float(b) == pytest.approx(float(a), rel=1e-9, abs=1e-9)
                else:
                    assert b == a
    fields = ENGINE_FIELDS | ({"sha256", "bytes"} if any(summed) else set())
    differs = {k for k in expected.manifest if expected.manifest[k] != got.manifest.get(k)}
    assert differs <= fields, differs
    assert set(got.manifest) == set(expected.manifest)
    assert verify_export(got.path)["sha256"] == got.manifest["sha256"]
    data = got.manifest["data"]
    assert data["contacts"]["rows"] == expected.manifest["data"]["contacts"]["rows"]
    assert data["events"]["method"] == "rows" and len(data["sha256"]) == 64


def _kept(connected) -> set[str]:
    """What the base keeps in the engine besides its positions and feature tables."""
    store = connected._store
    return set(store.backend.made) - {store.positioned, *store.feature_tables.values()}


@pytest.mark.parametrize("engine", ENGINES)
def test_exports_are_the_pandas_engines(request, engine, pandas_base, tmp_path):
    listed = pandas_base.segment('city = "Paris"').members(["email"])["email"].head(60)
    suppressions = pd.DataFrame({"email": listed.str.upper().tolist() + ["nobody@x.fr"],
                                 "reason": ["hard bounce"] * 20 + ["spam"] * 20 + [None] * 21})
    priority = {"Belgium": 'country = "BE"', "Dutch": 'language = "nl"',
                "Lyon or Belgium": 'city = "Lyon" or country = "BE"'}
    with _connected(engine, pandas_base, request) as connected:
        for number, (rule, options) in enumerate(CASES):
            results = []
            for name, base in (("pandas", pandas_base), (engine, connected)):
                folder = tmp_path / f"{number}-{name}"
                folder.mkdir()
                results.append(base.segment(rule, name="S").to_csv(folder / "s.csv",
                                                                    **options))
            _same_export(*results)
            assert results[1].rows > 3 * CHUNK or number == 4  # many chunks
            assert _kept(connected) == set()  # the members' tables are dropped

        # a suppression list given to the export, and one registered on the base
        results = []
        for name, base in (("pandas", pandas_base), (engine, connected)):
            (tmp_path / f"paris-{name}").mkdir()
            results.append(base.segment('city = "Paris"', name="Paris").to_csv(
                tmp_path / f"paris-{name}" / "paris.csv", suppressions=suppressions,
                preset="brevo"))
        _same_export(*results)
        step = results[1].waterfall.set_index("step").loc["not suppressed"]
        assert step["removed"] > 0 and "on a suppression list (" in step["reason"]
        quiet = connected.with_suppressions(suppressions)
        again = quiet.segment('city = "Paris"', name="Paris").waterfall()
        assert again.equals(results[0].waterfall)
        assert connected.segment('city = "Paris"').waterfall()["removed"].iloc[3] == 0

        # a priority export: the later segments skip who the earlier ones took
        exported = []
        for name, base in (("pandas", pandas_base), (engine, connected)):
            segments = [base.segment(rule, name=n) for n, rule in priority.items()]
            exported.append(ex.export_segments(segments, tmp_path / f"priority-{name}",
                                               overlap="priority", columns=["email"],
                                               suppressions=["nobody@x.fr"]))
        for name in priority:
            _same_export(exported[0][name], exported[1][name])
        steps = exported[1]["Lyon or Belgium"].waterfall.set_index("step")
        assert steps.loc["not in a higher-priority segment", "removed"] > 0
        assert _kept(connected) == set()  # the claims are dropped too

        # a split (its ids and strata read from the engine) and its files
        for stratify in (None, "city", "rfm_group"):
            frames = [split(base.segment('country = "FR"'), seed=11, stratify=stratify,
                            variants={"A": 0.3, "B": 0.3, "C": 0.3})
                      for base in (pandas_base, connected)]
            assert frames[1].equals(frames[0]) and frames[1].attrs == frames[0].attrs
        files = []
        for name, base in (("pandas", pandas_base), (engine, connected)):
            files.append(export_split(base.segment('city = "Lyon"', name="Lyon"),
                                      tmp_path / f"split-{name}", seed=3, stratify="city",
                                      preset="brevo"))
        assert list(files[1]) == list(files[0]) and len(files[0]) == 3
        for group, result in files[0].items():
            _same_export(result, files[1][group])
        assert _kept(connected) == set()


def test_the_fingerprint_changes_with_one_value_and_not_with_the_date(tmp_path, pandas_base):
    """On a DuckDB connection whose tables are real tables: one email changed changes the
    contacts' hash, not the events'; the same data gives the same hash."""
    db = duckdb.connect()
    for name in ("contacts", "events", "orders"):
        frame = getattr(pandas_base, name)
        db.register("frame", frame)
        db.execute(f"CREATE TABLE {name} AS SELECT * FROM frame")
        db.unregister("frame")
    with se_connect(db, pandas_base) as base:
        first = base.segment('city = "Lyon"').to_csv(tmp_path / "a.csv").manifest["data"]
        same = base.fingerprint()
    db.execute("UPDATE contacts SET email = 'someone.else@x.fr' WHERE contact_id = "
               "(SELECT min(contact_id) FROM contacts)")
    with se_connect(db, pandas_base) as base:
        changed = base.fingerprint()
    assert same == first and first["contacts"]["rows"] == len(pandas_base.contacts)
    assert changed["contacts"]["sha256"] != first["contacts"]["sha256"]
    assert changed["events"] == first["events"] and changed["sha256"] != first["sha256"]


def se_connect(db, pandas_base):
    import segexplore as se

    return se.connect(db, as_of=pandas_base.as_of)


CATALOG = {"France": ('country = "FR"', None),
           "Paris buyers": ('city = "Paris" and purchases_365d >= 1', "France"),
           "Dutch": ('language = "nl"', None)}
HISTORY = ["segment", "size", "entered", "left", "jaccard"]


def _catalog(folder):
    from segexplore.delivery.catalog import Catalog

    catalog = Catalog()
    for name, (rule, parent) in CATALOG.items():
        catalog.add(name, rule, parent=parent)
    path = folder / "catalog.yaml"
    catalog.save(path)
    return catalog, path


def _refreshed(catalog, base, history, dates):
    from segexplore.delivery.refresh import read_history, refresh

    for date in dates:
        refresh(catalog, base.at(date), history_path=history)
    return read_history(history)


def test_refresh_on_a_duckdb_base_is_the_pandas_refresh(tmp_path):
    """A reported bug: refresh read ``base.contacts``, which a DuckDB base does not hold
    (AttributeError)."""
    import segexplore as se

    folder = se.sample_path()
    duck = se.read_base(*(folder / f"{t}.parquet" for t in ("contacts", "events", "orders")),
                        engine="duckdb")
    catalog, _ = _catalog(tmp_path)
    dates = ["2026-06-30", str(duck.as_of)]
    want = _refreshed(catalog, se.load_sample(clean=False), tmp_path / "pandas.csv", dates)
    got = _refreshed(catalog, duck, tmp_path / "duckdb.csv", dates)
    pd.testing.assert_frame_equal(got[HISTORY], want[HISTORY])
    assert (want["entered"].iloc[3:] > 0).any() and want["size"].iloc[1] > 0


def test_segexplore_refresh_connect_postgres_is_the_pandas_refresh(
        tmp_path, pandas_base, postgres, postgres_server, monkeypatch, capsys):
    """``segexplore refresh CATALOG --connect env:VAR --tables ...``: the URL read from the
    environment (no password on the command line), the history and the members' snapshot
    as the pandas engine writes them."""
    from servers import load_postgres

    from segexplore.cli import main

    names = load_postgres(postgres, {"contacts": pandas_base.contacts,
                                     "events": pandas_base.events,
                                     "orders": pandas_base.orders}, prefix="rf_")
    server = postgres_server
    monkeypatch.setenv("SEGEXPLORE_TEST_PG",
                       f"postgresql://{server.user}@{server.host}:{server.port}/{server.dbname}")
    catalog, path = _catalog(tmp_path)
    dates = ["2026-06-30", str(pandas_base.as_of.date())]
    want = _refreshed(catalog, pandas_base, tmp_path / "pandas.csv", dates)
    for date in dates:
        status = main(["refresh", str(path), "--connect", "env:SEGEXPLORE_TEST_PG",
                       "--tables", ",".join(names[t] for t in ("contacts", "events", "orders")),
                       "--as-of", date, "--history", str(tmp_path / "server.csv")])
        assert status in (0, 1)  # 1: a segment jumped, as it may between these dates
    printed = capsys.readouterr().out
    assert "Refreshed 3 segments" in printed and "Paris buyers" in printed
    from segexplore.delivery.refresh import read_history

    got = read_history(tmp_path / "server.csv")
    pd.testing.assert_frame_equal(got[HISTORY], want[HISTORY])
    members = [pd.read_parquet(tmp_path / f"{name}.members.parquet").drop(columns="run_at")
               for name in ("pandas", "server")]
    pd.testing.assert_frame_equal(members[1], members[0])


@pytest.mark.parametrize(("arguments", "message"), [
    (["--connect", "env:SEGEXPLORE_NOT_SET"], "environment variable 'SEGEXPLORE_NOT_SET' is not set"),
    (["--connect", "mysql://u:secret@h/db"], "expected postgresql://"),
    (["--connect", "duckdb:/nowhere/base.duckdb"], "no DuckDB database file /nowhere"),
    (["--connect", "postgresql://u@h/db", "--tables", "contacts"], "--tables: CONTACTS,EVENTS"),
])
def test_a_bad_connect_option_is_a_clear_error(tmp_path, capsys, arguments, message):
    from segexplore.cli import main

    _, path = _catalog(tmp_path)
    status = main(["refresh", str(path), *arguments])
    err = capsys.readouterr().err
    assert status != 0 and message in err and "secret" not in err


def test_connect_with_a_data_file_is_a_usage_error(tmp_path, capsys):
    from segexplore.cli import main

    _, path = _catalog(tmp_path)
    with pytest.raises(SystemExit):
        main(["refresh", str(path), "--connect", "postgresql://u@h/db", "--data", "x.csv"])
    assert "--connect reads the tables where they are: drop --data" in capsys.readouterr().err


def test_segexplore_export_connect_duckdb_file(tmp_path, pandas_base):
    """``segexplore export RULE --connect duckdb:FILE``: the pandas engine's file."""
    import segexplore as se
    from segexplore.cli import main

    database = tmp_path / "crm.duckdb"
    db = duckdb.connect(str(database))
    for name in ("contacts", "events", "orders"):
        db.register("frame", getattr(pandas_base, name))
        db.execute(f"CREATE TABLE {name} AS SELECT * FROM frame")
        db.unregister("frame")
    db.close()
    rule = 'city = "Lyon" and purchases_365d >= 1'
    status = main(["export", rule, "--connect", f"duckdb:{database}", "--as-of",
                   str(pandas_base.as_of), "--out", str(tmp_path / "server.csv"),
                   "--preset", "brevo"])
    assert status == 0
    (tmp_path / "pandas").mkdir()
    want = se.export_segment(pandas_base.segment(rule, name="export"),
                             tmp_path / "pandas" / "server.csv", preset="brevo")
    assert (tmp_path / "server.csv").read_bytes() == want.path.read_bytes() and want.rows > 20
