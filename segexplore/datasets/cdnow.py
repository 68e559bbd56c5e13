"""The CDNOW 1/10th sample: real transactions of 2,357 customers of an online CD shop,
the data set on which BG/NBD was published (Fader, Hardie & Lee, 2005)."""

from __future__ import annotations

from importlib.resources import files

import numpy as np
import pandas as pd

from segexplore.io.load import read_base
from segexplore.model.base import ContactBase

__all__ = ["cdnow_sample"]


def cdnow_sample() -> ContactBase:
    """The CDNOW 1/10th sample (2,357 customers, Jan 1997 - Jun 1998) as a ContactBase.

    Read from ``segexplore/data/CDNOW_sample.txt`` (provenance and licence in
    ``segexplore/data/CDNOW_README.md``) with :func:`segexplore.read_base`: contact ids are
    the sample ids 1..2357, orders keep ``amount`` (dollars) and ``items`` (CDs). ``as_of``
    is the last order date, 1998-06-30.

    Examples
    --------
    >>> base = cdnow_sample()
    >>> len(base.contacts), len(base.orders)
    (2357, 6919)
    """
    path = files("segexplore").joinpath("data", "CDNOW_sample.txt")
    names = ["master_id", "contact_id", "date", "number_of_cds", "dollar_value"]
    contacts = pd.DataFrame({"contact_id": np.arange(1, 2358, dtype=np.int64)})
    return read_base(contacts, orders=str(path), names={"orders": names},
                     columns={"dollar_value": "amount", "number_of_cds": "items"})
