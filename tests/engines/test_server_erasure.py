"""Erasure and subject access on a connected base (``se.connect``) in PostgreSQL 15, Spark
and a DuckDB connection (tests/servers.py starts the servers) give the pandas engine's
answers on the same tables: the same ErasureReport and log line, the same base afterwards
(counts, features, members, exports), exactly the erased people fewer, and the user's
tables untouched (segexplore never writes to them: the report names the tables that still
hold the person, for the data team to delete them there)."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import servers
from feature_parity import assert_same_values
from servers import connected_base
from test_server_export import _same_export
from test_server_stats import plain_text_sample

from segexplore.delivery.privacy import forget, subject_access
from segexplore.errors import NotFoundError

postgres_server, postgres, spark = servers.postgres_server, servers.postgres, servers.spark

ENGINES = ["postgres", "spark", "duckdb"]
SALT = "a salt of the test's own"
EVERYONE = "count(open, last 3650 days) >= 0"
RULES = [EVERYONE, 'city = "Lyon"', "count(purchase, last 365 days) >= 1", 'rfm_group = "champions"',
         "engagement_score in top 10%", 'count(open, last 90 days) >= 2 and device = "Android"',
         "revenue_365d > 200"]
TABLES = ("contacts", "events", "orders")


def _people(base) -> tuple[str, int]:
    """Someone with events and orders (erased by email, in capitals and spaces) and
    someone else with events only (erased by id)."""
    events = set(base.events["contact_id"])
    orders = set(base.orders["contact_id"])
    contacts = base.contacts.set_index("contact_id")
    by_email = contacts.loc[sorted(events & orders)[3], "email"]
    return by_email, int(sorted(events - orders)[5])


def _source_rows(connected) -> dict[str, int]:
    """Rows of the user's tables, counted in the engine."""
    store = connected._store
    return {t: int(store.backend.rows(f"SELECT count(*) FROM {store.source_tables[t]}")[0][0])
            for t in TABLES}


@pytest.fixture(scope="module", params=ENGINES)
def erased(request, tmp_path_factory):
    """The sample in pandas and in the engine, each used before (features, counts, a saved
    segment) so that anything kept from before the erasure would show, then two people
    forgotten on both, each logged."""
    pandas_base = plain_text_sample()
    tables = {t: getattr(pandas_base, t) for t in TABLES}
    connected = connected_base(request, request.param, tables, prefix="er_",
                               as_of=pandas_base.as_of)
    email, contact_id = _people(pandas_base)
    before = {"source": _source_rows(connected), "contacts": connected.contact_count,
              "counts": {rule: connected.count(rule) for rule in RULES}}
    connected.features  # noqa: B018 (computed before, to be dropped)
    for base in (pandas_base, connected):
        base.segment('city = "Lyon" and purchases_365d >= 1', name="Lyon buyers")
    logs = tmp_path_factory.mktemp("logs")
    reports = {}
    for engine, base in (("pandas", pandas_base), ("engine", connected)):
        reports[engine] = [
            forget(base, f"  {email.upper()} ", log_path=logs / f"{engine}.jsonl", salt=SALT),
            forget(base, contact_id, log_path=logs / f"{engine}.jsonl", salt=SALT)]
    yield {"pandas": pandas_base, "connected": connected, "email": email, "id": contact_id,
           "before": before, "reports": reports, "logs": logs, "engine": request.param}
    connected.close()


def test_the_reports_and_log_lines_are_the_pandas_ones(erased):
    expected, got = erased["reports"]["pandas"], erased["reports"]["engine"]
    for want, have in zip(expected, got, strict=True):
        assert have.removed == want.removed
        assert have.identifier_hash == want.identifier_hash
        assert want.kept_in_source == ()
    # both people had contact and event rows, the first one orders too (chosen so)
    store = erased["connected"]._store
    assert got[0].kept_in_source == tuple(store.source_tables[t] for t in TABLES)
    assert got[1].kept_in_source == (store.source_tables["contacts"],
                                     store.source_tables["events"])
    assert got[0].removed["orders"] > 0 and got[1].removed["events"] > 0
    assert "still in the source tables" in repr(got[0])
    lines = [[json.loads(line) for line in (erased["logs"] / f"{e}.jsonl").read_text()
              .splitlines()] for e in ("pandas", "engine")]
    for want, have in zip(*lines, strict=True):
        assert have.pop("kept_in_source") and "kept_in_source" not in want
        want.pop("time"), have.pop("time")
        assert have == want
    assert erased["email"] not in (erased["logs"] / "engine.jsonl").read_text()


