"""The bundled sample on both engines, for the explorer's DuckDB tests (imported by them:
a ``conftest.py`` here would shadow ``tests/conftest.py``, which tests import by name).

``pandas_base`` is the pandas engine on the sample's files read as they are
(``load_sample(clean=False)``: the DuckDB engine reads the files as they are too);
``duck`` is the DuckDB engine on the same files. One of each per test module.
"""

from __future__ import annotations

import pytest

import segexplore as se


@pytest.fixture(scope="module")
def pandas_base():
    return se.load_sample(clean=False)


@pytest.fixture(scope="module")
def duck():
    folder = se.sample_path()
    return se.read_base(folder / "contacts.parquet", folder / "events.parquet",
                        folder / "orders.parquet", engine="duckdb")
