"""The explorer on a connected base (``se.connect``) on PostgreSQL 15, Spark and a DuckDB
connection: the same fields, values, sizes, charts, hints, profile, comparison and export
as on the pandas base of the same tables.

The checks are those of test_explorer_duckdb.py (imported, so that each runs here on every
engine), against the pandas engine on the bundled sample's files read as they are
(``load_sample(clean=False)``), whose tables are loaded into the engine as they are.
"""

from __future__ import annotations

import pandas as pd
import pytest
import servers
from duckdb_sample import pandas_base  # noqa: F401 (a fixture)
from frame_parity import same_frame
from servers import connected_base
from test_explorer_duckdb import (  # noqa: F401 (the checks, run on each engine)
    app,
    test_a_mistake_is_a_message_in_the_page,
    test_a_parent_and_saved_segments_count_as_on_pandas,
    test_compare_and_export_are_the_pandas_ones,
    test_did_you_mean_hints_are_the_pandas_ones,
    test_the_builder_counts_and_charts_as_on_pandas,
    test_the_charts_drawn_follow_the_rule,
    test_the_field_list_is_the_pandas_one,
    test_value_lists_bounds_and_event_values_are_the_pandas_ones,
)

import segexplore as se
from segexplore.display.numbers import format_count

postgres_server, postgres, spark = servers.postgres_server, servers.postgres, servers.spark


def _plain(frame: pd.DataFrame) -> pd.DataFrame:
    """Categories as text: an engine's tables hold no pandas categories."""
    out = frame.copy()
    for name in out.columns:
        if isinstance(out[name].dtype, pd.CategoricalDtype):
            out[name] = out[name].astype(object).where(out[name].notna(), None).astype("str")
    return out


@pytest.fixture(scope="module", params=["duckdb", "postgres", "spark"])
def duck(request, pandas_base):
    """The sample's tables in the engine, opened with ``se.connect`` (named ``duck`` for
    the imported checks)."""
    tables = {"contacts": _plain(pandas_base.contacts), "events": pandas_base.events,
              "orders": pandas_base.orders}
    base = connected_base(request, request.param, tables, prefix="ex_",
                          as_of=pandas_base.as_of)
    yield base
    base.close()


def test_the_profile_waits_for_a_click_then_profiles_in_the_engine(app, duck, pandas_base):
    """As on DuckDB, but the features that add up amounts may differ in the last bit (the
    engine adds in its own order): their rows as test_server_stats compares them, every
    other row and the attributes' order exactly."""
    panel = app.profile_panel
    assert not panel.ran and "click ↻ Refresh" in panel.heading.value
    panel.run()
    assert (f"{format_count(duck.contact_count, app.locale)}</b> contacts profiled"
            in panel.heading.value)
    plain = se.read_base(_plain(pandas_base.contacts), pandas_base.events, pandas_base.orders,
                         clean=False, now=pandas_base.as_of)  # the engine's tables
    expected = se.widgets.ProfilePanel(plain).profile.summary
    got = panel.profile.summary
    assert list(got["attribute"]) == list(expected["attribute"])
    assert same_frame(expected, got, "summary") > 50
