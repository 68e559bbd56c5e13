"""Debouncing: run a callback once, shortly after the last of a burst of calls.

A burst of changes (clicking through values, dragging a slider) should not redraw the
builder's charts once per change: :class:`Debouncer` waits ``delay`` seconds of quiet
before calling. (The segment's size is not debounced: it is shown at once.)
Inside a running asyncio loop (the Jupyter/Voilà kernel) the call is scheduled on that loop,
so it runs on the kernel's thread like every other widget callback; elsewhere a
:class:`threading.Timer` is used. ``delay=0`` calls at once (tests use it).

Examples
--------
>>> calls = []
>>> now = Debouncer(0, lambda: calls.append(1))
>>> now(); now()
>>> calls
[1, 1]
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["Debouncer"]


class Debouncer:
    """Call ``callback`` once ``delay`` seconds after the latest call to this object.

    Parameters
    ----------
    delay : float
        Seconds of quiet to wait; 0 or less calls synchronously.
    callback : callable
        Called without arguments.
    """

    def __init__(self, delay: float, callback: Callable[[], Any]) -> None:
        self.delay = float(delay)
        self.callback = callback
        self._pending: Any = None
        self._lock = threading.Lock()

    def __call__(self) -> None:
        if self.delay <= 0:
            self.callback()
            return
        with self._lock:
            self._cancel_pending()
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                timer = threading.Timer(self.delay, self._fire)
                timer.daemon = True
                timer.start()
                self._pending = timer
            else:
                self._pending = loop.call_later(self.delay, self._fire)

    @property
    def pending(self) -> bool:
        """True while a call is scheduled."""
        return self._pending is not None

    def flush(self) -> None:
        """Run a scheduled call now (nothing happens when none is scheduled)."""
        with self._lock:
            was_pending = self._pending is not None
            self._cancel_pending()
        if was_pending:
            self.callback()

    def cancel(self) -> None:
        """Drop a scheduled call."""
        with self._lock:
            self._cancel_pending()

    def _cancel_pending(self) -> None:
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None

    def _fire(self) -> None:
        with self._lock:
            self._pending = None
        self.callback()


class Quiet:
    """Mixin: ``with self._quietly():`` marks changes made by code, not by the analyst,
    so observers that check ``self._quiet`` do not react to them (nesting is allowed)."""

    _quiet = 0

    @contextmanager
    def _quietly(self) -> Iterator[None]:
        self._quiet += 1
        try:
            yield
        finally:
            self._quiet -= 1
