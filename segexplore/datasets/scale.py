"""Generated bases of any size, written block by block with bounded memory.

:func:`generate_blocks` runs :func:`~segexplore.datasets.generate.generate_base` on
successive blocks of :data:`BLOCK_CONTACTS` contacts and makes the blocks one base;
:func:`write_base` streams them to Parquet (or CSV) files, so 10 million contacts and
200 million events, or 50 million and a billion, are written in bounded memory: about one
block's (0.5 GB) plus 8 bytes a contact (0.63 GB peak at 10 million contacts, measured by
``benchmarks/bench_generate_scale.py``).

What makes the blocks one base, and what stays per block:

- **Seeds.** Block ``k`` (contacts ``k * BLOCK_CONTACTS + 1 ..``) is generated from
  ``numpy.random.SeedSequence(seed).spawn(k + 1)[k]``, block 0 from ``seed`` itself. So a
  base depends only on ``(seed, n_contacts, as_of, events_per_contact)``, never on how it
  is split into files or on the file format, and a base of at most ``BLOCK_CONTACTS``
  contacts is exactly ``generate_base(n_contacts, seed=seed)``.
- **Ids.** Contact ids run ``1..n_contacts`` across blocks (each block's ids are offset by
  its first contact) and order ids ``1..`` across blocks; events and orders refer to the
  contacts of their own block.
- **Emails** are unique across the base: an address already given to a contact of an
  earlier block gets an extra number before the ``@``, as homonyms do within a block
  (``generate_base``). The addresses given so far are remembered as 64-bit hashes:
  8 bytes a contact, the one part of the memory that grows with the base (0.4 GB at
  50 million contacts).
- **Per block:** the loyalty tiers rank spend among the members of the block (the
  bronze/silver/gold shares hold per block, hence in the base), the event rate is
  calibrated per block to ``events_per_contact``, and each block draws its own campaign
  attractiveness (the campaign calendar and ids are the same in every block, so a
  campaign's open rate over a large base varies less from campaign to campaign than in
  one block). Events and orders are sorted by timestamp within each block (a file holds
  one or several blocks, or a slice of one), not across the table: sort when reading if
  the order matters.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from segexplore.datasets.generate import generate_base
from segexplore.errors import ParameterError, ParameterTypeError
from segexplore.io.atomic import StagedFile, staged_write
from segexplore.model import columns as col

__all__ = ["BLOCK_CONTACTS", "generate_blocks", "write_base"]

#: Contacts generated at once. 100,000 contacts (~2 million events) take ~1.5 s and
#: ~0.5 GB; larger blocks are no faster per contact (sorts and gathers leave the caches).
BLOCK_CONTACTS = 100_000

#: The tables of a base, in the order they are generated and written.
TABLES = ("contacts", "events", "orders")

_FORMATS = {"parquet": ".parquet", "csv": ".csv"}


def _whole(name: str, value, *, minimum: int) -> int:
    """``value`` as an int >= ``minimum``, or the error naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ParameterTypeError(f"{name} must be a whole number, got {value!r}")
    if value < minimum:
        raise ParameterError(f"{name} must be >= {minimum}, got {value!r}")
    return int(value)


def _block_seed(seed: int, block: int) -> np.random.SeedSequence:
    """Block 0 draws from ``seed`` itself (so one block is ``generate_base``), block ``k``
    from child ``k`` of ``SeedSequence(seed)``."""
    if block == 0:
        return np.random.SeedSequence(seed)
    return np.random.SeedSequence(seed, spawn_key=(block,))


def _in_sorted(values: np.ndarray, sorted_values: np.ndarray) -> np.ndarray:
    """Which ``values`` are in the sorted array ``sorted_values``."""
    if not len(sorted_values):
        return np.zeros(len(values), dtype=bool)
    position = np.minimum(np.searchsorted(sorted_values, values), len(sorted_values) - 1)
    return sorted_values[position] == values


def _hashes(values) -> np.ndarray:
    return pd.util.hash_array(np.asarray(values, dtype=object))


