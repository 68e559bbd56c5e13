"""Splits and variant plans of a DuckDB base's segments are the pandas engine's: the same
groups (a seeded permutation of the sendable contacts sorted by id, largest-remainder sizes,
per stratum), the same files byte for byte, the same waterfalls and manifests (but the data
fingerprint and the time of writing); the split's files streamed as every export's, the
members' tables dropped afterwards."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import test_duckdb_export as shared

import segexplore as se
from segexplore.delivery.split import export_split, split
from segexplore.engines.duckdb import DuckDBBase
from segexplore.errors import SchemaError
from segexplore.model.base import ContactBase

ENGINE_FIELDS = shared.ENGINE_FIELDS
_left = shared._member_tables
# The fixtures: both engines, the chunk sizes written, ROWS_PER_CHUNK = 7 (autouse).
bases, cell_sizes, small_chunks = shared.bases, shared.cell_sizes, shared.small_chunks


def _same_files(expected: dict, got: dict) -> None:
    assert list(got) == list(expected)
    for key, result in expected.items():
        other = got[key]
        assert other.path.name == result.path.name
        assert other.path.read_bytes() == result.path.read_bytes(), key
        assert other.rows == result.rows and other.waterfall.equals(result.waterfall)
        differs = {k for k in result.manifest if result.manifest[k] != other.manifest.get(k)}
        assert differs <= ENGINE_FIELDS, (key, differs)


@pytest.mark.parametrize("stratify", [None, "city", "consent", "rfm_group",
                                      "days_since_last_purchase", "signup_date"])
def test_split_gives_the_pandas_groups(bases, stratify):
    frames = [split(b.segment('country = "FR"'), seed=11, stratify=stratify,
                    variants={"A": 0.3, "B": 0.3, "C": 0.3}) for b in bases]
    assert frames[1].equals(frames[0])
    assert frames[1].attrs == frames[0].attrs
    assert _left(bases[1]) == []


def test_split_with_suppressions_and_an_unknown_stratum(bases):
    listed = bases[0].segment('city = "Lyon"').members(["email"])["email"].head(40).tolist()
    frames = [split(b.segment('country = "BE"'), seed=2, suppressions=listed) for b in bases]
    assert frames[1].equals(frames[0]) and len(frames[1]) > 0
    for base in bases:
        with pytest.raises(SchemaError, match="unknown column 'citty'; did you mean 'city'"):
            split(base.segment('country = "BE"'), seed=2, stratify="citty")


@pytest.mark.parametrize("options", [{}, {"stratify": "city", "preset": "brevo"},
                                     {"holdout": 0.0, "variants": {"A": 0.5, "B": 0.5}, "excel": True,
                                      "columns": ["email", "city", "revenue_90d"]}])
def test_export_split_writes_the_pandas_files_streamed(bases, tmp_path, options,
                                                       monkeypatch):
    expected = export_split(bases[0].segment('language = "nl"', name="Dutch"),
                            tmp_path / "pandas", seed=4, **options)

    def refuse(*args, **kwargs):
        raise AssertionError("the members were read into pandas")

    monkeypatch.setattr(DuckDBBase, "_member_rows", refuse)
    got = export_split(bases[1].segment('language = "nl"', name="Dutch"),
                       tmp_path / "duckdb", seed=4, **options)
    _same_files(expected, got)
    assert got["A"].manifest["split"]["counts"] == expected["A"].manifest["split"]["counts"]
    assert _left(bases[1]) == []


@pytest.fixture
def text_ids(tmp_path) -> tuple[ContactBase, DuckDBBase]:
    """Text ids whose sorted order is not the file's, one with a quote; a duplicate email
    and a missing consent, so that the split draws from the waterfall's sendable rows."""
    n = 60
    rng = np.random.default_rng(0)
    ids = [f"id-{i:03d}" for i in rng.permutation(n)]
    ids[5] = "o'brien"
    contacts = pd.DataFrame({
        "contact_id": ids,
        "email": [f"c{i}@x.fr" for i in range(n)],
        "consent": ["given"] * n,
        "city": ["Lyon", "Nice", "Pau"] * (n // 3),
        "first_name": [f"=N{i}" if i % 7 == 0 else f"N{i}" for i in range(n)],
    })
    contacts.loc[8, "email"] = "c1@x.fr"
    contacts.loc[9, "consent"] = None
    contacts.to_parquet(tmp_path / "contacts.parquet", index=False)
    return (ContactBase(contacts, as_of="2026-10-31"),
            se.read_base(tmp_path / "contacts.parquet", engine="duckdb", as_of="2026-10-31"))


def test_text_ids_split_alike(text_ids, tmp_path):
    frames = [split(b.segment('city != "Pau"'), seed=9, stratify="city") for b in text_ids]
    assert frames[1].equals(frames[0])
    results = [export_split(b.segment('city != "Pau"', name="Not Pau"), tmp_path / b.engine,
                            seed=9, columns=["email", "first_name"]) for b in text_ids]
    _same_files(*results)


def _plan(base):
    return (se.VariantPlan(base, default="standard", target='country = "FR"')
            .add('loyalty_tier = "gold"', variant="gold",
                 subject="{first_name|Cher client}, votre offre or")
            .add('city = "Paris"', variant="paris", subject="Bonjour {first_name}",
                 offer="{preferred_brand|nos marques}")
            .add("purchases_total >= 3", variant="loyal",
                 template="{purchases_total} achats, {revenue_365d|0} EUR, depuis "
                          "{signup_date}"))


def test_a_plan_tells_the_same_on_both_engines(bases):
    plans = [_plan(b) for b in bases]
    for method in ("summary", "missing", "assign"):
        assert getattr(plans[1], method)().equals(getattr(plans[0], method)()), method
    assert plans[1].preview(3, mask_pii=True).equals(plans[0].preview(3, mask_pii=True))


@pytest.mark.parametrize("layout, holdout, options", [
    ("one_file", 0.1, {"preset": "brevo"}),
    ("per_variant", 0.1, {"columns": ["email", "signup_date", "birth_date", "revenue_90d"]}),
    ("per_variant", 0.0, {"preset": "mailchimp", "excel": True})])
def test_export_plan_writes_the_pandas_files(bases, tmp_path, layout, holdout, options):
    results = [_plan(b).export(tmp_path / b.engine, layout=layout, holdout=holdout, seed=5,
                               **options) for b in bases]
    _same_files(results[0].files, results[1].files)
    differs = {k for k in results[0].manifest
               if results[0].manifest[k] != results[1].manifest[k]}
    assert differs <= ENGINE_FIELDS, differs
    assert all(results[1].waterfalls[v].equals(w) for v, w in results[0].waterfalls.items())
    assert sorted(p.name for p in Path(tmp_path / "duckdb").iterdir()) == \
        sorted(p.name for p in Path(tmp_path / "pandas").iterdir())
    assert _left(bases[1]) == []


def test_a_plans_files_are_streamed(bases, tmp_path, cell_sizes):
    """The rows of a DuckDB plan's files come a batch at a time (templates rendered per
    batch), never as one frame of the members."""
    result = _plan(bases[1]).export(tmp_path, layout="one_file", merge_fields=True)
    assert result.files["plan.csv"].rows > 100 and max(cell_sizes) <= 7
