"""The version of segexplore (one place; the package and every manifest and log read it)."""

__version__ = "0.1.0"
