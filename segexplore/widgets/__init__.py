"""Widgets (placeholder while being written)."""
