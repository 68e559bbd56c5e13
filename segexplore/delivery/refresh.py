"""Refresh a catalog on new data: re-evaluate its segments, record how each one moved.

:func:`refresh` appends one row per segment to a size history (size, who entered, who
left, Jaccard similarity with the previous run) and keeps the members of the last run
beside it; :func:`read_history` reads it back. The history is written under the same lock
as the catalog (:func:`~segexplore.delivery.catalog.lock_path`), so concurrent refreshes
never lose a run.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from segexplore.delivery.catalog import Catalog, _locked, _now
from segexplore.delivery.changes import CHANGE_COLUMNS, changes_path, read_changes
from segexplore.delivery.export import export_segments
from segexplore.delivery.lists import member_ids
from segexplore.errors import FileFormatError
from segexplore.io.atomic import atomic_write

if TYPE_CHECKING:
    from segexplore.model.base import ContactBase
    from segexplore.model.segments import Segment

__all__ = ["refresh", "read_history", "default_history_path", "HISTORY_COLUMNS"]


#: Columns of the size history file written by :func:`refresh`.
HISTORY_COLUMNS = ["date", "run_at", "segment", "size", "entered", "left", "jaccard"]


def default_history_path(catalog_path: Any) -> Path:
    """Where ``segexplore refresh`` keeps a catalog's size history unless told otherwise:
    beside the catalog, ``CATALOG.history.csv``.

    Examples
    --------
    >>> default_history_path("/srv/segments.yaml").as_posix()
    '/srv/segments.history.csv'
    """
    return Path(catalog_path).with_suffix(".history.csv")


def _members_path(history_path: Path) -> Path:
    return history_path.with_name(history_path.stem + ".members.parquet")


def _is_parquet(path: Path) -> bool:
    return path.suffix.lower() in (".parquet", ".pq")


def read_history(path: Any) -> pd.DataFrame:
    """The size history written by :func:`refresh` (CSV or Parquet), oldest run first."""
    path = Path(path)
    if not path.exists():
        return pd.DataFrame({c: pd.Series(dtype="object") for c in HISTORY_COLUMNS})
    try:
        frame = (pd.read_parquet(path) if _is_parquet(path)
                 else pd.read_csv(path, dtype={"segment": "str", "run_at": "str"}))
    except (ValueError, OSError) as error:
        raise FileFormatError(f"{path}: cannot read the size history ({error})",
                              path=path) from None
    missing = [c for c in HISTORY_COLUMNS if c not in frame.columns]
    if missing:
        raise FileFormatError(f"{path}: not a segexplore size history (missing columns "
                              f"{missing})", path=path)
    frame["date"] = pd.to_datetime(frame["date"])
    for column in ("entered", "left"):
        frame[column] = frame[column].astype("Int64")
    return frame


def _write_frame(frame: pd.DataFrame, path: Path) -> None:
    if _is_parquet(path):
        with atomic_write(path, "wb") as handle:
            frame.to_parquet(handle, index=False)
    else:
        with atomic_write(path, "w", encoding="utf-8", newline="") as handle:
            frame.to_csv(handle, index=False, lineterminator="\n")


def _append_run(segments: Mapping[str, Segment], base: ContactBase, history_path: Path,
                members_path: Path) -> pd.DataFrame:
    """Append one run's rows to the history and its changes, and replace its members
    (under the lock).

    Returns the new rows with ``previous_size``. ``run_at`` is taken here, so the runs
    in the file are in the order they were written.
    """
    history = read_history(history_path)
    members = (pd.read_parquet(members_path) if members_path.exists()
               else pd.DataFrame({"segment": [], "run_at": [], "contact_id": []}))
    run_at = _now()
    rows, snapshots, moves = [], [], []
    for name, segment in segments.items():
        ids = member_ids(base, segment).astype("str")
        current = set(ids)
        past = history[history["segment"] == name]
        row: dict[str, Any] = {"date": base.as_of, "run_at": run_at, "segment": name,
                               "size": len(current), "entered": pd.NA, "left": pd.NA,
                               "jaccard": np.nan}
        previous_size = int(past["size"].iloc[-1]) if len(past) else None
        snapshot = members[members["segment"] == name]
        if len(past) and (len(snapshot) == 0 and previous_size == 0
                          or len(snapshot) and snapshot["run_at"].iloc[0]
                          == past["run_at"].iloc[-1]):
            before = set(snapshot["contact_id"])
            union = len(current | before)
            row.update(entered=len(current - before), left=len(before - current),
                       jaccard=len(current & before) / union if union else 1.0)
            for change, ids_moved in (("entered", current - before),
                                      ("left", before - current)):
                moves.append(pd.DataFrame({"date": base.as_of, "run_at": run_at,
                                           "segment": name, "change": change,
                                           "contact_id": sorted(ids_moved)},
                                          columns=CHANGE_COLUMNS))
        rows.append({**row, "previous_size": previous_size})
        snapshots.append(pd.DataFrame({"segment": name, "run_at": run_at,
                                       "contact_id": ids.to_numpy()}))
    kept_members = members[~members["segment"].isin(list(segments))]
    report = pd.DataFrame(rows)
    new_history = report[HISTORY_COLUMNS].astype({"entered": "Int64", "left": "Int64"})
    combined = new_history if not len(history) else pd.concat([history, new_history],
                                                              ignore_index=True)
    _write_frame(combined, history_path)
    snapshot_frame = pd.concat([kept_members.astype("str"), *snapshots], ignore_index=True)
    _write_frame(snapshot_frame.astype("str"), members_path)
    if moves:
        changes = pd.concat([read_changes(history_path), *moves], ignore_index=True)
        _write_frame(changes.astype({c: "str" for c in CHANGE_COLUMNS[1:]}),
                     changes_path(history_path))
    return report


def refresh(catalog: Catalog, base: ContactBase, *, history_path: Any,
            export_dir: Any = None, jump_threshold: float = 0.2, **export_options: Any,
            ) -> pd.DataFrame:
    """Re-evaluate every catalog segment on ``base`` and record how each one moved.

    Appends one row per segment to the size history (``date`` = ``base.as_of``,
    ``run_at``, ``segment, size, entered, left, jaccard``; CSV, or Parquet when the path
    ends in ``.parquet``). Who was in each segment is kept next to it
    (``<history>.members.parquet``, the last run only) to count who entered and left,
    and who they were is appended to ``<history>.changes.parquet`` (:func:`read_changes`,
    :meth:`Catalog.changes <segexplore.delivery.catalog.Catalog.changes>`). On a
    segment's first run ``entered``, ``left`` and ``jaccard`` are missing.
    Refreshes writing one history at once each keep their rows: both files are re-read
    and rewritten under the lock file ``<history>.lock`` (waiting :data:`LOCK_TIMEOUT`
    seconds at most, then :class:`~segexplore.errors.LockTimeoutError`).

    Parameters
    ----------
    catalog : Catalog
    base : ContactBase
    history_path : str or path
    export_dir : str or path, optional
        Also export the segments there (:func:`~segexplore.delivery.export.export_segments`,
        with ``export_options``).
    jump_threshold : float, default 0.2
        Flag segments whose size changed by more than this share since the last run.

    Returns
    -------
    DataFrame
        One row per segment: ``segment, date, size, previous_size, change, entered, left,
        jaccard, jump`` (and ``file`` when exporting); ``attrs["jumps"]`` lists the
        flagged names.

    Examples
    --------
    >>> import segexplore as se, tempfile, pathlib
    >>> catalog = Catalog()
    >>> _ = catalog.add("Lyon", 'city = "Lyon"')
    >>> history = pathlib.Path(tempfile.mkdtemp()) / "history.csv"
    >>> base = se.load_sample()
    >>> first = refresh(catalog, base, history_path=history)
    >>> second = refresh(catalog, base, history_path=history)
    >>> float(second["jaccard"].iloc[0]), int(second["entered"].iloc[0])
    (1.0, 0)
    """
    history_path = Path(history_path)
    members_path = _members_path(history_path)
    segments = catalog.apply(base)  # the slow part, done before taking the lock
    with _locked(history_path):
        # Re-read under the lock: another refresh may have appended while this one was
        # evaluating, and the history and members are rewritten whole.
        report = _append_run(segments, base, history_path, members_path)
    previous = report["previous_size"].astype("float").to_numpy()
    size = report["size"].astype("float").to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):  # 0 -> n is an infinite change
        change = np.where(previous > 0, (size - previous) / previous,
                          np.where(size > 0, np.inf, 0.0))
    report["change"] = np.where(np.isnan(previous), np.nan, change)
    report["jump"] = (report["change"].abs() > jump_threshold).fillna(False).astype(bool)
    report["previous_size"] = report["previous_size"].astype("Int64")
    report = report[["segment", "date", "size", "previous_size", "change", "entered", "left",
                     "jaccard", "jump"]].astype({"entered": "Int64", "left": "Int64"})
    if export_dir is not None:
        results = export_segments(list(segments.values()), export_dir, **export_options)
        report["file"] = [str(results[n].path) for n in report["segment"]]
    report.attrs["jumps"] = report.loc[report["jump"], "segment"].tolist()
    report.attrs["history_path"] = str(history_path)
    return report
