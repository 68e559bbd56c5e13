"""Headless core of segexplore: pandas, numpy, duckdb and sqlglot only.

Nothing under ``segexplore.core`` may import ipywidgets or plotly (a test enforces it).
"""
