"""The bundled sample base: :func:`load_sample` and where its files are (:func:`sample_path`).

The files ship inside the package (``segexplore/data``); :mod:`segexplore.datasets.generate`
is how they were made (``sample_data/generate.py`` runs it).
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path
from typing import Any

from segexplore.io.load import read_base
from segexplore.model.base import ContactBase

__all__ = ["load_sample", "sample_path"]


def load_sample(*, clean: bool = True, as_of: Any = None) -> ContactBase:
    """The bundled sample contact base: about 20,000 French and Belgian contacts.

    Each row of ``contacts`` represents one person who signed up to a retailer's emails;
    ``events`` holds their opens, clicks, visits, add-to-carts and purchases, and
    ``orders`` their orders. Works offline (the files ship inside the package).

    Examples
    --------
    >>> import segexplore as se
    >>> base = se.load_sample()
    >>> len(base.contacts) > 15_000
    True
    """
    folder = sample_path()
    return read_base(folder / "contacts.parquet", folder / "events.parquet",
                     folder / "orders.parquet", clean=clean, as_of=as_of)


def sample_path() -> Path:
    """Directory of the bundled sample (``contacts.parquet``, ``events.parquet``,
    ``orders.parquet``), found with :mod:`importlib.resources` so it works installed.

    Examples
    --------
    >>> (sample_path() / "contacts.parquet").name
    'contacts.parquet'
    """
    folder = importlib.resources.files("segexplore").joinpath("data")
    try:
        return Path(folder)  # a real directory for regular and editable installs
    except TypeError:  # e.g. a namespace package: fall back to this file's location
        return Path(__file__).resolve().parent.parent / "data"
