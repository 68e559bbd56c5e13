"""Write files atomically: readers see the old content or the new, never half a file.

This module owns :func:`atomic_write` (a context manager yielding the file object) and
:func:`atomic_write_bytes`, used by every writer of exports, catalogs and manifests, and
:func:`staged_write` for files that must appear together (an export and its manifest:
both are staged, then published, manifest last).
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from segexplore.errors import ParameterError

__all__ = ["StagedFile", "atomic_write", "atomic_write_bytes", "remove_stale_temporaries",
           "stage_bytes", "staged_write"]


#: Temporaries are named ``.<file>.<pid>.<random>.tmp``: the pid tells a later writer
#: whether the process that made one is gone (killed mid-write), so it can be removed.
_TEMPORARY = re.compile(r"^\.(?P<target>.+)\.(?P<pid>\d+)\.[A-Za-z0-9_]+\.tmp$")


class StagedFile:
    """A complete file written beside its target but not yet in place.

    Created by :func:`staged_write`; :meth:`publish` renames it over the target (so
    several staged files can be published in an order of the caller's choosing, e.g. a
    CSV before its manifest), :meth:`discard` removes it. The temporary is readable by
    its owner only (0600) until it is published.
    """

    def __init__(self, target: Path, temporary: Path) -> None:
        self.target = target
        self.temporary = temporary

    def publish(self) -> None:
        """Rename the staged file over its target, with the target's permissions."""
        _copy_permissions(self.target, str(self.temporary))
        os.replace(self.temporary, self.target)
        _fsync_folder(self.target.parent)

    def discard(self) -> None:
        """Remove the staged file (nothing happens to the target)."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.temporary)


@contextlib.contextmanager
def staged_write(path: str | os.PathLike[str], mode: str = "w", encoding: str | None = "utf-8",
                 newline: str | None = "") -> Iterator[tuple[IO[Any], StagedFile]]:
    """Write a private temporary beside ``path``; yields ``(handle, staged)``.

    When the block ends the file is flushed to disk and complete, but not in place: call
    ``staged.publish()``. On an exception inside the block the temporary is removed.
    Stale temporaries of this naming left in the folder by killed writers are removed
    first.

    Parameters
    ----------
    path : str or path
    mode : {"w", "wt", "wb"}
    encoding, newline : str, optional
        For text modes (``newline=""`` writes line ends as given, as the csv module wants).
    """
    if mode not in ("w", "wt", "wb"):
        raise ParameterError(f"atomic_write mode must be 'w', 'wt' or 'wb', not {mode!r}")
    target = Path(path)
    folder = target.parent
    remove_stale_temporaries(folder)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{target.name}.{os.getpid()}.",
                                             suffix=".tmp", dir=folder)  # mode 0600
    staged = StagedFile(target, Path(temporary))
    opened = False
    try:
        text_options = {} if "b" in mode else {"encoding": encoding, "newline": newline}
        with os.fdopen(descriptor, mode, **text_options) as handle:
            opened = True  # the handle owns the descriptor from now on
            yield handle, staged
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        if not opened:
            with contextlib.suppress(OSError):
                os.close(descriptor)
        staged.discard()
        raise


def stage_bytes(path: str | os.PathLike[str], data: bytes) -> StagedFile:
    """``data`` staged beside ``path`` (see :func:`staged_write`), not yet published."""
    with staged_write(path, "wb") as (handle, staged):
        handle.write(data)
    return staged


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str], mode: str = "w", encoding: str | None = "utf-8",
                 newline: str | None = "") -> Iterator[IO[Any]]:
    """Write a file all at once: readers see the old content or the new, never half.

    Writes to a temporary file in the same folder (readable by its owner only), flushes
    it to disk, then renames it over ``path``. On any exception the temporary file is
    removed and ``path`` is left as it was. The file keeps the permissions of the one it
    replaces.

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
    with staged_write(path, mode, encoding, newline) as (handle, staged):
        yield handle
    try:
        staged.publish()
    except BaseException:
        staged.discard()
        raise


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_write`)."""
    with atomic_write(path, "wb") as handle:
        handle.write(data)


def remove_stale_temporaries(folder: str | os.PathLike[str]) -> list[Path]:
    """Remove the temporaries of killed writers in ``folder``; returns what was removed.

    Only files of this module's naming whose writing process is gone are removed: a
    write under way in another live process keeps its temporary.
    """
    removed = []
    with contextlib.suppress(OSError):
        for entry in os.scandir(folder):
            match = _TEMPORARY.match(entry.name)
            if match is None or _process_alive(int(match["pid"])):
                continue
            with contextlib.suppress(FileNotFoundError):
                os.unlink(entry.path)
                removed.append(Path(entry.path))
    return removed


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    except OSError:
        return True  # cannot tell: keep the file
    return True


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