def test_the_source_tables_are_untouched_and_the_base_has_two_people_fewer(erased):
    connected, before = erased["connected"], erased["before"]
    assert _source_rows(connected) == before["source"]
    assert connected.contact_count == before["contacts"] - 2 == len(
        erased["pandas"].contacts)
    removed = erased["reports"]["engine"]
    for table in ("events", "orders"):
        (left,), = connected._store.backend.rows(
            f"SELECT count(*) FROM {connected._store.tables[table]}")
        assert left == before["source"][table] - sum(r.removed[table] for r in removed)
    for rule in RULES:
        assert connected.count(rule) == erased["pandas"].segment(rule).size
    # counted before, no longer (a count kept from before would still have them)
    assert connected.count(EVERYONE) == before["counts"][EVERYONE] - 2


def test_features_and_members_are_the_pandas_ones_after_erasure(erased):
    pandas_base, connected = erased["pandas"], erased["connected"]
    got = connected.features
    expected = pandas_base.features.reset_index(drop=True)
    assert_same_values(expected, got)
    ids = connected.segment('city = "Lyon" or purchases_365d >= 1').members(
        ["contact_id"])["contact_id"]
    want = pandas_base.segment('city = "Lyon" or purchases_365d >= 1').members()["contact_id"]
    assert sorted(ids.tolist()) == sorted(want.tolist())
    assert erased["id"] not in set(connected.members(
        EVERYONE, ["contact_id"])["contact_id"])
    assert connected.segments["Lyon buyers"].size == pandas_base.segments["Lyon buyers"].size


def test_an_export_after_erasure_is_the_pandas_export(erased, tmp_path):
    results = []
    for name, base in (("pandas", erased["pandas"]), ("engine", erased["connected"])):
        folder = tmp_path / name
        folder.mkdir()
        results.append(base.segment(EVERYONE, name="All").to_csv(
            folder / "all.csv", columns=["contact_id", "email", "city"]))
    _same_export(*results)
    text = results[1].path.read_text(encoding="utf-8-sig")
    assert erased["email"] not in text and results[1].rows > 10_000


def test_forgetting_again_or_an_unknown_person_answers_as_pandas(erased):
    pandas_base, connected = erased["pandas"], erased["connected"]
    again = [forget(base, erased["email"], salt=SALT) for base in (pandas_base, connected)]
    assert again[0].already_forgotten and again[1].already_forgotten
    assert again[1].removed == again[0].removed == {}
    for who in ("nobody@example.com", 987_654_321):
        messages = []
        for base in (pandas_base, connected):
            with pytest.raises(NotFoundError) as caught:
                forget(base, who)
            messages.append(str(caught.value))
        assert messages[0] == messages[1] and str(who) in messages[0]


def test_subject_access_is_the_pandas_answer(erased):
    pandas_base, connected = erased["pandas"], erased["connected"]
    contacts = pandas_base.contacts
    someone = contacts[contacts["contact_id"].isin(set(pandas_base.orders["contact_id"]))]
    email, city = someone["email"].iloc[10], someone["city"].iloc[10]
    contact_id = int(someone["contact_id"].iloc[10])
    for base in (pandas_base, connected):
        base.segment(f'city = "{city}"', name="Their city")
    for who in (email, f" {email.upper()}", contact_id, str(contact_id)):
        expected, got = subject_access(pandas_base, who), subject_access(connected, who)
        expected.pop("generated_at"), got.pop("generated_at")
        assert got == expected, who
    assert "Their city" in expected["segments"] and len(expected["orders"]) > 0
    assert len(expected["features"]) == 1


def test_close_drops_the_views_and_what_the_erasure_uploaded(request):
    pandas_base = plain_text_sample()
    tables = {t: getattr(pandas_base, t) for t in TABLES}
    connected = connected_base(request, "duckdb", tables, prefix="cl_",
                               as_of=pandas_base.as_of)
    forget(connected, _people(pandas_base)[0])
    backend = connected._store.backend
    made = list(backend.made)
    assert len(backend.views) == 3 and set(backend.views) <= set(made)
    connected.close()
    names = {row[0] for row in backend.connection.execute(
        "SELECT table_name FROM duckdb_tables() UNION ALL SELECT view_name FROM "
        "duckdb_views() WHERE NOT internal").fetchall()}
    assert not {n for n in names if n.startswith("segexplore_")}
    assert pd.Series([m.strip('"') for m in made]).str.startswith("segexplore_").all()
