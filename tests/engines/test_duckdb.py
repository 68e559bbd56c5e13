"""The DuckDB engine gives the pandas engine's answers: memberships, counts, members and
features, on the tiny base and the sample, from Parquet and CSV files, folders and globs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import write_parquet
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rule_strategies import AGGREGATES, DATE_CONDITIONS, HAS, RULES, _text_condition

import segexplore as se
from segexplore.engines.duckdb import DuckDBBase
from segexplore.errors import (
    BaseFrozenError,
    FileFormatError,
    ParameterError,
    RuleEvaluationError,
    ValidationError,
)
from segexplore.features.registry import FEATURES


def _write(base: se.ContactBase, folder) -> dict:
    return write_parquet(folder, base.contacts, base.events, base.orders)


@pytest.fixture(scope="module")
def tiny_pair(tmp_path_factory):
    from tiny_base import NOW, contacts_frame, events_frame

    pandas_base = se.read_base(contacts_frame(), events_frame(), now=NOW)
    paths = _write(pandas_base, tmp_path_factory.mktemp("tiny"))
    duck = se.read_base(paths["contacts"], paths["events"], engine="duckdb",
                        as_of=pandas_base.as_of)
    for base in (pandas_base, duck):
        base.segment('loyalty_tier in ("gold", "silver")', name="Clients groupe A")
    return pandas_base, duck


@pytest.fixture(scope="module")
def sample_pair():
    folder = se.sample_path()
    duck = se.read_base(folder / "contacts.parquet", folder / "events.parquet",
                        folder / "orders.parquet", engine="duckdb", threads=2,
                        memory_limit="2GB")
    return se.load_sample(clean=False), duck


def _same_members(pandas_base, duck, rule) -> None:
    expected = pandas_base.evaluator().mask(rule).to_numpy()
    got = duck.evaluator().mask(rule).to_numpy()
    assert got.shape == expected.shape
    assert (got == expected).all(), (str(rule), int(expected.sum()), int(got.sum()))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rule=RULES)
def test_every_generated_rule_has_the_same_members_on_the_tiny_base(tiny_pair, rule):
    _same_members(*tiny_pair, rule)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rule=st.one_of(AGGREGATES, _text_condition(), HAS, DATE_CONDITIONS))
def test_generated_rules_have_the_same_members_on_the_sample(sample_pair, rule):
    _same_members(*sample_pair, rule)


FEATURE_RULES = [
    'rfm_group = "champions"', "rfm_recency >= 4 and rfm_frequency <= 2",
    'rfm_score = "555"', "engagement_score >= 50", "engagement_score in top 10%",
    'lifecycle_stage in ("at_risk", "lapsed")', "cart_abandoner = true",
    "inactive = false and days_since_last_purchase < 30", 'preferred_brand = "Nike"',
    "purchases_90d >= 2 or revenue_365d > 300", "avg_basket between 40 and 80",
    "days_to_birthday <= 7", "age >= 40", "last_purchase_date within last 60 days",
    "opens_30d >= 3 and clicks_90d = 0", 'region = "Île-de-France" and device = "Android"',
]


@pytest.mark.parametrize("rule", FEATURE_RULES)
def test_feature_rules_have_the_same_members_on_the_sample(sample_pair, rule):
    pandas_base, duck = sample_pair
    _same_members(pandas_base, duck, se.parse(rule))
    assert duck.count(rule) == pandas_base.count(rule)


def test_the_features_are_the_pandas_features(sample_pair):
    pandas_base, duck = sample_pair
    expected, got = pandas_base.features, duck.features
    assert list(got.columns) == list(FEATURES)
    for name in ("purchases_365d", "rfm_group", "lifecycle_stage", "engagement_score",
                 "last_purchase_date", "age", "carts_abandoned_30d", "inactive"):
        same = (got[name].astype(object) == expected[name].astype(object)).to_numpy() | (
            got[name].isna() & expected[name].isna()).to_numpy()
        assert same.all(), name


def test_segments_views_and_members(sample_pair):
    pandas_base, duck = sample_pair
    rule = 'city = "Lyon" and count(purchase, last 365 days) >= 1'
    mine, theirs = duck.segment(rule, name="Lyon buyers"), pandas_base.segment(rule)
    assert mine.size == theirs.size > 0
    assert mine.share == pytest.approx(theirs.share)
    june, june_pandas = duck.at("2026-06-30"), pandas_base.at("2026-06-30")
    assert mine.on(june).size == theirs.on(june_pandas).size != mine.size
    members = mine.members(["email", "purchases_365d"])
    expected = theirs.members(["email", "purchases_365d"])
    assert members["contact_id"].tolist() == expected["contact_id"].tolist()
    assert members["email"].tolist() == expected["email"].astype(object).tolist()
    assert members["purchases_365d"].tolist() == expected["purchases_365d"].tolist()
    assert duck.count('segment("Lyon buyers") and device = "Android"') == \
        pandas_base.count(f'({rule}) and device = "Android"')


def test_the_same_errors_as_the_pandas_engine(sample_pair):
    pandas_base, duck = sample_pair
    for text in ('citty = "Lyon"', "count(purchse, last 30 days) >= 1",
                 'count(purchase where colour = "red") >= 1', 'segment("nope")'):
        with pytest.raises(RuleEvaluationError) as expected:
            pandas_base.count(text)
        with pytest.raises(RuleEvaluationError) as got:
            duck.count(text)
        assert str(got.value) == str(expected.value)


def test_a_duckdb_base_does_not_change(sample_pair):
    _, duck = sample_pair
    with pytest.raises(BaseFrozenError, match=r"base\.at\("):
        duck.as_of = "2026-06-30"
    assert isinstance(duck.at("2026-06-30"), DuckDBBase)


def test_folders_globs_hive_partitions_and_csv(tmp_path, tiny_pair):
    pandas_base, _ = tiny_pair
    events = pandas_base.events.assign(year=pandas_base.events["timestamp"].dt.year)
    for year, part in events.groupby("year"):
        folder = tmp_path / "events" / f"year={year}"
        folder.mkdir(parents=True)
        part.drop(columns="year").to_parquet(folder / "part-0.parquet", index=False)
    contacts_csv = tmp_path / "contacts.csv"
    pandas_base.contacts.to_csv(contacts_csv, index=False)
    by_folder = se.read_base(contacts_csv, tmp_path / "events", engine="duckdb",
                             as_of=pandas_base.as_of)
    by_glob = se.read_base(contacts_csv, str(tmp_path / "events" / "*" / "*.parquet"),
                           engine="duckdb", as_of=pandas_base.as_of)
    for rule in ("count(purchase, last 30 days) >= 1", "count(open) >= 2",
                 'city = "Lyon" or score > 30'):
        assert by_folder.count(rule) == by_glob.count(rule) == pandas_base.count(rule), rule


def test_bad_input_is_named(tmp_path, tiny_pair):
    pandas_base, _ = tiny_pair
    with pytest.raises(FileFormatError, match="no Parquet or CSV file"):
        se.read_base(tmp_path / "nothing_here", engine="duckdb")
    twice = pd.concat([pandas_base.contacts, pandas_base.contacts.iloc[[0]]])
    twice.to_parquet(tmp_path / "twice.parquet", index=False)
    with pytest.raises(ValidationError, match="contact_id is not unique \\(1 repeated\\)"):
        se.read_base(tmp_path / "twice.parquet", engine="duckdb")
    pandas_base.contacts.to_parquet(tmp_path / "c.parquet", index=False)
    with pytest.raises(ParameterError, match="memory_limit"):
        se.read_base(tmp_path / "c.parquet", engine="duckdb", memory_limit="lots")
    with pytest.raises(ParameterError, match="engine"):
        se.read_base(tmp_path / "c.parquet", engine="spark")
    no_events = se.read_base(tmp_path / "c.parquet", engine="duckdb", as_of="2026-10-31")
    assert no_events.count("count(open) >= 1") == 0
    # Reported: contacts without contact_id and no events file raised an IndexError (the
    # empty events view asked the type of the missing id column) before this message.
    no_ids = tmp_path / "no_ids.csv"
    no_ids.write_text("email,first_name\na@x.fr,Anne\nb@x.fr,Bob\n", encoding="utf-8")
    with pytest.raises(ValidationError, match=r"contacts \(.*no_ids\.csv\): no column "
                                              r"'contact_id'.*clean=True"):
        se.read_base(no_ids, engine="duckdb")
    assert se.read_base(no_ids, engine="duckdb", clean=True).contact_ids.tolist() == [1, 2]
    assert no_events.count("score > 30") == int((pandas_base.contacts["score"] > 30).sum())


def test_a_database_file_holds_the_tables(tmp_path, tiny_pair):
    pandas_base, _ = tiny_pair
    paths = _write(pandas_base, tmp_path / "in")
    duck = se.read_base(paths["contacts"], paths["events"], engine="duckdb",
                        database=tmp_path / "base.duckdb", as_of=pandas_base.as_of)
    assert duck.count("rfm_group = \"lost\"") == pandas_base.count("rfm_group = \"lost\"")
    assert (tmp_path / "base.duckdb").stat().st_size > 0
    names = {row[0] for row in duck.connection.execute(
        "SELECT table_name FROM information_schema.tables").fetchall()}
    assert {"contacts", "events", "orders"} <= names
    positions = duck.connection.execute("SELECT position FROM contacts ORDER BY position")
    assert np.asarray([r[0] for r in positions.fetchall()]).tolist() == list(
        range(len(pandas_base.contacts)))


def test_the_features_kept_in_a_database_file_are_dropped_at_exit(tmp_path, tiny_pair):
    """The features are a table of the database (compressed: it stays in memory where a
    temporary one spills), personal data like the contacts: a process that leaves drops
    them, and opening a file another process left them in (a crash) drops them too."""
    import subprocess
    import sys

    import duckdb

    pandas_base, _ = tiny_pair
    paths = _write(pandas_base, tmp_path / "in")
    database = tmp_path / "base.duckdb"
    script = ("import segexplore as se\n"
              f"b = se.read_base({str(paths['contacts'])!r}, {str(paths['events'])!r}, "
              f"engine='duckdb', database={str(database)!r})\n"
              "print(b.count('rfm_group = \"lost\"'))\n"
              "print(b.connection.execute(\"SELECT count(*) FROM duckdb_tables() WHERE NOT "
              "temporary AND starts_with(table_name, '_segexplore_features_')\")"
              ".fetchall()[0][0])\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True).stdout.split()
    assert int(out[0]) == pandas_base.count('rfm_group = "lost"') and out[1] == "1"

    def kept() -> list[str]:
        with duckdb.connect(str(database)) as connection:
            return [name for (name,) in connection.execute(
                "SELECT table_name FROM duckdb_tables()").fetchall()
                if name.startswith("_segexplore_features_")]

    assert kept() == []
    with duckdb.connect(str(database)) as connection:  # as a crashed session leaves it
        connection.execute("CREATE TABLE _segexplore_features_7 AS SELECT 1 AS position")
    assert kept() == ["_segexplore_features_7"]
    duck = se.read_base(paths["contacts"], paths["events"], engine="duckdb",
                        database=database, as_of=pandas_base.as_of)
    assert duck.connection.execute("SELECT count(*) FROM duckdb_tables() WHERE "
                                   "table_name = '_segexplore_features_7'").fetchall() == [(0,)]
    # a second base of this process on the same file (a notebook cell run again, another
    # date) keeps its own features: the first one's stay, and are its own
    rule = "purchases_total >= 1"  # 6 contacts now, 2 two hundred days earlier
    assert duck.count(rule) == pandas_base.count(rule)
    earlier = pandas_base.as_of - pd.Timedelta(days=200)
    again = se.read_base(paths["contacts"], paths["events"], engine="duckdb",
                         database=database, as_of=earlier)
    assert again.count(rule) == pandas_base.at(earlier).count(rule) != pandas_base.count(rule)
    assert duck.count(rule + ' and city != "Nowhere"') == pandas_base.count(rule)
    assert again._feature_table() != duck._feature_table()
    duck.connection.close()


def test_the_temporary_database_is_private_and_removed_at_exit(tmp_path, tiny_pair):
    import os
    import subprocess
    import sys

    paths = _write(tiny_pair[0], tmp_path)
    script = ("import os, segexplore as se\n"
              f"b = se.read_base({str(paths['contacts'])!r}, engine='duckdb')\n"
              "folder = os.path.dirname(b.connection.execute('PRAGMA database_list')"
              ".fetchall()[0][2])\n"
              "print(folder, oct(os.stat(folder).st_mode & 0o777))\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out[1] == "0o700"
    assert not os.path.exists(out[0])


@pytest.mark.parametrize("rule", ['city = "Lyon" and count(purchase, last 365 days) >= 1',
                                  'rfm_group in ("champions", "loyal")',
                                  'consent != "given" or device = "iOS"'])
def test_an_export_is_byte_for_byte_the_pandas_export(sample_pair, tmp_path, rule):
    from segexplore.delivery.manifest import verify_export

    pandas_base, duck = sample_pair
    members = pandas_base.segment(rule).members(["email"])
    suppressed = list(members["email"].dropna().astype(str).head(2))
    options = {"columns": ["email", "first_name", "city", "purchases_365d", "rfm_group"],
               "suppressions": suppressed, "preset": "brevo"}
    expected = pandas_base.segment(rule, name="S").to_csv(tmp_path / "pandas.csv", **options)
    got = duck.segment(rule, name="S").to_csv(tmp_path / "duckdb.csv", **options)
    assert (tmp_path / "duckdb.csv").read_bytes() == (tmp_path / "pandas.csv").read_bytes()
    assert got.waterfall.equals(expected.waterfall)
    assert got.rows == expected.rows
    assert verify_export(tmp_path / "duckdb.csv")["sha256"] == got.manifest["sha256"]
    assert got.manifest["data"]["contacts"]["rows"] == len(pandas_base.contacts)


def test_scores_added_to_a_duckdb_base_are_rule_fields(sample_pair):
    from segexplore.ml.score import add_scores

    pandas_base, duck = sample_pair
    rng = np.random.default_rng(3)
    by_id = pd.Series(rng.random(len(pandas_base.contacts)),
                      index=pandas_base.contacts["contact_id"].to_numpy(), name="value_score")
    scored_duck, scored_pandas = add_scores(duck, by_id), add_scores(pandas_base, by_id)
    for rule in ("value_score in top 10%", 'value_score < 0.3 and city = "Lyon"',
                 "value_score >= 0.5 and count(purchase, last 365 days) >= 1"):
        _same_members(scored_pandas, scored_duck, se.parse(rule))
    assert scored_duck.segment("value_score >= 0.9").members(["value_score"])[
        "value_score"].min() >= 0.9
    with pytest.raises(ParameterError, match="already a contact column"):
        scored_duck.with_contact_columns({"city": np.zeros(scored_duck.contact_count)})
    assert duck.count("rfm_group = \"loyal\"") == scored_duck.count("rfm_group = \"loyal\"")


def test_features_built_bucket_by_bucket_are_the_pandas_features(monkeypatch):
    # A base larger than BUCKET_CONTACTS builds its aggregates a bucket of contacts at a
    # time; RFM ranks and the engagement cap still need the whole base.
    import segexplore.engines.duckdb as engine

    monkeypatch.setattr(engine, "BUCKET_CONTACTS", 6_000)  # the sample: 4 buckets
    folder = se.sample_path()
    duck = se.read_base(folder / "contacts.parquet", folder / "events.parquet",
                        folder / "orders.parquet", engine="duckdb")
    expected, got = se.load_sample(clean=False).features, duck.features
    for name in FEATURES:
        if name in ("revenue_30d", "revenue_90d", "revenue_365d", "revenue_total",
                    "avg_basket", "items_365d", "engagement_score"):
            np.testing.assert_allclose(got[name].to_numpy(float), expected[name].to_numpy(float),
                                       rtol=1e-12, equal_nan=True, err_msg=name)
            continue
        same = (got[name].astype(object) == expected[name].astype(object)).to_numpy() | (
            got[name].isna() & expected[name].isna()).to_numpy()
        assert same.all(), name


def test_read_base_cleans_in_sql_when_asked(tmp_path):
    # read_base(engine="duckdb", clean=True): the pandas cleaning's rows and report, from
    # tables cleaned inside DuckDB; without clean=True the files are read as they are.
    folder, now = se.sample_path(), "2026-11-01"
    paths = [folder / f"{t}.parquet" for t in ("contacts", "events", "orders")]
    messy = pd.read_parquet(paths[0])
    messy.loc[0, "email"] = "  " + messy.loc[0, "email"].upper() + " "  # normalised
    messy.loc[1, "email"] = "no-at-sign"  # flagged invalid
    messy = pd.concat([messy, messy.iloc[[2]]], ignore_index=True)  # merged
    messy.to_parquet(tmp_path / "contacts.parquet")
    paths[0] = tmp_path / "contacts.parquet"
    pandas_base = se.read_base(*paths, now=now)
    duck = se.read_base(*paths, engine="duckdb", clean=True, now=now)
    with pytest.raises(ValidationError, match="clean=True merges duplicates"):
        se.read_base(*paths, engine="duckdb")  # read as it is: the repeated id is refused
    assert se.read_base(folder / "contacts.parquet", engine="duckdb").report is None
    assert duck.contact_count == len(pandas_base.contacts) == len(messy) - 1
    assert duck.contact_ids.equals(pd.Index(pandas_base.contacts["contact_id"],
                                            name="contact_id"))
    pd.testing.assert_frame_equal(duck.report.accounting(), pandas_base.report.accounting())
    assert len(duck.report.merges) == len(pandas_base.report.merges) == 1
    assert duck.count("email_valid = false") >= 1
    for rule in ("email_valid = false", 'email = "' + pandas_base.contacts["email"].iloc[0] + '"',
                 'city = "Lyon" and count(purchase, last 90 days) >= 1',
                 'rfm_group = "champions"'):
        _same_members(pandas_base, duck, se.parse(rule))


def test_a_redefined_saved_segment_is_counted_anew(tiny_pair):
    # Reported: the DuckDB evaluator kept results by the rule's text, so segment("A")
    # still counted A's old members after A was saved again with another rule.
    pandas_base, duck = tiny_pair
    duck, pandas_base = duck.at(duck.as_of), pandas_base.at(pandas_base.as_of)
    for rule in ('city = "Lyon"', 'city = "Paris" or city = "Gent"'):
        duck.segment(rule, name="A")
        pandas_base.segment(rule, name="A")
        assert duck.count('segment("A")') == pandas_base.count('segment("A")') == \
            pandas_base.count(rule)


def test_the_features_have_the_pandas_dtypes(sample_pair):
    pandas_base, duck = sample_pair
    expected, got = pandas_base.features, duck.features
    assert list(got.columns) == list(expected.columns)
    for name in expected.columns:
        if isinstance(expected[name].dtype, pd.CategoricalDtype):
            # pandas lists every value seen as a category; DuckDB only those it returns
            assert isinstance(got[name].dtype, pd.CategoricalDtype), name
        else:
            assert got[name].dtype == expected[name].dtype, name


def test_a_saved_segment_used_by_others_is_materialised_once(tiny_pair):
    pandas_base, duck = tiny_pair
    duck, pandas_base = duck.at(duck.as_of), pandas_base.at(pandas_base.as_of)
    for base in (duck, pandas_base):
        base.segment('city = "Lyon" or count(purchase, last 365 days) >= 1', name="A")
        base.segment('segment("A") and city != "Paris"', name="B")
    rules = ['segment("A") and not segment("B")', 'segment("B") or city = "Gent"',
             'not segment("A")']
    made_before = len(duck._store.saved_tables)  # the store is the module's tiny base's
    for rule in rules:
        _same_members(pandas_base, duck, se.parse(rule))
    query = duck.evaluator().sql(se.parse(rules[1]))
    assert "Lyon" not in query and "saved_segment_" in query  # joined, not pasted
    assert len(duck._store.saved_tables) - made_before == 2  # A and B once, for 3 rules
    duck.segment('city = "Gent"', name="A")  # saved anew: B means something else now
    pandas_base.segment('city = "Gent"', name="A")
    for rule in rules:
        _same_members(pandas_base, duck, se.parse(rule))
    assert duck.count('segment("B")') == pandas_base.count('segment("B")')


def test_suppression_lists_registered_on_the_base_are_exported_alike(sample_pair, tmp_path):
    pandas_base, duck = sample_pair
    rule = 'city = "Lyon"'
    listed = list(pandas_base.segment(rule).members(["email"])["email"].head(3))
    quiet_pandas, quiet_duck = (b.with_suppressions(listed).at(b.as_of) for b in
                                (pandas_base, duck))
    assert len(duck.suppressions) == 0 and quiet_duck.suppressions.equals(
        quiet_pandas.suppressions)
    expected = quiet_pandas.segment(rule, name="S").to_csv(tmp_path / "pandas.csv")
    got = quiet_duck.segment(rule, name="S").to_csv(tmp_path / "duckdb.csv")
    assert (tmp_path / "duckdb.csv").read_bytes() == (tmp_path / "pandas.csv").read_bytes()
    assert got.waterfall.equals(expected.waterfall)
    plain = duck.segment(rule, name="S").to_csv(tmp_path / "plain.csv")
    in_plain = (tmp_path / "plain.csv").read_text(encoding="utf-8-sig")
    assert got.rows == plain.rows - sum(email in in_plain for email in listed) < plain.rows


def test_an_unknown_parent_segment_is_named_as_on_a_pandas_base(sample_pair):
    pandas_base, duck = sample_pair
    for base in (pandas_base, duck):  # DuckDB raised a bare KeyError
        with pytest.raises(RuleEvaluationError, match="unknown parent segment 'Lyonn'"):
            base.segment('device = "iOS"', parent="Lyonn")


def test_a_killed_process_temporary_database_is_removed_by_the_next_one(tmp_path, tiny_pair):
    # Reported: a process killed (SIGKILL, or SIGTERM as a dashboard kernel is culled)
    # left its temporary database, features included, in the temporary folder for good.
    import os
    import signal
    import subprocess
    import sys

    paths = _write(tiny_pair[0], tmp_path / "data")
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = {**os.environ, "TMPDIR": str(scratch)}
    opener = ("import os, sys, segexplore as se\n"
              f"b = se.read_base({str(paths['contacts'])!r}, engine='duckdb')\n"
              "b.count('contact_id >= 0')\n"
              "print(os.path.dirname(b.connection.execute('PRAGMA database_list')"
              ".fetchall()[0][2]), flush=True)\n"
              "sys.stdin.read()\n")  # alive until told, or killed

    def start():
        process = subprocess.Popen([sys.executable, "-c", opener], env=env, text=True,
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        return process, process.stdout.readline().strip()

    killed, killed_folder = start()
    termed, termed_folder = start()
    alive, alive_folder = start()
    killed.send_signal(signal.SIGKILL)
    termed.send_signal(signal.SIGTERM)
    killed.wait(30), termed.wait(30)
    assert os.path.isdir(killed_folder) and os.path.isdir(termed_folder)  # left behind
    subprocess.run([sys.executable, "-c", opener.replace("sys.stdin.read()\n", "")],
                   env=env, check=True, capture_output=True, text=True)
    assert not os.path.exists(killed_folder) and not os.path.exists(termed_folder)
    assert os.path.isdir(alive_folder)  # a live process's database is its own
    alive.communicate("")
    assert not os.path.exists(alive_folder)
    assert [p.name for p in scratch.iterdir()] == []