class _GivenEmails:
    """The addresses given so far, as a sorted array of their 64-bit hashes.

    Two addresses with the same hash (a chance of about 1 in 15,000 that one pair does at
    50 million contacts) only make the later one take an extra number it did not need.
    """

    def __init__(self) -> None:
        self._given = np.empty(0, dtype=np.uint64)

    def claim(self, emails: pd.Series, rng: np.random.Generator) -> pd.Series:
        """``emails`` with every address given before (or twice here) made new; remembered."""
        values = emails.to_numpy(dtype=object, copy=True)
        hashes = _hashes(values)
        todo = np.flatnonzero(_in_sorted(hashes, self._given)
                              | pd.Series(hashes).duplicated().to_numpy())
        changed = len(todo) > 0
        while len(todo):
            # As generate_base does for homonyms: an extra number before the "@", again
            # on the same address until it is new (so the loop ends however common it is).
            local, _, domain = np.char.partition(values[todo].astype(str), "@").T
            extra = rng.integers(2, 1000, len(todo)).astype(str)
            values[todo] = np.char.add(np.char.add(local, extra),
                                       np.char.add("@", domain)).astype(object)
            hashes[todo] = _hashes(values[todo])
            others = np.sort(np.delete(hashes, todo))
            clash = (_in_sorted(hashes[todo], self._given) | _in_sorted(hashes[todo], others)
                     | pd.Series(hashes[todo]).duplicated().to_numpy())
            todo = todo[clash]
        new = np.sort(hashes)
        self._given = np.insert(self._given, np.searchsorted(self._given, new), new)
        if not changed:
            return emails
        return pd.Series(values, index=emails.index, dtype=emails.dtype, name=emails.name)


def _check_generation(n_contacts, seed, as_of, events_per_contact) -> None:
    _whole("n_contacts", n_contacts, minimum=1)
    _whole("seed", seed, minimum=0)
    if not isinstance(events_per_contact, (int, float, np.number)) or isinstance(
            events_per_contact, bool) or not events_per_contact >= 0:
        raise ParameterError(
            f"events_per_contact must be a number >= 0, got {events_per_contact!r}")
    try:
        pd.Timestamp(as_of)
    except (TypeError, ValueError) as error:
        raise ParameterError(f"as_of must be a date, got {as_of!r} ({error})") from error


def generate_blocks(n_contacts: int, *, seed: int = 0, as_of="2026-10-31",
                    events_per_contact: float = 20.0) -> Iterator[dict[str, pd.DataFrame]]:
    """The blocks of a generated base, one after the other, each a dict of three tables.

    Block ``k`` holds contacts ``k * BLOCK_CONTACTS + 1`` to ``(k + 1) * BLOCK_CONTACTS``
    (the last one fewer), their events and their orders, with the columns of
    :func:`~segexplore.datasets.generate.generate_base`. The module docstring says how the
    blocks make one base (seeds, ids, unique emails) and what is drawn per block.

    Parameters
    ----------
    n_contacts : int
        Contacts of the whole base (ids ``1..n_contacts``).
    seed : int
        Seed (>= 0): the same seed, ``n_contacts``, ``as_of`` and ``events_per_contact``
        give identical blocks.
    as_of, events_per_contact
        As for :func:`~segexplore.datasets.generate.generate_base`.

    Yields
    ------
    dict of str to DataFrame
        ``"contacts"``, ``"events"``, ``"orders"`` of one block. Only one block is held at
        a time (plus the hashes of the emails given so far).

    Raises
    ------
    ParameterError, ParameterTypeError
        When an argument is out of range or of the wrong type (raised at the call, before
        any block is generated).

    Examples
    --------
    >>> blocks = list(generate_blocks(1_000, seed=2))
    >>> len(blocks), len(blocks[0]["contacts"])
    (1, 1000)
    >>> one = generate_base(1_000, seed=2)
    >>> blocks[0]["events"].equals(one["events"])
    True
    """
    _check_generation(n_contacts, seed, as_of, events_per_contact)
    return _blocks(int(n_contacts), int(seed), as_of, events_per_contact)


def _blocks(n: int, seed: int, as_of, events_per_contact) -> Iterator[dict[str, pd.DataFrame]]:
    given = _GivenEmails()
    orders_before = 0
    for block, start in enumerate(range(0, n, BLOCK_CONTACTS)):
        size = min(BLOCK_CONTACTS, n - start)
        tables = generate_base(size, seed=_block_seed(seed, block), as_of=as_of,
                               events_per_contact=events_per_contact)
        if start:
            for name in TABLES:
                tables[name][col.CONTACT_ID] += start
        orders = tables["orders"]
        orders[col.ORDER_ID] += orders_before
        orders_before += len(orders)
        if n > BLOCK_CONTACTS:
            rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(block, 0)))
            emails = tables["contacts"][col.EMAIL]
            tables["contacts"][col.EMAIL] = given.claim(emails, rng)
            del emails
        yield tables
        del tables, orders  # before the next block is generated: one block at a time


