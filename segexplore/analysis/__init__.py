"""Profiles, comparisons and the statistics they are read off."""
