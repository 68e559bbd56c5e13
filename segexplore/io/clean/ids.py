"""Contact ids across tables: an event's ``contact_id`` meets the contacts' ids in the
contacts' type (integer ``10003`` finds text ``"10003"``, ``1`` never finds ``"00001"``), and
the ids of merged duplicates map to the surviving contact."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["known_ids"]


def _compact_int_keys(keys: np.ndarray, ids: np.ndarray) -> int | None:
    """The largest key when integer ids fit a direct look-up table, else None."""
    if len(keys) and keys.dtype.kind in "iu" and ids.dtype.kind in "iu" and keys.min() >= 0 \
            and keys.max() <= 20 * len(keys) + 1000:
        return int(keys.max())
    return None


def known_ids(ids: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Whether each id is one of ``keys`` (which may repeat: one per event).

    Integer ids go through a 1-byte-per-id table that stays in cache (20M look-ups in a
    few tens of milliseconds); other ids (text, UUIDs, large integers) through a hash set.

    Examples
    --------
    >>> known_ids(np.array(["00001", "00002"], dtype=object),
    ...           np.array(["00001", "00001"], dtype=object)).tolist()
    [True, False]
    """
    high = _compact_int_keys(keys, ids)
    if high is None:
        # isin, not get_indexer: event ids repeat, and get_indexer needs unique keys.
        return np.asarray(pd.Index(ids).isin(keys), dtype=bool)
    table = np.zeros(high + 2, dtype=bool)  # the last slot catches unknown ids
    table[keys] = True
    return table[np.clip(ids, -1, high + 1)]  # -1 also lands on the last slot


def _map_ids(ids: np.ndarray, id_map: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Surviving contact id of each event's contact id, and whether it was found.

    Integer ids in a compact range go through a direct look-up table (20M events in a
    fraction of a second, where a hash look-up takes seconds).
    """
    keys = id_map.index.to_numpy()
    values = id_map.to_numpy()
    if len(keys) == 0:
        return np.zeros(len(ids), dtype=values.dtype), np.zeros(len(ids), dtype=bool)
    high = _compact_int_keys(keys, ids)
    if high is not None:
        if np.array_equal(keys, values):  # nobody merged: ids map to themselves
            return ids, known_ids(ids, keys)
        table = np.full(high + 2, -1, dtype=np.int64)  # the last slot catches unknown ids
        table[keys] = np.arange(len(keys))
        positions = table[np.clip(ids, -1, high + 1)]  # -1 also lands on the last slot
    else:
        positions = id_map.index.get_indexer(ids)
    found = positions >= 0
    return values[np.where(found, positions, 0)], found


def _comparable_ids(ids: pd.Series, contact_ids: pd.Index) -> pd.Series:
    """Event ids in the type of the contacts' ids, so equal ids compare equal.

    Text contact ids (``"00001"``, UUIDs, a mixed column) meet integer event ids as their
    decimal text (``10003`` -> ``"10003"``; ``1`` stays unlike ``"00001"``: no guessing).
    Integer contact ids meet text event ids as numbers. Floats holding integers (an id
    column with a blank cell) become integers first.

    Examples
    --------
    >>> _comparable_ids(pd.Series([10003, 1]), pd.Index(["00001", "10003"])).tolist()
    ['10003', '1']
    >>> _comparable_ids(pd.Series([" 7", None]), pd.Index([7, 8])).tolist()
    [7, <NA>]
    """
    text_contacts = pd.api.types.is_string_dtype(contact_ids.dtype) or \
        contact_ids.dtype == object
    if pd.api.types.is_string_dtype(ids.dtype) or ids.dtype == object:
        ids = ids.astype("string").str.strip()
        return ids if text_contacts else pd.to_numeric(ids, errors="coerce")
    if pd.api.types.is_float_dtype(ids.dtype):
        integral = ids.isna() | (ids == np.floor(ids))
        if not integral.all():
            return ids  # 1.5 is nobody's id: left unmatched, rejected as unknown
        ids = ids.astype("Int64")
    if text_contacts and pd.api.types.is_integer_dtype(ids.dtype):
        return ids.astype("string")
    return ids
