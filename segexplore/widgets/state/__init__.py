"""The headless logic behind the widgets: what a field offers, rule rows <-> rules, segment
choices, distribution counts, debouncing. Plain Python, tested without a browser; imports
neither ipywidgets nor plotly."""
