"""Cleaning read tables: normalise, validate, de-duplicate; every row kept, merged or rejected."""
