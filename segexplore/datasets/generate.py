"""Seeded, vectorised generator of a realistic French/Belgian email contact base.

:func:`generate_base` builds the three canonical tables (``contacts``, ``events``,
``orders``) with structure worth segmenting: latent personas (loyal buyers, lapsed
customers, cart abandoners, window shoppers, newsletter-only openers, never engaged),
heavy-tailed engagement, brand affinity, seasonality (Black Friday, Christmas, January
sales, summer dip) and purchases that follow recent clicks and visits.
:func:`~segexplore.datasets.raw.make_raw` and :func:`~segexplore.datasets.raw.write_raw`
turn a base into messy exports as real tools produce them; :func:`write_sample` writes the
bundled copy found by :func:`~segexplore.datasets.sample.sample_path`.

Everything is numpy-vectorised (loops only run over a handful of personas, profiles or
calendar days), so a million contacts and ~20 million events take seconds.

This module puts the base together. Who the contacts are is
:mod:`segexplore.datasets.contacts`, what they do :mod:`segexplore.datasets.activity`, the
reference tables both draw from (cities, names, brands, categories, personas...)
:mod:`segexplore.datasets.tables`, and the messy exports :mod:`segexplore.datasets.raw`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from segexplore.datasets.activity import _campaign_plan, _daily_intensity, _simulate_events
from segexplore.datasets.contacts import _categorical, _make_contacts
from segexplore.datasets.raw import make_raw, write_raw
from segexplore.datasets.tables import (
    _P,
    BRANDS,
    CATEGORIES,
    LOYALTY_TIERS,
)
from segexplore.errors import ParameterError
from segexplore.model import columns as col

__all__ = ["generate_base", "write_sample"]

#: Days of event history before ``as_of`` (three years, so lapsed buyers and several
#: Black Fridays are visible).
HISTORY_DAYS = 3 * 365 + 1


def _time_order(second: np.ndarray, end: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows with ``second < end`` sorted by (second, row): their indices and seconds."""
    kept = np.flatnonzero(second < end)
    row_bits = max(len(second).bit_length(), 1)
    if int(end).bit_length() + row_bits <= 62:
        # Sorting packed (second, row) keys is ~10x faster than a stable argsort, and as
        # the keys are unique the order does not depend on the sort algorithm.
        key = (second[kept] << row_bits) | kept
        key.sort()
        return key & ((1 << row_bits) - 1), key >> row_bits
    order = kept[np.argsort(second[kept], kind="stable")]
    return order, second[order]


def _spread(order: np.ndarray, start: int, values: np.ndarray, fill) -> np.ndarray:
    """Column over sorted rows from ``values`` of raw rows ``start..``; ``fill`` elsewhere."""
    out = np.full(len(order), fill, dtype=values.dtype)
    inside = (order >= start) & (order < start + len(values))
    out[inside] = values[order[inside] - start]
    return out


def _loyalty_tiers(rng, latent, orders_contact, orders_amount):
    """Members get a tier from their spend (non-buyers stay bronze); others none (-1)."""
    n = len(latent.persona)
    member = rng.random(n) < _P["member_prob"][latent.persona]
    spend = np.bincount(orders_contact, weights=orders_amount, minlength=n)
    spenders = np.flatnonzero(member & (spend > 0))
    rank = np.zeros(n)
    rank[spenders[np.argsort(spend[spenders], kind="stable")]] = (
        np.arange(len(spenders)) / max(len(spenders), 1))
    tier = np.select([rank >= 0.7, rank >= 0.3], [2, 1], 0)
    return np.where(member, tier, -1)