class _Sink:
    """One output file, staged beside its target (invisible to ``*.parquet`` globs) until
    :meth:`close` returns it to be published."""

    def __init__(self, path: Path, file_format: str) -> None:
        self._format = file_format
        self._stack = contextlib.ExitStack()
        mode = "wb" if file_format == "parquet" else "w"
        self._handle, self.staged = self._stack.enter_context(staged_write(path, mode))
        self._writer: pq.ParquetWriter | None = None
        self._header = True

    def write(self, frame: pd.DataFrame) -> None:
        if self._format == "csv":
            frame.to_csv(self._handle, index=False, header=self._header)
            self._header = False
            return
        if self._writer is None:
            table = pa.Table.from_pandas(frame, preserve_index=False)
            self._writer = pq.ParquetWriter(self._handle, table.schema, compression="zstd")
        else:
            table = pa.Table.from_pandas(frame, preserve_index=False,
                                         schema=self._writer.schema)
        self._writer.write_table(table)

    def close(self) -> StagedFile:
        """Finish the file (complete on disk, not yet in place)."""
        if self._writer is not None:
            self._writer.close()
        self._stack.close()
        return self.staged

    def discard(self) -> None:
        with contextlib.suppress(Exception):
            if self._writer is not None:
                self._writer.close()
        with contextlib.suppress(Exception):
            self._stack.close()
        self.staged.discard()


