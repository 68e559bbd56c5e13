"""Shared helpers for the benchmark scripts: the 1M-contact base, timing and printing."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).parent
DATA = HERE / "data"


def timed(function: Callable[[], object], repeat: int = 1) -> tuple[float, object]:
    """Median seconds over ``repeat`` runs, and the last result."""
    times = []
    result = None
    for _ in range(repeat):
        started = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def generated_tables(n_contacts: int = 1_000_000, seed: int = 0) -> dict:
    """The generated base as DataFrames, cached as Parquet under ``benchmarks/data``."""
    import pandas as pd

    from segexplore.datasets.generate import generate_base

    folder = DATA / f"base_{n_contacts}_{seed}"
    names = ("contacts", "events", "orders")
    if all((folder / f"{n}.parquet").exists() for n in names):
        return {n: pd.read_parquet(folder / f"{n}.parquet") for n in names}
    tables = generate_base(n_contacts, seed=seed)
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        frame.to_parquet(folder / f"{name}.parquet", index=False)
    return tables


def parquet_paths(n_contacts: int = 1_000_000, seed: int = 0) -> dict[str, Path]:
    generated_tables(n_contacts, seed)
    folder = DATA / f"base_{n_contacts}_{seed}"
    return {n: folder / f"{n}.parquet" for n in ("contacts", "events", "orders")}


def report(rows: list[tuple[str, float, float | None, str]]) -> None:
    """Print ``name, ours, baseline, ratio, target`` as a table."""
    print(f"{'measure':<58}{'ours':>11}{'baseline':>11}{'ratio':>8}  target")
    for name, ours, baseline, target in rows:
        base_text = f"{baseline * 1000:9.1f}ms" if baseline is not None else " " * 11
        ratio = f"{ours / baseline:7.2f}x" if baseline else " " * 8
        print(f"{name:<58}{ours * 1000:9.1f}ms{base_text}{ratio}  {target}")
