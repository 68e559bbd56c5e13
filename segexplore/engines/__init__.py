"""Engines that hold a base's tables outside pandas: DuckDB (:mod:`segexplore.engines.duckdb`)."""