class _Output:
    """Where each table goes: one file per table, or a folder of parts of ``chunk`` contacts."""

    def __init__(self, directory: Path, n: int, chunk: int | None, file_format: str) -> None:
        self.directory, self.chunk, self.format = directory, chunk, file_format
        self.extension = _FORMATS[file_format]
        self.parts = 1 if chunk is None else -(-n // chunk)
        self.width = max(5, len(str(self.parts - 1)))
        for table in TABLES:
            file, folder = self.directory / f"{table}{self.extension}", self.directory / table
            other = folder if chunk is None else file
            if other.exists():
                wanted = "one file" if chunk is None else "a folder of parts"
                raise ParameterError(
                    f"directory {str(directory)!r} already holds {other.name!r}: writing "
                    f"{table} as {wanted} beside it would leave two copies of the table; "
                    "remove it or write to another folder")

    def target(self, table: str) -> Path:
        if self.chunk is None:
            return self.directory / f"{table}{self.extension}"
        return self.directory / table

    def part_path(self, table: str, part: int) -> Path:
        if self.chunk is None:
            return self.target(table)
        return self.directory / table / f"part-{part:0{self.width}d}{self.extension}"

    def parts_of(self, first_id: int, last_id: int) -> range:
        """The parts contacts ``first_id..last_id`` fall in."""
        if self.chunk is None:
            return range(1)
        return range((first_id - 1) // self.chunk, (last_id - 1) // self.chunk + 1)

    def split(self, frame: pd.DataFrame) -> Iterator[tuple[int, pd.DataFrame]]:
        """``(part, rows of frame in it)`` for every part the frame's contacts fall in."""
        if self.chunk is None:
            yield 0, frame
            return
        part = (frame[col.CONTACT_ID].to_numpy() - 1) // self.chunk
        for p in np.unique(part):
            rows = np.flatnonzero(part == p)
            yield int(p), frame.iloc[rows].reset_index(drop=True)

    def remove_stale_parts(self) -> None:
        """Remove parts of an earlier, larger write that this one did not replace."""
        if self.chunk is None:
            return
        pattern = re.compile(rf"^part-(\d+){re.escape(self.extension)}$")
        for table in TABLES:
            for path in (self.directory / table).iterdir():
                found = pattern.match(path.name)
                if found and int(found.group(1)) >= self.parts and path.is_file():
                    path.unlink()


def write_base(directory, n_contacts: int, *, seed: int = 0, chunk_contacts: int | None = None,
               as_of="2026-10-31", events_per_contact: float = 20.0,
               file_format: str = "parquet",
               progress: Callable[[int, int, dict[str, int]], object] | None = None,
               ) -> dict[str, Path]:
    """Generate a base of any size and write it block by block, in bounded memory.

    The base is that of :func:`generate_blocks` (the module docstring says how blocks of
    :data:`BLOCK_CONTACTS` contacts make one base): the same for a seed whatever
    ``chunk_contacts`` and ``file_format``, and for ``n_contacts <= BLOCK_CONTACTS`` the
    same as :func:`~segexplore.datasets.generate.generate_base`. Memory stays about that
    of one block (~0.6 GB) plus 8 bytes a contact for the emails given so far.

    Parameters
    ----------
    directory : path
        Folder to write to (created if missing).
    n_contacts : int
        Contacts of the base (ids ``1..n_contacts``), at least 1.
    seed : int
        Seed (>= 0).
    chunk_contacts : int, optional
        ``None`` (the default): one file per table, ``contacts.parquet``,
        ``events.parquet``, ``orders.parquet`` (one row group per block at most a million
        rows each), as :func:`~segexplore.datasets.generate.write_sample` names them.
        A number: each table is a folder of parts, ``contacts/part-00000.parquet``...,
        part ``i`` holding contacts ``i * chunk_contacts + 1`` to ``(i + 1) *
        chunk_contacts`` with their events and orders (DuckDB reads
        ``'DIR/events/*.parquet'``). Parts left from an earlier, larger write are removed.
    as_of, events_per_contact
        As for :func:`~segexplore.datasets.generate.generate_base`.
    file_format : {"parquet", "csv"}
        Parquet (zstd) or UTF-8 CSV with a header in every file.
    progress : callable, optional
        Called after every block as ``progress(contacts_written, n_contacts, rows)``,
        ``rows`` the rows written so far per table.

    Returns
    -------
    dict of str to Path
        ``"contacts"``, ``"events"``, ``"orders"``: the file, or the folder of parts, of
        each table. Every file is written beside its place and renamed into it at the end,
        so an interrupted run leaves the files of the previous one (if any) as they were.

    Raises
    ------
    ParameterError, ParameterTypeError
        When an argument is out of range or of the wrong type, or the folder holds the
        table in the other layout (``contacts.parquet`` when writing folders, or a
        ``contacts`` folder when writing files).

    Examples
    --------
    >>> import tempfile
    >>> paths = write_base(tempfile.mkdtemp(), 1_500, seed=3, chunk_contacts=1_000)
    >>> sorted(p.name for p in paths["contacts"].iterdir())
    ['part-00000.parquet', 'part-00001.parquet']
    >>> len(pd.read_parquet(paths["contacts"]))
    1500
    """
    _check_generation(n_contacts, seed, as_of, events_per_contact)
    if chunk_contacts is not None:
        chunk_contacts = _whole("chunk_contacts", chunk_contacts, minimum=1)
    if file_format not in _FORMATS:
        raise ParameterError(f"file_format must be 'parquet' or 'csv', got {file_format!r}")
    if progress is not None and not callable(progress):
        raise ParameterTypeError(f"progress must be callable, got {progress!r}")
    n = int(n_contacts)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    output = _Output(directory, n, chunk_contacts, file_format)
    if chunk_contacts is not None:
        for table in TABLES:
            output.target(table).mkdir(exist_ok=True)

    rows = dict.fromkeys(TABLES, 0)
    sinks: dict[str, tuple[int, _Sink]] = {}  # the open file of each table, and its part
    done: list[StagedFile] = []
    written = 0
    try:
        for block in _blocks(n, int(seed), as_of, events_per_contact):
            ids = block["contacts"][col.CONTACT_ID]
            # Every part the block's contacts fall in gets a piece of every table, maybe
            # empty: a part file exists (with its header) even when it has no orders.
            parts = output.parts_of(int(ids.iloc[0]), int(ids.iloc[-1]))
            for table in TABLES:
                frame = block[table]
                pieces = dict(output.split(frame))
                for part in parts:
                    if table not in sinks or sinks[table][0] != part:
                        if table in sinks:
                            done.append(sinks.pop(table)[1].close())
                        sinks[table] = (part, _Sink(output.part_path(table, part), file_format))
                    sinks[table][1].write(pieces.get(part, frame.iloc[:0]))
                rows[table] += len(frame)
            written += len(ids)
            del block, frame, pieces, ids  # before the next block is generated
            if progress is not None:
                progress(written, n, dict(rows))
        for table in TABLES:
            done.append(sinks.pop(table)[1].close())
    except BaseException:
        for _, sink in sinks.values():
            sink.discard()
        for staged in done:
            staged.discard()
        raise
    for staged in done:
        staged.publish()
    output.remove_stale_parts()
    return {table: output.target(table) for table in TABLES}
