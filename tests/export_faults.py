"""Faults for export tests: a csv writer that fails half way, a child killed half way."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path


def failing_writer(after: int, before_failing: Callable[[], None] | None = None):
    """A ``csv.writer`` factory whose writers raise ``RuntimeError("disk full")`` once
    ``after`` rows are written (``before_failing`` is called first)."""
    def factory(handle, **options):
        real = csv.writer(handle, **options)

        class Writer:
            written = 0

            def writerow(self, row):
                if Writer.written == after:
                    if before_failing is not None:
                        before_failing()
                    raise RuntimeError("disk full")
                Writer.written += 1
                return real.writerow(row)

        return Writer()

    return factory


def stop_mid_write(after_rows: int, flag: Path) -> None:
    """Make every export's CSV writer stop dead after ``after_rows`` rows (the file flushed,
    ``flag`` touched, then a long sleep): run in a child its parent kills right there."""
    from segexplore.delivery import csv as ecsv

    real = ecsv._row_writer

    def writer(handle, **options):
        inner = real(handle, **options)

        class Writer:
            rows = 0

            def writerow(self, row):
                Writer.rows += 1
                if Writer.rows == after_rows:
                    handle.flush()
                    flag.touch()
                    time.sleep(600)
                inner.writerow(row)

        return Writer()

    ecsv._row_writer = writer


def kill_when_flagged(program: str, args: list[str], flag: Path) -> None:
    """Run ``python -c program *args`` and SIGKILL it as soon as it creates ``flag``
    (from this folder, so that the program can import this module)."""
    child = subprocess.Popen([sys.executable, "-c", program, *args],
                             cwd=Path(__file__).parent)
    try:
        deadline = time.monotonic() + 120
        while not flag.exists():
            assert child.poll() is None, f"the exporting child ended early ({child.returncode})"
            assert time.monotonic() < deadline, "the exporting child never reached its stop"
            time.sleep(0.05)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.wait()
