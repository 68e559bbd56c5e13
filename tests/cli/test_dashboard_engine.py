"""``segexplore dashboard --engine``: the argument, what it passes to the notebook, and
the base the dashboard then opens (the bundled sample or folders of Parquet parts)."""

from __future__ import annotations

import argparse

import pandas as pd
import pytest

import segexplore as se
from segexplore.cli import dashboard as dashboard_cli
from segexplore.cli import main
from segexplore.dashboards import ENGINE, base_from_environment, find_tables
from segexplore.engines.duckdb import DuckDBBase
from segexplore.errors import DashboardError, FileFormatError


@pytest.mark.parametrize("command", ["dashboard", "report"])
def test_a_bad_engine_name_is_a_usage_error_naming_the_engines(command, capsys):
    with pytest.raises(SystemExit) as stopped:
        main([command, "--engine", "duckbd", "--no-browser"])
    assert stopped.value.code == 2
    error = capsys.readouterr().err
    assert "argument --engine: unknown engine 'duckbd': expected pandas or duckdb; " \
           "did you mean 'duckdb'?" in error


def test_an_engine_nothing_like_one_is_refused_without_a_guess(capsys):
    with pytest.raises(SystemExit):
        main(["dashboard", "--engine", "spark", "--no-browser"])
    error = capsys.readouterr().err
    assert "unknown engine 'spark': expected pandas or duckdb" in error
    assert "did you mean" not in error


def test_the_engine_reaches_the_notebook_and_only_from_the_command_line(monkeypatch):
    parser = argparse.ArgumentParser()
    dashboard_cli._add_server_arguments(parser)
    monkeypatch.setenv(ENGINE, "duckdb")  # inherited: the command line decides
    assert dashboard_cli.dashboard_environment(parser.parse_args([]))[ENGINE] == "pandas"
    args = parser.parse_args(["--engine", "DuckDB"])
    assert args.engine == "duckdb"
    assert dashboard_cli.dashboard_environment(args)[ENGINE] == "duckdb"


def test_the_dashboard_opens_the_bundled_sample_in_duckdb():
    base = base_from_environment({ENGINE: "duckdb"})
    assert isinstance(base, DuckDBBase)
    rule = 'city = "Lyon" and device = "Android"'
    assert base.count(rule) == se.load_sample(clean=False).count(rule)


def test_the_dashboard_opens_folders_of_parts_in_duckdb(tmp_path):
    assert main(["sample", "--contacts", "400", "--out", str(tmp_path), "--seed", "2",
                 "--chunk-contacts", "150"]) == 0
    base = base_from_environment({ENGINE: "duckdb", "SEGEXPLORE_DATA": str(tmp_path)})
    contacts = pd.read_parquet(tmp_path / "contacts")
    assert base.contact_count == len(contacts) == 400
    assert base.count('device = "iOS"') == int((contacts["device"] == "iOS").sum())
    # the pandas engine reads one file a table: the error says which engine reads folders
    with pytest.raises(FileFormatError, match="--engine duckdb"):
        base_from_environment({"SEGEXPLORE_DATA": str(tmp_path)})
    assert sorted(find_tables(tmp_path, folders=True)) == ["contacts", "events", "orders"]


def test_an_unknown_engine_in_the_environment_is_a_dashboard_error():
    with pytest.raises(DashboardError, match="did you mean 'duckdb'"):
        base_from_environment({ENGINE: "duckdbb"})
