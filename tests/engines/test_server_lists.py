"""Static segments and lists on a connected base (``se.connect``) in PostgreSQL 15, Spark
and a DuckDB connection (tests/servers.py starts the servers) are the pandas engine's: the
same matched ids and unmatched rows for a messy list, the same members for a frozen
segment, and the same counts of rules using them."""

from __future__ import annotations

import pytest
import servers
from servers import connected_base
from test_server_stats import pandas_base  # noqa: F401 (a fixture)

from segexplore.delivery.lists import read_list, read_static

postgres_server, postgres, spark = servers.postgres_server, servers.postgres, servers.spark

ENGINES = ["postgres", "spark", "duckdb"]
BUYERS = "count(purchase, last 90 days) >= 1"
RULES = ['in_list("Salon")', 'in_list("Buyers") and device = "Android"',
         'not in_list("Salon") and segment("Buyers")', 'in_list("IDs") or city = "Lyon"']


@pytest.mark.parametrize("engine", ENGINES)
def test_lists_and_frozen_segments_are_the_pandas_ones(request, engine, pandas_base,
                                                       tmp_path):
    tables = {t: getattr(pandas_base, t) for t in ("contacts", "events", "orders")}
    emails = pandas_base.contacts["email"].iloc[[3, 8, 21, 40]].tolist()
    ids = pandas_base.contacts["contact_id"].iloc[[5, 6]].tolist()
    messy = [f" {emails[0].upper()}", emails[1], "nobody@example.com", "no-at-sign",
             emails[1].title(), emails[2]]
    with connected_base(request, engine, tables, prefix="li_",
                        as_of=pandas_base.as_of) as connected:
        made = {}
        for name, base in (("pandas", pandas_base), ("engine", connected)):
            salon = read_list(messy, base, name="Salon")
            listed = read_list([f"00{ids[0]}", str(ids[1]), "99999999"], base, name="IDs")
            frozen = base.segment(BUYERS).freeze("Buyers", folder=tmp_path / name)
            made[name] = (salon, listed, frozen)
        for want, got in zip(made["pandas"], made["engine"], strict=True):
            assert sorted(got.ids) == sorted(want.ids) and len(want.ids) > 0
            assert got.unmatched.equals(want.unmatched)
            assert got.size == want.size
        assert made["engine"][0].unmatched["reason"].tolist() == [
            "no contact with this email", "invalid email (no @)", "repeats row 2"]
        for rule in RULES:
            assert connected.count(rule) == pandas_base.segment(rule).size, rule
        # frozen: the same members on a later date, read back from its file on the engine
        later = connected.at("2026-12-31")
        assert later.count('in_list("Buyers")') == made["pandas"][2].frozen.size
        again = read_static(made["engine"][2].path, connected)
        assert sorted(again.ids) == sorted(made["pandas"][2].ids) and len(again.unmatched) == 0
        more = made["engine"][0].with_contacts([emails[3]])
        assert connected.count('in_list("Salon")') == made["pandas"][0].size + 1 == more.size
        assert "static" in repr(more) and more.frozen.history[-1]["action"] == "added"
