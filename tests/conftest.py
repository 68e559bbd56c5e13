"""Shared fixtures.

Held-out tests (hand-computed memberships, plain pandas/numpy oracles) run on both
engines through the ``engine`` parameter: :func:`open_base` turns a pandas base into the
same data written to Parquet and opened with ``engine="duckdb"``; ``tiny_engine_base``
and ``sample_base`` are the tiny base and the bundled sample on either engine.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from tiny_base import NOW, contacts_frame, events_frame

import segexplore as se

#: The engines a held-out test runs on.
ENGINES = ["pandas", "duckdb"]


@pytest.fixture
def tiny_base() -> se.ContactBase:
    """Seven contacts, 32 events, as of 2026-10-31 00:00."""
    return se.read_base(contacts_frame(), events_frame(), now=NOW)


@pytest.fixture
def tiny_tables() -> tuple[pd.DataFrame, pd.DataFrame]:
    return contacts_frame(), events_frame()


def open_base(data: Any, engine: str, folder: Path, **read_options: Any) -> Any:
    """``data`` (a pandas base, or the frames ``read_base`` takes) on ``engine``: the pandas
    base as it is, or the same tables written to Parquet in ``folder`` and opened with
    ``engine="duckdb"`` at the pandas base's ``as_of``."""
    base = data if isinstance(data, se.ContactBase) else se.read_base(*data, **read_options)
    if engine == "pandas":
        return base
    return duckdb_from_tables(folder, base.as_of, **{
        name: getattr(base, name) for name in ("contacts", "events", "orders")})


def duckdb_from_tables(folder: Path, as_of: Any, contacts: pd.DataFrame,
                       events: pd.DataFrame | None = None,
                       orders: pd.DataFrame | None = None) -> Any:
    """Frames written to Parquet as they are (no cleaning), opened with ``engine="duckdb"``."""
    paths = write_parquet(folder, contacts, events, orders)
    return se.read_base(paths["contacts"], paths.get("events"), paths.get("orders"),
                        engine="duckdb", as_of=as_of)


def write_parquet(folder: Path, contacts: pd.DataFrame, events: pd.DataFrame | None = None,
                  orders: pd.DataFrame | None = None) -> dict[str, Path]:
    """The tables given written to ``folder/<table>.parquet`` (rows in order, no index):
    their paths by table name."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, table in (("contacts", contacts), ("events", events), ("orders", orders)):
        if table is not None:
            paths[name] = folder / f"{name}.parquet"
            table.to_parquet(paths[name], index=False)
    return paths


def contact_ids(base: Any) -> pd.Index:
    """The contact ids in the contacts' order, on either engine (what a mask refers to)."""
    if getattr(base, "engine", "pandas") == "duckdb":
        return base.contact_ids
    return pd.Index(base.contacts["contact_id"], name="contact_id")


def member_ids(base: Any, mask: Any) -> set:
    """The ids of the contacts a mask selects."""
    return set(contact_ids(base)[pd.Series(mask).to_numpy(dtype=bool)].tolist())


def fresh_view(base: Any) -> Any:
    """A base to mutate in one test: a new pandas base is cheap; a DuckDB base opened once
    gives a new view (its own rule cache) with no saved segment."""
    if getattr(base, "engine", "pandas") != "duckdb":
        return base
    base.segments.clear()
    return base.at(base.as_of)


@pytest.fixture(scope="module", params=ENGINES)
def engine(request) -> str:
    """The engine a held-out test runs on (module-scoped: a module's bases open once)."""
    return request.param


@pytest.fixture(scope="module")
def tiny_engine_bases(engine, tmp_path_factory) -> Any:
    """The tiny base on ``engine``, opened once per module (see ``tiny_engine_base``)."""
    base = se.read_base(contacts_frame(), events_frame(), now=NOW)
    return open_base(base, engine, tmp_path_factory.mktemp("tiny"))


@pytest.fixture
def tiny_engine_base(engine, tiny_engine_bases) -> Any:
    """``tiny_base`` on ``engine``: a new pandas base per test, or a fresh view of the
    DuckDB base with no saved segment."""
    if engine == "pandas":
        return se.read_base(contacts_frame(), events_frame(), now=NOW)
    return fresh_view(tiny_engine_bases)


@pytest.fixture(scope="session")
def _duckdb_sample() -> Any:
    folder = se.sample_path()
    return se.read_base(folder / "contacts.parquet", folder / "events.parquet",
                        folder / "orders.parquet", engine="duckdb", threads=2,
                        memory_limit="2GB")


@pytest.fixture(scope="session")
def _pandas_sample() -> se.ContactBase:
    return se.load_sample(clean=False)


@pytest.fixture(scope="session", params=ENGINES)
def sample_base(request) -> Any:
    """The bundled sample as read from its files (``clean=False``) on either engine: the
    same contacts in the same order (checked), as of the same date."""
    base = request.getfixturevalue(f"_{request.param}_sample")
    if request.param == "duckdb":
        pandas_base = request.getfixturevalue("_pandas_sample")
        assert base.as_of == pandas_base.as_of
        assert contact_ids(base).equals(contact_ids(pandas_base))
    return base
