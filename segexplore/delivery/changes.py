"""Who entered and who left each segment at each refresh: the changes file
:func:`segexplore.delivery.refresh.refresh` appends to beside its size history, read back
by :func:`read_changes` and :meth:`Catalog.changes
<segexplore.delivery.catalog.Catalog.changes>`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from segexplore.errors import FileFormatError

__all__ = ["CHANGE_COLUMNS", "changes_path", "read_changes"]

#: Columns of the changes file: who entered and who left, at each run.
CHANGE_COLUMNS = ["date", "run_at", "segment", "change", "contact_id"]


def changes_path(history_path: Any) -> Path:
    """Where :func:`~segexplore.delivery.refresh.refresh` keeps who entered and left each segment, beside its history:
    ``<history stem>.changes.parquet``."""
    history_path = Path(history_path)
    return history_path.with_name(history_path.stem + ".changes.parquet")


def _no_changes() -> pd.DataFrame:
    return pd.DataFrame({"date": pd.Series(dtype="datetime64[ns]"),
                         **{c: pd.Series(dtype="str") for c in CHANGE_COLUMNS[1:]}})


def read_changes(history_path: Any, segment: str | None = None, *, since: Any = None
                 ) -> pd.DataFrame:
    """Who entered and who left each segment at each
    :func:`~segexplore.delivery.refresh.refresh` run after its first.

    Parameters
    ----------
    history_path : str or path
        The size history given to ``refresh``; the changes are beside it
        (:func:`changes_path`).
    segment : str, optional
        One segment's changes; default: every segment's.
    since : date-like, optional
        Only the runs whose data date (``date``: the base's ``as_of``) is on or after it.

    Returns
    -------
    DataFrame
        ``date, run_at, segment, change`` (``"entered"`` or ``"left"``) and ``contact_id``
        (as text, as the members are kept), oldest run first, then by change and id.

    Examples
    --------
    >>> import segexplore as se, tempfile, pathlib
    >>> from segexplore.delivery.catalog import Catalog
    >>> from segexplore.delivery.refresh import refresh
    >>> catalog = Catalog()
    >>> _ = catalog.add("Buyers", "count(purchase, last 90 days) >= 1")
    >>> history = pathlib.Path(tempfile.mkdtemp()) / "history.csv"
    >>> base = se.load_sample()
    >>> _ = refresh(catalog, base.at("2026-06-30"), history_path=history)
    >>> report = refresh(catalog, base, history_path=history)
    >>> moved = read_changes(history, "Buyers")
    >>> moved["change"].value_counts().to_dict() == {
    ...     "entered": int(report["entered"].iloc[0]), "left": int(report["left"].iloc[0])}
    True
    """
    path = changes_path(history_path)
    if not path.exists():
        return _no_changes()
    try:
        frame = pd.read_parquet(path)
    except (ValueError, OSError) as error:
        raise FileFormatError(f"{path}: cannot read the segment changes ({error})",
                              path=path) from None
    missing = [c for c in CHANGE_COLUMNS if c not in frame.columns]
    if missing:
        raise FileFormatError(f"{path}: not a segexplore changes file (missing columns "
                              f"{missing})", path=path)
    frame["date"] = pd.to_datetime(frame["date"])
    if segment is not None:
        frame = frame[frame["segment"] == segment]
    if since is not None:
        frame = frame[frame["date"] >= pd.Timestamp(since)]
    return frame[CHANGE_COLUMNS].reset_index(drop=True)
