"""Erasure and subject access on a DuckDB base give the pandas engine's answers: the same
ErasureReport and log line, the same base afterwards (counts, members, features, profile,
comparison, exports), exactly one person fewer and nothing of theirs left in any table."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from conftest import write_parquet

import segexplore as se
from segexplore.analysis.compare import compare
from segexplore.analysis.profile import profile
from segexplore.delivery.privacy import forget, subject_access, subject_access_json
from segexplore.errors import NotFoundError

EVERYONE = "count(open, last 3650 days) >= 0"
RULES = [EVERYONE, 'city = "Lyon"', "count(purchase, last 365 days) >= 1",
         'rfm_group = "champions"', "engagement_score in top 10%",
         "count(open, last 90 days) >= 2 and device = \"Android\"",
         'lifecycle_stage in ("at_risk", "lapsed")', "revenue_365d > 200"]
PROFILE_TABLES = ("summary", "top_values", "histograms", "tags", "suggestions")
SALT = "a salt of the test's own"


def _open_both():
    folder = se.sample_path()
    duck = se.read_base(folder / "contacts.parquet", folder / "events.parquet",
                        folder / "orders.parquet", engine="duckdb", threads=2,
                        memory_limit="2GB")
    return se.load_sample(clean=False), duck


def _raw_tables() -> dict[str, pd.DataFrame]:
    """The sample's files as pandas reads them: the expectations' independent source."""
    folder = se.sample_path()
    return {t: pd.read_parquet(folder / f"{t}.parquet") for t in ("contacts", "events",
                                                                  "orders")}


def _people(raw: dict[str, pd.DataFrame]) -> tuple[str, int]:
    """Someone with events and orders (erased by email, in capitals and spaces) and
    someone else with events (erased by id)."""
    events = raw["events"]["contact_id"].value_counts()
    orders = raw["orders"]["contact_id"].value_counts()
    both = sorted(set(events.index) & set(orders.index))
    contacts = raw["contacts"].set_index("contact_id")
    by_email = contacts.loc[both[3], "email"]
    by_id = int(sorted(set(events.index) - set(orders.index))[5])
    return by_email, by_id


@pytest.fixture(scope="module")
def erased(tmp_path_factory):
    """The sample on both engines, each used before (features, counts, a saved segment, a
    scored view) so that anything kept from before the erasure would show, then two people
    forgotten: one by email, one by id, each logged."""
    pandas_base, duck = _open_both()
    raw = _raw_tables()
    email, contact_id = _people(raw)
    before = {"features": duck._feature_table(), "counts": {r: duck.count(r) for r in RULES}}
    for base in (pandas_base, duck):
        lyon = base.segment('city = "Lyon" and purchases_365d >= 1', name="Lyon buyers")
        before[f"lyon {base.engine}"] = lyon.size  # a membership kept from before
    scores = np.arange(duck.contact_count, dtype=float)
    scored = duck.with_contact_columns({"score_x": scores})
    scored.count("score_x >= 0")
    logs = tmp_path_factory.mktemp("logs")
    reports = {}
    for engine, base in (("pandas", pandas_base), ("duckdb", duck)):
        reports[engine] = [
            forget(base, f"  {email.upper()} ", log_path=logs / f"{engine}.jsonl", salt=SALT),
            forget(base, contact_id, log_path=logs / f"{engine}.jsonl", salt=SALT)]
    return {"pandas": pandas_base, "duck": duck, "raw": raw, "email": email,
            "id": contact_id, "before": before, "reports": reports, "logs": logs,
            "scored": scored, "scores": pd.Series(scores, index=raw["contacts"]["contact_id"])}


def _erased_ids(erased) -> set:
    contacts = erased["raw"]["contacts"]
    return {int(contacts.loc[contacts["email"] == erased["email"], "contact_id"].iloc[0]),
            erased["id"]}


def test_the_erasure_reports_and_log_lines_are_the_pandas_ones(erased):
    expected, got = erased["reports"]["pandas"], erased["reports"]["duckdb"]
    # not vacuous: the first person had events and orders, the second events
    assert expected[0].removed["contacts"] == 1 and expected[0].removed["events"] > 0
    assert expected[0].removed["orders"] > 0 and expected[1].removed["events"] > 0
    for mine, theirs in zip(got, expected, strict=True):
        assert mine.removed == theirs.removed
        assert (mine.identifier_hash, mine.identifier_kind, mine.total) == (
            theirs.identifier_hash, theirs.identifier_kind, theirs.total)
        assert mine.segments_naming_person == theirs.segments_naming_person == ()
    lines = {engine: [json.loads(line) for line in
                      (erased["logs"] / f"{engine}.jsonl").read_text().splitlines()]
             for engine in ("pandas", "duckdb")}
    assert len(lines["duckdb"]) == 2
    for record in (*lines["pandas"], *lines["duckdb"]):
        record.pop("time")
    assert lines["duckdb"] == lines["pandas"]
    assert erased["email"] not in (erased["logs"] / "duckdb.jsonl").read_text()


def test_exactly_the_two_people_are_gone_and_the_others_keep_their_activity(erased):
    duck, raw = erased["duck"], erased["raw"]
    gone = _erased_ids(erased)
    n = len(raw["contacts"])
    assert duck.contact_count == n - 2
    expected_ids = [i for i in raw["contacts"]["contact_id"] if i not in gone]
    assert duck.contact_ids.tolist() == expected_ids
    assert duck.contact_ids.tolist() == erased["pandas"].contacts["contact_id"].tolist()
    store = duck._store
    positions = duck.connection.execute(
        f"SELECT position FROM {store.contacts_table}").fetchnumpy()["position"]
    assert positions.tolist() == list(range(n - 2))  # dense, in the files' order
    for table in ("events", "orders"):
        counted = duck.connection.execute(
            f"SELECT contact_id, count(*) AS n FROM {store.activity_tables[table]} "
            f"GROUP BY ALL").df().set_index("contact_id")["n"].sort_index()
        frame = raw[table]
        expected = frame[~frame["contact_id"].isin(gone)]["contact_id"].value_counts()
        assert counted.to_dict() == expected.sort_index().to_dict()
        assert len(expected) < frame["contact_id"].nunique()  # someone's rows did go


def test_counts_members_and_features_are_the_pandas_ones_after_erasure(erased):
    pandas_base, duck = erased["pandas"], erased["duck"]
    for rule in RULES:
        assert duck.count(rule) == pandas_base.count(rule), rule
        assert (duck.evaluator().mask(rule).to_numpy()
                == pandas_base.evaluator().mask(rule).to_numpy()).all(), rule
    # counted anew, not read from before the erasure
    assert duck.count(EVERYONE) == erased["before"]["counts"][EVERYONE] - 2
    members = duck.segments["Lyon buyers"].members(["email", "purchases_365d"])
    expected = pandas_base.segments["Lyon buyers"].members(["email", "purchases_365d"])
    assert members["contact_id"].tolist() == expected["contact_id"].tolist()
    assert members["purchases_365d"].tolist() == expected["purchases_365d"].tolist()
    pd.testing.assert_frame_equal(duck.features, pandas_base.features, check_exact=True)
    june, june_pandas = duck.at("2026-06-30"), pandas_base.at("2026-06-30")
    for rule in RULES[1:4]:
        assert june.count(rule) == june_pandas.count(rule), rule


def test_the_profile_and_the_comparison_are_the_pandas_ones_after_erasure(erased):
    pandas_base, duck = erased["pandas"], erased["duck"]
    expected, got = profile(pandas_base), profile(duck)
    assert got.n_rows == expected.n_rows == len(erased["raw"]["contacts"]) - 2
    for table in PROFILE_TABLES:
        pd.testing.assert_frame_equal(getattr(got, table), getattr(expected, table),
                                      check_exact=True, obj=table)
    rules = {"Android": 'device = "Android"', "Champions": 'rfm_group = "champions"'}
    theirs = compare([pandas_base.segment(r, name=n) for n, r in rules.items()])
    mine = compare([duck.segment(r, name=n) for n, r in rules.items()])
    for frame in ("sizes", "overlap", "tests", "distributions", "numeric", "differences"):
        pd.testing.assert_frame_equal(getattr(mine, frame), getattr(theirs, frame),
                                      check_exact=True, obj=frame)


def test_the_person_is_in_no_table_feature_or_export(erased, tmp_path):
    duck, email = erased["duck"], erased["email"]
    gone = sorted(_erased_ids(erased))
    store, connection = duck._store, duck.connection
    wanted = ", ".join(str(i) for i in gone)
    for table in (store.contacts_table, *store.activity_tables.values(),
                  duck._feature_table(), duck._contact_index()):
        (count,), = connection.execute(
            f"SELECT count(*) FROM {table} WHERE contact_id IN ({wanted})").fetchall()
        assert count == 0, table
    (count,), = connection.execute(f"SELECT count(*) FROM {store.contacts_table} WHERE "
                                   f"lower(email) = ?", [email.lower()]).fetchall()
    assert count == 0
    # the features computed before the erasure held the person: dropped, not kept
    tables = {t for (t,) in connection.execute("SELECT table_name FROM duckdb_tables()")
              .fetchall()}
    assert erased["before"]["features"] not in tables
    assert duck.features.shape[0] == duck.contact_count
    rule = "count(purchase, last 3650 days) >= 1 or count(open, last 3650 days) >= 0"
    exported = duck.segment(rule, name="Everyone").to_csv(tmp_path / "everyone.csv",
                                                          columns=["email", "city"])
    text = (tmp_path / "everyone.csv").read_text(encoding="utf-8-sig")
    assert exported.rows > 10_000 and email not in text
    pandas_export = erased["pandas"].segment(rule, name="Everyone").to_csv(
        tmp_path / "pandas.csv", columns=["email", "city"])
    assert (tmp_path / "everyone.csv").read_bytes() == (tmp_path / "pandas.csv").read_bytes()
    assert exported.waterfall.equals(pandas_export.waterfall)


def test_a_scored_view_made_before_loses_the_person_and_keeps_its_scores_aligned(erased):
    scored, gone = erased["scored"], _erased_ids(erased)
    assert scored.contact_count == erased["duck"].contact_count
    members = scored.segment("score_x >= 0", name="All scored").members(["score_x"])
    assert not set(members["contact_id"]) & gone
    assert members["score_x"].tolist() == erased["scores"].loc[
        members["contact_id"]].tolist()


def test_forgetting_again_or_an_unknown_person_answers_as_pandas(erased):
    pandas_base, duck = erased["pandas"], erased["duck"]
    again = [forget(base, erased["email"], salt=SALT) for base in (pandas_base, duck)]
    assert again[0].already_forgotten and again[1].already_forgotten
    assert again[1].removed == again[0].removed == {}
    assert again[1].identifier_hash == again[0].identifier_hash
    for who in ("nobody@example.com", 987_654_321):
        messages = []
        for base in (pandas_base, duck):
            with pytest.raises(NotFoundError) as caught:
                forget(base, who)
            messages.append(str(caught.value))
        assert messages[0] == messages[1] and str(who) in messages[0]
        messages = []
        for base in (pandas_base, duck):
            with pytest.raises(NotFoundError) as caught:
                subject_access(base, who)
            messages.append(str(caught.value))
        assert messages[0] == messages[1]


def _access(base, who) -> dict:
    data = subject_access(base, who)
    data.pop("generated_at")
    return data


def test_subject_access_is_the_pandas_answer():
    pandas_base, duck = _open_both()
    raw = _raw_tables()
    email, contact_id = _people(raw)
    city = raw["contacts"].set_index("email").loc[email, "city"]
    for base in (pandas_base, duck):
        base.segment(f'city = "{city}"', name="Their city")  # they are in it
        base.segment("count(purchase, last 365 days) >= 1", name="Buyers")
    for who in (email, f" {email.upper()}", contact_id, str(contact_id)):
        expected, got = _access(pandas_base, who), _access(duck, who)
        assert got == expected, who
        assert len(expected["events"]) > 0 and len(expected["features"]) == 1
    assert _access(pandas_base, email)["orders"]
    assert "Their city" in _access(pandas_base, email)["segments"]
    for text in (subject_access_json(pandas_base, email), subject_access_json(duck, email)):
        assert email in text
    mine, theirs = (json.loads(subject_access_json(b, email)) for b in (duck, pandas_base))
    mine.pop("generated_at"), theirs.pop("generated_at")
    assert mine == theirs
    assert json.dumps(mine, sort_keys=True) == json.dumps(theirs, sort_keys=True)


def test_a_value_only_the_person_had_leaves_the_profile_as_in_pandas(tmp_path):
    from tiny_base import NOW, contacts_frame, events_frame

    cleaned = se.read_base(contacts_frame(), events_frame(), now=NOW)
    # (an all-missing category column reads back as text in DuckDB: not this test's point)
    paths = write_parquet(tmp_path, cleaned.contacts.drop(columns="email_problem"),
                          cleaned.events)
    pandas_base = se.read_base(paths["contacts"], paths["events"], clean=False,
                               as_of=cleaned.as_of)
    duck = se.read_base(paths["contacts"], paths["events"], engine="duckdb",
                        as_of=cleaned.as_of)
    assert (pandas_base.contacts["city"] == "Gent").sum() == 1  # contact 5's alone
    for base in (pandas_base, duck):
        forget(base, "e@x.fr")
    expected, got = profile(pandas_base), profile(duck)
    for table in PROFILE_TABLES:
        pd.testing.assert_frame_equal(getattr(got, table), getattr(expected, table),
                                      check_exact=True, obj=table)
    assert "Gent" not in set(got.top_values["value"].astype(str))
    assert "Gent" in set(profile(se.read_base(paths["contacts"], engine="duckdb")).top_values[
        "value"].astype(str))  # it was there before


def test_after_cleaning_in_sql_the_report_and_its_tables_lose_the_person(tmp_path):
    # Ann's duplicate (ANN@x.fr, id 3) merges into her row; her unparsable event is rejected.
    pd.DataFrame({"contact_id": [1, 2, 3, 4, 5],
                  "email": ["ann@x.fr", "bob@x.fr", "ANN@x.fr ", "", "cy@x.fr"],
                  "postal_code": ["69001", "75001", "6900", "75002", "1000"],
                  "consent": "given",
                  "signup_date": ["2024-01-01", "2024-02-01", "2025-01-01", "2024-03-01",
                                  "2024-04-01"]}).to_csv(tmp_path / "contacts.csv", index=False)
    pd.DataFrame({"contact_id": [1, 2, 3, 9, 1],
                  "timestamp": ["2026-01-01", "2026-01-02", "2026-01-03", "2026-01-04", "bad"],
                  "event_type": ["open", "purchase", "click", "open", "open"]}).to_csv(
        tmp_path / "events.csv", index=False)
    files, now = (tmp_path / "contacts.csv", tmp_path / "events.csv"), pd.Timestamp("2026-06-01")
    pandas_base = se.read_base(*files, now=now)
    duck = se.read_base(*files, engine="duckdb", clean=True, now=now, as_of=pandas_base.as_of)
    assert len(duck.report.merges) == 1 and len(duck.report.rejects["events"]) == 2
    assert _access(duck, "ann@x.fr") == _access(pandas_base, "ann@x.fr")
    expected, got = forget(pandas_base, "ann@x.fr"), forget(duck, "ann@x.fr")
    assert got.removed == expected.removed
    assert expected.removed["merged records"] == expected.removed["rejected events"] == 1
    pd.testing.assert_frame_equal(duck.report.accounting(), pandas_base.report.accounting())
    connection = duck.connection
    assert connection.execute("SELECT count(*) FROM merged_contacts").fetchall() == [(0,)]
    assert connection.execute("SELECT contact_id FROM rejected_events").fetchall() == [(9,)]
    assert duck.contact_ids.tolist() == pandas_base.contacts["contact_id"].tolist() == [2, 4, 5]


def test_an_erased_email_leaves_the_suppression_lists_as_in_pandas():
    # Reported: after forget(), a DuckDB base's suppressions still listed the email.
    pandas_base, duck = _open_both()
    email, _ = _people(_raw_tables())
    listed = [email, "someone.else@example.com"]
    for base in (pandas_base, duck):
        quiet = base.with_suppressions(listed)
        report = forget(quiet, email)
        assert report.removed["suppression lists"] == 1
        assert quiet.suppressions["email"].tolist() == ["someone.else@example.com"]
        # every view of the base, an earlier date's too
        assert email not in set(quiet.at("2026-01-01").suppressions["email"])
