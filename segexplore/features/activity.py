"""Fast per-contact aggregation of events: counts, sums, first/last dates over time windows.

An :class:`ActivityTable` is built once per base. It maps every event to its contact's row
position (``0 .. n_contacts - 1``) and keeps each event type as its own slice sorted by
timestamp, so that

* a time window is two ``searchsorted`` calls (no boolean mask over all events),
* a per-contact count is one ``np.bincount`` over the window's positions,
* a per-contact sum is one weighted ``np.bincount``.

Windows
-------
Every method takes ``start`` and ``end`` and keeps events with ``start < t <= end``: the
start is **exclusive**, the end is **inclusive**. "The last 30 days as of ``as_of``" is
``window(as_of, "30D")`` (:func:`segexplore.features.times.window`) i.e. ``(as_of - 30
days, as_of]``: an event exactly at ``as_of`` counts, one exactly 30 days before does not,
so consecutive windows never count an event twice. ``None`` leaves that side open. The table itself knows no ``as_of``: pass
``end=as_of`` to ignore events after it.

Timestamps are compared as naive UTC nanoseconds: tz-aware timestamps (events, orders,
``start``, ``end``, ``as_of``) are converted to UTC and their zone dropped.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from segexplore.errors import (
    ParameterError,
    ParameterTypeError,
    SchemaError,
    ValidationError,
    closest_name,
)
from segexplore.features.modes import _argmax_per_contact
from segexplore.features.times import MAX_NS, NAT_NS, TimeLike, to_naive_ns, to_ns
from segexplore.model import hooks
from segexplore.model.columns import CONTACT_ID, EVENT_TYPE, EVENT_TYPES, TIMESTAMP

__all__ = ["ActivityTable", "AggregateFunc", "PURCHASE"]

AggregateFunc = Literal["sum", "mean", "min", "max"]
PURCHASE = "purchase"
def _sort_rows_by_time(rows: np.ndarray, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return ``rows`` and their ``times`` sorted by time; equal times keep row order.

    ``rows`` must be ascending. Sorting packed ``time << bits | row`` integers with
    ``np.sort`` is several times faster than a stable ``argsort`` and gives the sorted
    times back without a gather; it applies when timestamps are whole seconds (or ms, us)
    and time and row number fit together in 63 bits, which real exports almost always do.
    """
    if len(times) < 2 or bool((times[1:] >= times[:-1]).all()):
        return rows, times
    row_bits = max(1, int(rows[-1]).bit_length())
    origin = int(times.min())
    relative = times - origin
    for unit in (1_000_000_000, 1_000_000, 1_000, 1):
        if unit > 1 and bool((relative % unit).any()):
            continue
        ticks = relative // unit if unit > 1 else relative
        if int(ticks.max()).bit_length() + row_bits > 63:
            break
        packed = (ticks << row_bits) | rows
        packed.sort()
        sorted_rows = packed & ((1 << row_bits) - 1)
        packed >>= row_bits
        if unit > 1:
            packed *= unit
        packed += origin
        return sorted_rows, packed
    order = np.argsort(times, kind="stable")
    return rows[order], times[order]


@dataclass
class _TypeSlice:
    """One event type: rows of ``source`` sorted by time, with their contact positions."""

    times: np.ndarray  # int64 ns, ascending
    positions: np.ndarray  # int32/int64 contact row positions
    rows: np.ndarray  # row numbers into ``source`` in the same order
    source: pd.DataFrame  # property columns only (a shallow copy: copy-on-write keeps it intact)


