"""Plotly figures and HTML reports (never .show()); the only layer besides widgets that imports plotly."""
