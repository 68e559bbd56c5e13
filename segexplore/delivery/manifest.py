"""The manifest beside every export: what data it was computed from, and its checksum.

:func:`data_fingerprint` identifies the tables of a base, and :func:`verify_export` checks a
file against its ``<file>.manifest.json`` (see ``docs/export.md``).
"""

from __future__ import annotations

import hashlib
import json
import weakref
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from segexplore.errors import ExportError

if TYPE_CHECKING:
    from segexplore.model.base import ContactBase
    from segexplore.model.segments import Segment

__all__ = ["MANIFEST_SCHEMA", "data_fingerprint", "verify_export"]



MANIFEST_SCHEMA = "segexplore.export/1"


def _hash_frame(frame: pd.DataFrame | None) -> dict[str, Any] | None:
    if frame is None:
        return None
    digest = hashlib.sha256()
    digest.update(json.dumps([[str(c), str(t)] for c, t in frame.dtypes.items()]).encode())
    try:
        hashed = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    except TypeError:  # unhashable cells (lists): hash their text instead
        hashed = pd.util.hash_pandas_object(frame.astype("str"), index=False).to_numpy()
    digest.update(hashed.tobytes())
    return {"rows": len(frame), "columns": frame.shape[1], "sha256": digest.hexdigest()}


#: An engine's fingerprints by its shared tables (a DuckDB base's store), then by tables'
#: version and date: hashing every row of 200M events takes a while, and the tables of such
#: a base never change (a new version if they ever do), so exporting ten segments, or the
#: same one twice, hashes them once. Weak: a base let go drops its entry.
_ENGINE_FINGERPRINTS: weakref.WeakKeyDictionary[Any, dict[tuple[int, str], dict[str, Any]]] = \
    weakref.WeakKeyDictionary()


def data_fingerprint(base: ContactBase) -> dict[str, Any]:
    """A fingerprint of the data an export was computed from: rows and sha256 per table.

    Each table is hashed row by row with ``pandas.util.hash_pandas_object(index=False)``
    (values and column order, not the index) and the row hashes, column names and dtypes
    go through sha256; ``sha256`` combines the three tables and ``as_of``. Cached per
    table object, so exporting ten segments hashes the data once. A base of another engine
    hashes its own tables (``base.fingerprint()``), once per base and date.

    Examples
    --------
    >>> import segexplore as se
    >>> base = se.load_sample()
    >>> fingerprint = data_fingerprint(base)
    >>> fingerprint["contacts"]["rows"] == len(base.contacts)
    True
    >>> len(fingerprint["sha256"])
    64
    """
    if base.engine != "pandas":  # the engine hashes its own tables, once per base and date
        held = _ENGINE_FINGERPRINTS.setdefault(base._tables, {})
        key = (getattr(base._tables, "version", 0), str(base.as_of))
        if key not in held:
            held[key] = base.fingerprint()
        return held[key]
    tables = {"contacts": base.contacts, "events": base.events, "orders": base.orders}
    cache = base.derived("fingerprints", dict)
    out: dict[str, Any] = {"method": "sha256 over pandas.util.hash_pandas_object(index=False), "
                                     "column names and dtypes, per table"}
    combined = hashlib.sha256()
    for name, table in tables.items():
        held = cache.get(name)
        if held is None or held[0] is not table:
            held = cache[name] = (table, _hash_frame(table))
        out[name] = held[1]
        combined.update(json.dumps(held[1]).encode())
    combined.update(str(base.as_of).encode())
    out["sha256"] = combined.hexdigest()
    return out


def _utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def _segment_info(segment: Segment) -> dict[str, Any]:
    return {"name": segment.name, "description": segment.description,
            "rule": segment.text, "rule_json": segment.rule.to_dict(),
            "effective_rule": str(segment.effective_rule),
            "parent": segment.parent.name if segment.parent is not None else None}


def _manifest_path(path: Path) -> Path:
    return path.with_name(path.name + ".manifest.json")


def verify_export(path: Any) -> dict[str, Any]:
    """Check a file against its manifest (checksum and row count); return the manifest.

    Raises
    ------
    ExportError
        The manifest is missing, or the file changed since it was written.
    """
    path = Path(path)
    manifest_path = _manifest_path(path)
    if not manifest_path.exists():
        raise ExportError(f"{path}: no manifest {manifest_path.name} beside the file: an "
                          "unfinished export (interrupted before its manifest was written) "
                          "or not an export of segexplore")
    info = json.loads(manifest_path.read_text(encoding="utf-8"))
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != info.get("sha256"):
        raise ExportError(f"{path}: the file does not match its manifest (sha256 differs): "
                          "an unfinished export (interrupted before its manifest was "
                          "written), or it was changed or replaced after the export")
    return info
