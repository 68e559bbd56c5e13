"""A progress bar over a file being read (tqdm, for files above
:data:`~segexplore.io.read.PROGRESS_MIN_BYTES` unless ``progress=`` says otherwise)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import IO


@contextlib.contextmanager
def _progress_monitor(handle: IO[bytes], total: int, description: str) -> Iterator[None]:
    """Show a byte progress bar by polling ``handle.tell()`` from a thread.

    pandas keeps parsing in one call (same speed and type inference as without a bar);
    tqdm is imported here only, so importing this module never pulls in widgets.
    """
    from tqdm.auto import tqdm

    bar = tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=description)
    stop = threading.Event()

    def poll() -> None:
        while not stop.wait(0.2):
            try:
                position = handle.tell()
            except (OSError, ValueError):  # closed under our feet: the read is over
                return
            bar.update(max(0, position - bar.n))

    thread = threading.Thread(target=poll, name="segexplore-progress", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        bar.update(max(0, total - bar.n))
        bar.close()