@hooks.implements("activity")
class ActivityTable:
    """Events of a base, indexed for fast per-contact aggregation over time windows.

    Parameters
    ----------
    contact_ids
        Contact ids in the contacts' row order; every result array follows this order.
        They must be unique.
    events
        Canonical events table (``contact_id``, ``timestamp``, ``event_type`` and property
        columns such as ``brand``, ``category``, ``campaign_id``, ``amount``, ``items``).
    orders
        Canonical orders table. Used as the source of ``"purchase"`` events only when
        ``events`` holds no purchase row; its columns other than ``contact_id`` and
        ``timestamp`` (``order_id``, ``amount``, ``items``, ``brand``, ``category``) become
        the purchase properties.

    Attributes
    ----------
    unknown_contact_events : int
        Events (and orders used as purchases) whose contact id is not in ``contact_ids``;
        they are left out.
    missing_timestamp_events : int
        Events (and orders used as purchases) without a timestamp; left out.
    purchase_source : {"events", "orders", None}
        Where purchases come from.

    Notes
    -----
    Windows keep events with ``start < t <= end`` (see the module docstring). ``where``
    arguments are boolean arrays over the *whole* slice of one event type, in the order of
    :meth:`property`, e.g. ``table.property("visit", "brand") == "Acme"``.
    """

    def __init__(self, contact_ids: pd.Index | np.ndarray | pd.Series,
                 events: pd.DataFrame | None, orders: pd.DataFrame | None = None) -> None:
        self._contact_ids = pd.Index(contact_ids, name=CONTACT_ID)
        if not self._contact_ids.is_unique:
            duplicated = self._contact_ids[self._contact_ids.duplicated()][:5].tolist()
            raise ValidationError(f"contact ids must be unique; duplicated: {duplicated}")
        self.unknown_contact_events = 0
        self.missing_timestamp_events = 0
        self.purchase_source: str | None = None
        self._slices: dict[str, _TypeSlice] = {}
        self._property_cache: dict[tuple[str, str], pd.Series] = {}
        self._codes_cache: dict[tuple[str, str], tuple[np.ndarray, pd.Index]] = {}
        self._float_cache: dict[tuple[str, str], np.ndarray] = {}
        position_dtype = np.int32 if len(self._contact_ids) < 2**31 else np.int64
        self._position_dtype = position_dtype

        events_have_purchases = False
        if events is not None and len(events):
            events_have_purchases = self._add_events(events)
        if events_have_purchases:
            self.purchase_source = "events"
        elif orders is not None and len(orders):
            self._add_orders(orders)

    # ------------------------------------------------------------------ building
    def _map_contacts(self, ids: pd.Series) -> np.ndarray:
        """Return the contact row position of each id, -1 for unknown ids."""
        if isinstance(ids.dtype, pd.CategoricalDtype):
            # Map the few categories, then take by code: no hashing of every event.
            category_positions = self._contact_ids.get_indexer(ids.cat.categories)
            codes = ids.cat.codes.to_numpy()
            positions = np.append(category_positions, -1)[codes]
        else:
            positions = self._map_dense_integers(ids)
            if positions is None:
                positions = self._map_with_arrow(ids)
            if positions is None:
                # Factorising first hashes each distinct id once (get_indexer on 20M
                # strings is ~10x slower than factorize + get_indexer on the uniques).
                codes, uniques = pd.factorize(ids)
                positions = np.append(self._contact_ids.get_indexer(uniques), -1)[codes]
        return positions.astype(self._position_dtype, copy=False)

    def _map_dense_integers(self, ids: pd.Series) -> np.ndarray | None:
        """Map integer ids through a lookup array when contact ids span a compact range.

        Ids such as 1..n (the usual CRM export) make the lookup a single gather, ~10x
        faster than hashing 20M ids. Returns None when it does not apply.
        """
        known = self._contact_ids
        if not (len(known) and pd.api.types.is_integer_dtype(known.dtype)
                and pd.api.types.is_integer_dtype(ids.dtype) and not ids.hasnans
                and "uint64" not in (str(known.dtype).lower(), str(ids.dtype).lower())):
            return None
        low, high = int(known.min()), int(known.max())
        if high - low + 1 > 4 * len(known) + 1024:
            return None
        lookup = np.full(high - low + 2, -1, dtype=np.int64)  # last slot: out of range
        lookup[known.to_numpy(dtype=np.int64) - low] = np.arange(len(known))
        values = ids.to_numpy(dtype=np.int64)
        slot = values - low
        slot[(values < low) | (values > high)] = high - low + 1
        return lookup[slot]

    def _map_with_arrow(self, ids: pd.Series) -> np.ndarray | None:
        """Map ids with pyarrow's hash lookup when both sides share an arrow type."""
        try:
            import pyarrow as pa
            import pyarrow.compute as pc

            array = ids.array
            values = array._pa_array if hasattr(array, "_pa_array") else pa.array(array)
            if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)
                    or pa.types.is_integer(values.type)):
                return None
            known = self._contact_ids.array
            value_set = known._pa_array if hasattr(known, "_pa_array") else pa.array(known)
            if isinstance(value_set, pa.ChunkedArray):
                value_set = value_set.combine_chunks()
            if value_set.type != values.type:
                return None
            found = pc.index_in(values, value_set=value_set).fill_null(-1)
            return found.to_numpy()
        except (ImportError, TypeError, ValueError, AttributeError, NotImplementedError):
            return None
        except Exception as exc:  # pyarrow's own errors (ArrowInvalid...) are not builtins
            if type(exc).__module__.startswith("pyarrow"):
                return None
            raise

    @staticmethod
    def _require(frame: pd.DataFrame, columns: tuple[str, ...], table: str) -> None:
        missing = [column for column in columns if column not in frame.columns]
        if missing:
            raise SchemaError(f"the {table} table has no column {missing[0]!r}")

    def _valid_rows(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return (times, positions, valid) for the rows of ``frame``; counts the invalid."""
        times = to_naive_ns(frame[TIMESTAMP])
        positions = self._map_contacts(frame[CONTACT_ID])
        has_time = times != NAT_NS
        known = positions >= 0
        self.missing_timestamp_events += int((~has_time).sum())
        self.unknown_contact_events += int((has_time & ~known).sum())
        return times, positions, has_time & known

    def _add_slice(self, name: str, rows: np.ndarray, times: np.ndarray,
                   positions: np.ndarray, source: pd.DataFrame) -> None:
        rows, slice_times = _sort_rows_by_time(rows.astype(np.int64, copy=False), times[rows])
        row_dtype = np.int32 if len(source) < 2**31 else np.int64
        self._slices[name] = _TypeSlice(times=slice_times, positions=positions[rows],
                                        rows=rows.astype(row_dtype, copy=False), source=source)

    def _add_events(self, events: pd.DataFrame) -> bool:
        """Index the events by type; return whether any row is a purchase (even unusable)."""
        self._require(events, (CONTACT_ID, TIMESTAMP, EVENT_TYPE), "events")
        times, positions, valid = self._valid_rows(events)
        event_type = events[EVENT_TYPE]
        if isinstance(event_type.dtype, pd.CategoricalDtype):
            type_codes = event_type.cat.codes.to_numpy()
            type_names = list(event_type.cat.categories)
        else:
            type_codes, uniques = pd.factorize(event_type)
            type_names = list(uniques)
        has_purchases = PURCHASE in type_names and bool(
            (type_codes == type_names.index(PURCHASE)).any())
        type_codes = np.where(valid, type_codes, -1)
        properties = events.drop(columns=[CONTACT_ID, TIMESTAMP, EVENT_TYPE]).copy(deep=False)
        for code, name in enumerate(type_names):
            # Rows stay in file order, so already time-sorted data needs no sort at all.
            rows = np.flatnonzero(type_codes == code)
            if len(rows):
                self._add_slice(str(name), rows, times, positions, properties)
        return has_purchases

    def _add_orders(self, orders: pd.DataFrame) -> None:
        self._require(orders, (CONTACT_ID, TIMESTAMP), "orders")
        times, positions, valid = self._valid_rows(orders)
        properties = orders.drop(columns=[CONTACT_ID, TIMESTAMP]).copy(deep=False)
        rows = np.flatnonzero(valid)
        if len(rows):
            self._add_slice(PURCHASE, rows, times, positions, properties)
            self.purchase_source = "orders"

    # ------------------------------------------------------------------ introspection
    @property
    def n_contacts(self) -> int:
        """Number of contacts (length of every result array)."""
        return len(self._contact_ids)

    @property
    def contact_ids(self) -> pd.Index:
        """Contact ids in result order."""
        return self._contact_ids

    @property
    def event_types(self) -> list[str]:
        """Event types that have at least one usable event, sorted."""
        return sorted(self._slices)

    def __len__(self) -> int:
        """Total number of usable events (all types)."""
        return sum(len(part.times) for part in self._slices.values())

    def __repr__(self) -> str:
        sizes = ", ".join(f"{name}={len(self._slices[name].times)}" for name in self.event_types)
        return f"ActivityTable(n_contacts={self.n_contacts}, {sizes})"

    def n_events(self, event_type: str) -> int:
        """Number of events of ``event_type`` (length of its slice and of ``where`` masks)."""
        part = self._slice(event_type)
        return 0 if part is None else len(part.times)

    def _slice(self, event_type: str) -> _TypeSlice | None:
        """Return the slice of ``event_type``; None for a known type that has no event."""
        part = self._slices.get(event_type)
        if part is None and event_type not in EVENT_TYPES:
            known = sorted(set(self._slices) | set(EVENT_TYPES))
            hint = closest_name(event_type, known)
            did_you_mean = f"; did you mean {hint!r}?" if hint else ""
            raise SchemaError(f"unknown event type {event_type!r}{did_you_mean} "
                              f"(known: {', '.join(known)})")
        return part

    def property_names(self, event_type: str) -> list[str]:
        """Return the property columns of ``event_type`` (e.g. brand, amount)."""
        part = self._slice(event_type)
        return [] if part is None else [str(c) for c in part.source.columns]

    def property(self, event_type: str, name: str) -> pd.Series:
        """Return property ``name`` of every ``event_type`` event, in slice (time) order.

        The result has a default RangeIndex and keeps the source dtype (categoricals stay
        categorical), so ``table.property("visit", "brand") == "Acme"`` is a valid
        ``where`` mask.
        """
        key = (event_type, name)
        cached = self._property_cache.get(key)
        if cached is not None:
            return cached.copy(deep=False)
        part = self._slice(event_type)
        if part is None:
            return pd.Series([], dtype=object, name=name)
        if name not in part.source.columns:
            hint = closest_name(name, [str(c) for c in part.source.columns])
            did_you_mean = f"; did you mean {hint!r}?" if hint else ""
            raise SchemaError(f"{event_type!r} events have no property {name!r}{did_you_mean}")
        values = pd.Series(part.source[name].array.take(part.rows), name=name)
        self._property_cache[key] = values
        return values.copy(deep=False)  # copy-on-write: the caller cannot alter the cache

    def _float_values(self, event_type: str, name: str) -> np.ndarray:
        """Return a numeric property as float64 (missing -> NaN), cached."""
        key = (event_type, name)
        if key not in self._float_cache:
            values = self.property(event_type, name)
            if not (pd.api.types.is_numeric_dtype(values.dtype)
                    or pd.api.types.is_bool_dtype(values.dtype)):
                raise ParameterTypeError(f"property {name!r} of {event_type!r} events is not "
                                         f"numeric (dtype {values.dtype})")
            self._float_cache[key] = values.to_numpy(dtype=np.float64, na_value=np.nan)
        return self._float_cache[key]

    def _category_codes(self, event_type: str, name: str, lo: int,
                        hi: int) -> tuple[np.ndarray, pd.Index]:
        """Return (codes, categories) of a property over the slice ``lo:hi``.

        Missing values have code -1. A categorical source column is read for those rows
        only (a 365-day window is a fraction of the history); other dtypes are factorised
        once for the whole slice and cached.
        """
        part = self._slice(event_type)
        column = part.source[name]
        if isinstance(column.dtype, pd.CategoricalDtype):
            return column.cat.codes.to_numpy()[part.rows[lo:hi]], column.cat.categories
        key = (event_type, name)
        if key not in self._codes_cache:
            codes, uniques = pd.factorize(self.property(event_type, name))
            self._codes_cache[key] = (codes, pd.Index(uniques))
        codes, categories = self._codes_cache[key]
        return codes[lo:hi], categories

    # ------------------------------------------------------------------ windows
    def window_bounds(self, event_type: str, start: TimeLike = None,
                      end: TimeLike = None) -> tuple[int, int]:
        """Return ``(lo, hi)``: the slice ``lo:hi`` holds the events with start < t <= end."""
        part = self._slice(event_type)
        if part is None:
            return 0, 0
        start_ns, end_ns = to_ns(start), to_ns(end)
        lo = 0 if start_ns is None else int(np.searchsorted(part.times, start_ns, "right"))
        hi = len(part.times) if end_ns is None else int(np.searchsorted(part.times, end_ns,
                                                                         "right"))
        return lo, max(lo, hi)

    def _window(self, event_type: str, start: TimeLike, end: TimeLike,
                where: np.ndarray | pd.Series | None) -> tuple[np.ndarray, np.ndarray,
                                                               np.ndarray | None]:
        """Return (positions, times, row selector within the slice or None) of a window."""
        part = self._slice(event_type)
        if part is None:
            empty = np.empty(0, dtype=np.int64)
            return empty.astype(self._position_dtype), empty, empty
        lo, hi = self.window_bounds(event_type, start, end)
        positions, times = part.positions[lo:hi], part.times[lo:hi]
        if where is None:
            return positions, times, None
        mask = _as_mask(where, len(part.times), event_type)[lo:hi]
        selected = np.flatnonzero(mask) + lo
        return positions[mask], times[mask], selected

    # ------------------------------------------------------------------ aggregations
    def count(self, event_type: str, *, start: TimeLike = None, end: TimeLike = None,
              where: np.ndarray | pd.Series | None = None) -> np.ndarray:
        """Number of ``event_type`` events per contact with start < t <= end (int64)."""
        positions, _, _ = self._window(event_type, start, end, where)
        return np.bincount(positions, minlength=self.n_contacts).astype(np.int64, copy=False)

    def aggregate(self, event_type: str, prop: str, func: AggregateFunc = "sum", *,
                  start: TimeLike = None, end: TimeLike = None,
                  where: np.ndarray | pd.Series | None = None) -> np.ndarray:
        """Aggregate numeric property ``prop`` per contact over a window (float64).

        Missing values are skipped. The sum of no value is 0; the mean, min and max of no
        value are NaN.
        """
        if func not in ("sum", "mean", "min", "max"):
            raise ParameterError(f"func must be 'sum', 'mean', 'min' or 'max', not {func!r}")
        n = self.n_contacts
        if self._slice(event_type) is None:
            return np.zeros(n) if func == "sum" else np.full(n, np.nan)
        values = self._float_values(event_type, prop)
        positions, _, selected = self._window(event_type, start, end, where)
        if selected is None:
            lo, hi = self.window_bounds(event_type, start, end)
            values = values[lo:hi]
        else:
            values = values[selected]
        present = ~np.isnan(values)
        if not present.all():
            positions, values = positions[present], values[present]
        if func == "sum":
            return np.bincount(positions, weights=values, minlength=n)
        counts = np.bincount(positions, minlength=n)
        if func == "mean":
            totals = np.bincount(positions, weights=values, minlength=n)
            with np.errstate(invalid="ignore", divide="ignore"):
                return np.where(counts > 0, totals / np.maximum(counts, 1), np.nan)
        result = np.full(n, np.inf if func == "min" else -np.inf)
        (np.minimum if func == "min" else np.maximum).at(result, positions, values)
        result[counts == 0] = np.nan
        return result

    def last(self, event_type: str, *, start: TimeLike = None, end: TimeLike = None,
             where: np.ndarray | pd.Series | None = None) -> np.ndarray:
        """Time of the latest event per contact in the window (datetime64[ns], NaT if none)."""
        positions, times, _ = self._window(event_type, start, end, where)
        result = np.full(self.n_contacts, NAT_NS, dtype=np.int64)  # NaT is the int64 minimum
        np.maximum.at(result, positions, times)
        return result.view("datetime64[ns]")

    def first(self, event_type: str, *, start: TimeLike = None, end: TimeLike = None,
              where: np.ndarray | pd.Series | None = None) -> np.ndarray:
        """Time of the earliest event per contact in the window (datetime64[ns], NaT if none)."""
        positions, times, _ = self._window(event_type, start, end, where)
        result = np.full(self.n_contacts, MAX_NS, dtype=np.int64)
        np.minimum.at(result, positions, times)
        result[result == MAX_NS] = NAT_NS
        return result.view("datetime64[ns]")

    def decayed_count(self, event_type: str, *, as_of: TimeLike, half_life: pd.Timedelta | str,
                      start: TimeLike = None,
                      where: np.ndarray | pd.Series | None = None) -> np.ndarray:
        """Sum over events with start < t <= as_of of ``0.5 ** ((as_of - t) / half_life)``.

        An event at ``as_of`` weighs 1, one ``half_life`` earlier weighs 0.5 (float64).
        """
        as_of_ns = to_ns(as_of)
        half_life_ns = pd.Timedelta(half_life).value
        if half_life_ns <= 0:
            raise ParameterError("half_life must be positive")
        positions, times, _ = self._window(event_type, start, as_of, where)
        weights = np.exp2((times - as_of_ns) / half_life_ns)
        return np.bincount(positions, weights=weights, minlength=self.n_contacts)

    def count_not_followed_by(self, first_type: str, then_type: str,
                              within: pd.Timedelta | str, *, as_of: TimeLike,
                              start: TimeLike = None, end: TimeLike = None,
                              first_where: np.ndarray | pd.Series | None = None,
                              then_where: np.ndarray | pd.Series | None = None) -> np.ndarray:
        """Per contact, the number of ``first_type`` events not followed by ``then_type``.

        A ``first_type`` event at time ``t`` counts when ``start < t <= end``, when
        ``t + within <= as_of`` (otherwise the follow-up period is not over yet and we cannot
        know: such recent events are left out) and when the same contact has no
        ``then_type`` event in ``(t, t + within]`` (strictly after ``t``; one exactly at
        ``t + within`` still counts as a follow-up). ``then_type`` events after ``as_of``
        are never looked at. Returns int64.
        """
        positions, _, _ = self.unfollowed_events(first_type, then_type, within, as_of=as_of,
                                                 start=start, end=end, first_where=first_where,
                                                 then_where=then_where)
        return np.bincount(positions, minlength=self.n_contacts).astype(np.int64, copy=False)

    def unfollowed_events(self, first_type: str, then_type: str, within: pd.Timedelta | str,
                          *, as_of: TimeLike, start: TimeLike = None, end: TimeLike = None,
                          first_where: np.ndarray | pd.Series | None = None,
                          then_where: np.ndarray | pd.Series | None = None
                          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The ``first_type`` events that :meth:`count_not_followed_by` counts, one by one.

        Returns ``(positions, times, rows)``: each such event's contact position, time (int64
        ns) and row in the slice of ``first_type`` (for :meth:`property`), in time order.
        """
        as_of_ns = to_ns(as_of)
        if as_of_ns is None:
            raise ParameterError("as_of is required")
        within_ns = pd.Timedelta(within).value
        if within_ns < 0:
            raise ParameterError("within must not be negative")
        # A first event needs its whole follow-up period before as_of; the window's own end
        # only bounds the first event itself (a cart on the window's last day still counts).
        end_ns = as_of_ns - within_ns if end is None else min(to_ns(end), as_of_ns - within_ns)
        last_usable = pd.Timestamp(end_ns) if end_ns > NAT_NS + 1 else None
        if last_usable is None or self._slice(first_type) is None:
            empty = np.empty(0, dtype=np.int64)
            return empty.astype(self._position_dtype), empty, empty
        first_positions, first_times, rows = self._window(first_type, start, last_usable,
                                                          first_where)
        if rows is None:
            lo, hi = self.window_bounds(first_type, start, last_usable)
            rows = np.arange(lo, hi)
        then_positions, then_times, _ = self._window(then_type, start, pd.Timestamp(as_of_ns),
                                                     then_where)
        unfollowed = np.ones(len(first_positions), dtype=bool)
        if len(then_times) and len(first_times):
            unfollowed = ~_has_event_in(first_positions, first_times, first_times + within_ns,
                                        then_positions, then_times)
        return first_positions[unfollowed], first_times[unfollowed], rows[unfollowed]

    def not_followed_by(self, first_type: str, then_type: str, within: pd.Timedelta | str, *,
                        as_of: TimeLike, start: TimeLike = None, end: TimeLike = None,
                        first_where: np.ndarray | pd.Series | None = None,
                        then_where: np.ndarray | pd.Series | None = None) -> np.ndarray:
        """True when the contact has a ``first_type`` event not followed by ``then_type``.

        Same rules as :meth:`count_not_followed_by` (bool array).
        """
        return self.count_not_followed_by(first_type, then_type, within, as_of=as_of,
                                          start=start, end=end, first_where=first_where,
                                          then_where=then_where) > 0

    def time_mode(self, part: str, weights: Mapping[str, float], *, start: TimeLike = None,
                  end: TimeLike = None) -> np.ndarray:
        """Per contact, the hour of the day or the day of the week of most events.

        ``part="hour"`` reads each event's hour (0-23), ``part="weekday"`` its day of the
        week (0 = Monday ... 6 = Sunday), on the clock the timestamps are stored in. Each
        event of type ``k`` in the window adds ``weights[k]`` to its hour's (day's) score;
        the highest score wins, ties going to the earliest. Returns int64 codes, -1 for
        contacts without any such event.
        """
        if part not in ("hour", "weekday"):
            raise ParameterError(f"part must be 'hour' or 'weekday', not {part!r}")
        if any(weight < 0 for weight in weights.values()):
            raise ParameterError("time_mode weights must not be negative")
        n_codes = 24 if part == "hour" else 7
        positions, codes, weight_index = [], [], []
        for index, event_type in enumerate(weights):
            if self._slice(event_type) is None:
                continue
            part_positions, times, _ = self._window(event_type, start, end, None)
            positions.append(part_positions)
            codes.append(_time_part(times, part))
            weight_index.append(np.full(len(times), index))
        if not positions:
            return np.full(self.n_contacts, -1, dtype=np.int64)
        return _argmax_per_contact(np.concatenate(positions), np.concatenate(codes),
                                   np.concatenate(weight_index), self.n_contacts, n_codes,
                                   np.array(list(weights.values()), dtype=float))

    def mode(self, prop: str, weights: Mapping[str, float], *, start: TimeLike = None,
             end: TimeLike = None) -> pd.Categorical:
        """Most frequent value of ``prop`` per contact over several event types.

        Each event of type ``k`` in the window adds ``weights[k]`` to its value's score; the
        value with the highest score wins, ties going to the first value in sorted order.
        Missing values are ignored; contacts without any value get NaN. The categories
        are the sorted union of the values seen in those event types.
        """
        if any(weight < 0 for weight in weights.values()):
            raise ParameterError("mode weights must not be negative")
        parts = []
        for event_type, weight in weights.items():
            part = self._slice(event_type)
            if part is None or prop not in part.source.columns:
                continue
            lo, hi = self.window_bounds(event_type, start, end)
            codes, categories = self._category_codes(event_type, prop, lo, hi)
            parts.append((part.positions[lo:hi], codes, categories, float(weight)))
        n = self.n_contacts
        if not parts:
            return pd.Categorical.from_codes(np.full(n, -1), categories=pd.Index([], dtype=str))
        union = pd.Index(parts[0][2])
        for _, _, categories, _ in parts[1:]:
            union = union.union(pd.Index(categories))
        union = union.sort_values()
        positions, codes, weight_index = [], [], []
        for index, (part_positions, part_codes, categories, _) in enumerate(parts):
            recode = np.append(union.get_indexer(categories), -1)  # code -1 stays missing
            union_codes = recode[part_codes]
            present = union_codes >= 0
            positions.append(part_positions[present])
            codes.append(union_codes[present])
            weight_index.append(np.full(int(present.sum()), index))
        best = _argmax_per_contact(np.concatenate(positions), np.concatenate(codes),
                                   np.concatenate(weight_index), n, len(union),
                                   np.array([weight for *_, weight in parts], dtype=float))
        return pd.Categorical.from_codes(best, categories=union)


_NS_PER_HOUR = 3_600 * 10**9
_NS_PER_DAY = 24 * _NS_PER_HOUR


def _time_part(times: np.ndarray, part: str) -> np.ndarray:
    """The hour (0-23) or weekday (0 = Monday) of int64 nanosecond times since 1970-01-01,
    a Thursday (numpy's ``//`` and ``%`` floor, so times before 1970 are right too)."""
    if part == "hour":
        return (times % _NS_PER_DAY) // _NS_PER_HOUR
    return (times // _NS_PER_DAY + 3) % 7


def _as_mask(where: np.ndarray | pd.Series, length: int, event_type: str) -> np.ndarray:
    """Return ``where`` as a numpy bool array of the slice's length (NA -> False)."""
    if isinstance(where, pd.Series) and where.dtype == bool:
        mask = where.to_numpy()
    elif isinstance(where, (pd.Series, pd.api.extensions.ExtensionArray)):
        mask = pd.array(where, dtype="boolean").to_numpy(dtype=bool, na_value=False)
    else:
        mask = np.asarray(where)
        if mask.dtype != bool:
            raise ParameterTypeError(f"where must be a boolean mask, not {mask.dtype}")
    if mask.shape != (length,):
        raise ParameterError(f"where has {mask.shape[0] if mask.ndim else 0} values but there "
                             f"are {length} {event_type!r} events")
    return mask


def _has_event_in(positions: np.ndarray, after: np.ndarray, until: np.ndarray,
                  other_positions: np.ndarray, other_times: np.ndarray) -> np.ndarray:
    """For each i: does contact ``positions[i]`` have an other event in (after[i], until[i]]?

    Other events are keyed ``position << 32 | rank of their time``; ranks are exact at the
    nanosecond and fit 32 bits, so one sorted int64 array and two searchsorted calls answer
    every query at once.
    """
    distinct_times = np.unique(other_times)
    other_keys = (other_positions.astype(np.int64) << 32) | np.searchsorted(distinct_times,
                                                                             other_times)
    other_keys.sort()
    base = positions.astype(np.int64) << 32
    low = base | np.searchsorted(distinct_times, after, "right")   # first rank with t > after
    high = base | np.searchsorted(distinct_times, until, "right")  # first rank with t > until
    return np.searchsorted(other_keys, low) < np.searchsorted(other_keys, high)