def generate_base(n_contacts: int = 20_000, *, seed: int = 0, as_of="2026-10-31",
                  events_per_contact: float = 20.0) -> dict[str, pd.DataFrame]:
    """Generate a realistic, seeded French/Belgian contact base.

    Parameters
    ----------
    n_contacts : int
        Number of contacts (ids ``1..n_contacts``).
    seed : int
        Seed of the random generator: the same seed gives identical frames.
    as_of : str, date or Timestamp
        End of the observation window (midnight of that day): every event, order and
        date is before it. Events cover the three years before ``as_of``.
    events_per_contact : float
        Target mean number of events per contact (the actual mean is within a few %).

    Returns
    -------
    dict of str to DataFrame
        ``"contacts"``, ``"events"`` and ``"orders"`` with the canonical columns of
        :mod:`segexplore.model.columns`. Events and orders are sorted by timestamp;
        purchase events mirror the orders row for row.

    Examples
    --------
    >>> tables = generate_base(500, seed=1)
    >>> sorted(tables)
    ['contacts', 'events', 'orders']
    >>> tables["contacts"]["contact_id"].is_unique
    True
    >>> bool((tables["events"]["timestamp"] < pd.Timestamp("2026-10-31")).all())
    True
    """
    if int(n_contacts) != n_contacts or n_contacts < 1:
        raise ParameterError(f"n_contacts must be a positive integer, got {n_contacts!r}")
    if not events_per_contact >= 0:
        raise ParameterError(f"events_per_contact must be >= 0, got {events_per_contact!r}")
    n = int(n_contacts)
    rng = np.random.default_rng(seed)
    as_of_day = pd.Timestamp(as_of).to_datetime64().astype("datetime64[D]")
    origin = as_of_day - HISTORY_DAYS
    contacts, latent = _make_contacts(rng, n, as_of_day, origin)
    campaign_send, campaign_weight, campaign_ids = _campaign_plan(rng, origin, HISTORY_DAYS)
    intensity = _daily_intensity(origin + np.arange(HISTORY_DAYS))
    raw = _simulate_events(rng, latent, HISTORY_DAYS, campaign_send, campaign_weight,
                           intensity, events_per_contact * n)

    # Sessions started just before as_of may spill over it: cut, then sort by time.
    order, second = _time_order(raw["second"], raw["end_second"])
    n_email, n_purchase = len(raw["campaign"]), len(raw["amount"])
    first_purchase = len(raw["second"]) - n_purchase
    origin_second = int(origin.astype("datetime64[s]").astype(np.int64))
    timestamp = ((second + origin_second) * 1_000_000).view("datetime64[us]")
    contact = raw["contact"][order]
    event_type = raw["type"][order]
    amount = _spread(order, first_purchase, raw["amount"], np.nan)
    items = _spread(order, first_purchase, raw["items"], 0)
    brand = _spread(order, n_email, raw["brand"], -1)
    category = _spread(order, n_email, raw["category"], -1)
    events = pd.DataFrame({
        col.CONTACT_ID: np.add(contact, 1, dtype=np.int64),
        col.TIMESTAMP: timestamp,
        col.EVENT_TYPE: _categorical(event_type, col.EVENT_TYPES),
        "campaign_id": _categorical(_spread(order, 0, raw["campaign"], -1), campaign_ids),
        "brand": _categorical(brand, BRANDS),
        "category": _categorical(category, CATEGORIES),
        col.AMOUNT: amount,
        col.ITEMS: pd.arrays.IntegerArray(items, event_type != 4),
    }, copy=False)
    purchase = np.flatnonzero(event_type == 4)
    orders = pd.DataFrame({
        col.ORDER_ID: np.arange(1, len(purchase) + 1, dtype=np.int64),
        col.CONTACT_ID: np.add(contact[purchase], 1, dtype=np.int64),
        col.TIMESTAMP: timestamp[purchase],
        col.AMOUNT: amount[purchase],
        col.ITEMS: items[purchase],
        "brand": _categorical(brand[purchase], BRANDS),
        "category": _categorical(category[purchase], CATEGORIES),
    }, copy=False)
    tier = _loyalty_tiers(rng, latent, contact[purchase], orders[col.AMOUNT].to_numpy())
    contacts["loyalty_tier"] = _categorical(tier, LOYALTY_TIERS)
    return {"contacts": contacts, "events": events, "orders": orders}


def write_sample(directory, n_contacts: int = 20_000, seed: int = 0, *, as_of="2026-10-31",
                 events_per_contact: float = 20.0, file_format: str = "parquet",
                 raw_directory=None, raw_contacts: int = 5_000,
                 raw_events_per_contact: float = 12.0) -> dict[str, Path]:
    """Generate a base and write ``contacts``, ``events`` and ``orders`` files.

    Parameters
    ----------
    directory : path
        Where to write ``contacts.parquet``, ``events.parquet``, ``orders.parquet``
        (zstd) or, with ``file_format="csv"``, the same names in ``.csv`` (UTF-8, ISO dates).
    n_contacts, seed, as_of, events_per_contact
        Passed to :func:`generate_base`.
    file_format : {"parquet", "csv"}
    raw_directory : path, optional
        Also write messy exports (:func:`make_raw`, :func:`write_raw`) of a separate,
        smaller base of ``raw_contacts`` contacts there (the files stay commit-sized).

    Returns
    -------
    dict of str to Path
        Every file written, keyed ``"contacts"``, ``"events"``, ``"orders"`` and, with
        ``raw_directory``, ``"contacts_raw"``, ``"events_raw"``, ``"orders_raw"``.

    Examples
    --------
    >>> import tempfile
    >>> paths = write_sample(tempfile.mkdtemp(), n_contacts=200)
    >>> pd.read_parquet(paths["contacts"]).shape[0]
    200
    """
    if file_format not in ("parquet", "csv"):
        raise ParameterError(f"file_format must be 'parquet' or 'csv', got {file_format!r}")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tables = generate_base(n_contacts, seed=seed, as_of=as_of,
                           events_per_contact=events_per_contact)
    paths: dict[str, Path] = {}
    for name, frame in tables.items():
        path = directory / f"{name}.{file_format}"
        if file_format == "parquet":
            frame.to_parquet(path, compression="zstd", index=False)
        else:
            frame.to_csv(path, index=False, encoding="utf-8")
        paths[name] = path
    if raw_directory is not None:
        raw_base = generate_base(raw_contacts, seed=seed, as_of=as_of,
                                 events_per_contact=raw_events_per_contact)
        raw_paths = write_raw(make_raw(raw_base, seed=seed), raw_directory)
        paths.update({f"{name}_raw": path for name, path in raw_paths.items()})
    return paths


