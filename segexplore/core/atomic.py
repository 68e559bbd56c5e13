"""Write files atomically: readers see the old content or the new, never half a file.

This module owns :func:`atomic_write` (a context manager yielding the file object) and
:func:`atomic_write_bytes`, used by every writer of exports, catalogs and manifests.
:mod:`segexplore.core.io` re-exports both.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

__all__ = ["atomic_write", "atomic_write_bytes"]


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str], mode: str = "w", encoding: str | None = "utf-8",
                 newline: str | None = "") -> Iterator[IO[Any]]:
    """Write a file all at once: readers see the old content or the new, never half.

    Writes to a temporary file in the same folder, flushes it to disk, then renames it
    over ``path``. On any exception the temporary file is removed and ``path`` is left
    as it was. The file keeps the permissions of the one it replaces.

    Parameters
    ----------
    path : str or path
    mode : {"w", "wt", "wb"}
    encoding, newline : str, optional
        For text modes (``newline=""`` writes line ends as given, as the csv module wants).

    Yields
    ------
    file object
    """
    if mode not in ("w", "wt", "wb"):
        raise ValueError(f"atomic_write mode must be 'w', 'wt' or 'wb', not {mode!r}")
    target = Path(path)
    folder = target.parent
    descriptor, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp",
                                             dir=folder)
    opened = False
    try:
        text_options = {} if "b" in mode else {"encoding": encoding, "newline": newline}
        with os.fdopen(descriptor, mode, **text_options) as handle:
            opened = True  # the handle owns the descriptor from now on
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        _copy_permissions(target, temporary)
        os.replace(temporary, target)
    except BaseException:
        if not opened:
            with contextlib.suppress(OSError):
                os.close(descriptor)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    _fsync_folder(folder)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_write`)."""
    with atomic_write(path, "wb") as handle:
        handle.write(data)


def _copy_permissions(target: Path, temporary: str) -> None:
    """mkstemp creates 0600 files: give the new file the old one's mode, or the default."""
    try:
        mode = target.stat().st_mode & 0o7777
    except FileNotFoundError:
        mode = 0o666 & ~_current_umask()
    with contextlib.suppress(OSError):
        os.chmod(temporary, mode)


def _current_umask() -> int:
    try:  # Linux shows it without changing it (os.umask would, for every thread)
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable (POSIX); a no-op where folders cannot be opened."""
    with contextlib.suppress(OSError, AttributeError):
        descriptor = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
