"""Lists and dicts in a cell (Parquet ``list<string>`` or struct columns): flat lists become
a multi-valued column in the canonical ``a|b`` form, dicts and nested lists JSON text with
sorted keys (:func:`flatten_nested`)."""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd

from segexplore.errors import SchemaError
from segexplore.model.columns import MULTI_VALUE_SEPARATOR

__all__ = ["flatten_nested", "NestedColumns", "SINGLE_VALUE_COLUMNS"]

#: Columns that hold one value per row: a list there is an error, not something to flatten.
SINGLE_VALUE_COLUMNS = ("contact_id", "email", "order_id", "timestamp", "event_type",
                        "amount", "items", "discount")


_CONTAINERS = (list, tuple, set, frozenset, np.ndarray, dict)


# infer_dtype answers for object columns that cannot hold a list or a dict.
_SCALAR_KINDS = frozenset({"string", "bytes", "integer", "floating", "decimal", "boolean",
                           "datetime", "datetime64", "date", "time", "timedelta",
                           "timedelta64", "period", "interval", "complex", "empty",
                           "mixed-integer-float"})





@dataclass
class NestedColumns:
    """What :func:`flatten_nested` did: the converted columns and a report step for each."""

    tags: list[str]   # list cells joined into the canonical ``a|b`` multi-valued form
    json: list[str]   # dict (or nested list) cells written as JSON text
    steps: list[tuple[str, int, str]]


def _is_missing(value: object) -> bool:
    return value is None or value is pd.NA or value is pd.NaT or (
        isinstance(value, float) and np.isnan(value))


def _json_default(value: object) -> object:
    """What json cannot write itself: numpy values and arrays, timestamps, bytes."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if hasattr(value, "isoformat"):  # datetime, date, Timestamp
        return value.isoformat()
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=str)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _as_json(value: object) -> str | None:
    if _is_missing(value):
        return None
    if isinstance(value, str):
        return value
    if not isinstance(value, _CONTAINERS):
        return str(value)
    if isinstance(value, np.ndarray):
        value = value.tolist()
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=_json_default)


def _as_tags(value: object) -> str | None:
    """``["sport", "running", "sport"]`` -> ``"running|sport"`` (a lone string is one tag)."""
    if _is_missing(value):
        return None
    items = [value] if not isinstance(value, _CONTAINERS) else list(value)
    tags = sorted({str(item).strip() for item in items if not _is_missing(item)} - {""})
    return MULTI_VALUE_SEPARATOR.join(tags) if tags else None


def _nested_kind(values: pd.Series) -> tuple[str | None, list]:
    """``("tags" | "json" | None, python values)`` of a column that may hold lists or dicts."""
    dtype = values.dtype
    if isinstance(dtype, pd.ArrowDtype):
        import pyarrow as pa

        if not pa.types.is_nested(dtype.pyarrow_dtype):
            return None, []
        items = values.tolist()  # arrow lists and structs as Python lists and dicts
    elif pd.api.types.is_object_dtype(dtype):
        if pd.api.types.infer_dtype(values, skipna=True) in _SCALAR_KINDS:
            return None, []  # one C pass; the Python loop below runs on odd columns only
        items = values.tolist()
    else:
        return None, []
    containers = [v for v in items if isinstance(v, _CONTAINERS)]
    if not containers:
        return None, []
    flat = all(not isinstance(v, dict) and not any(isinstance(i, _CONTAINERS) for i in v)
               for v in containers)
    return ("tags" if flat else "json"), items


def flatten_nested(frame: pd.DataFrame, *, file: str, table: str
                   ) -> tuple[pd.DataFrame, NestedColumns]:
    """Columns of lists or dicts (Parquet ``list<string>``, structs) as text; not mutated.

    A column whose cells are flat lists becomes a multi-valued column in the canonical form
    (``["sport", "running"]`` -> ``"running|sport"``, like ``interests``), so ``has any``
    rules work on it. Dicts and nested lists become JSON text (keys sorted). Either way a
    report step names the file and column. Lists in a column that holds one value per row
    (``contact_id``, ``email``, ``timestamp``, ``amount``...) are a :class:`SchemaError`.

    Examples
    --------
    >>> frame = pd.DataFrame({"contact_id": [1, 2], "tags": [["b", "a"], None],
    ...                       "meta": [{"k": 1}, {"k": 2}]})
    >>> flat, done = flatten_nested(frame, file="c.parquet", table="contacts")
    >>> flat["tags"].tolist(), flat["meta"].tolist(), done.tags, done.json
    (['a|b', None], ['{"k": 1}', '{"k": 2}'], ['tags'], ['meta'])
    """
    converted: dict[str, pd.Series] = {}
    done = NestedColumns([], [], [])
    for column in frame.columns:
        kind, items = _nested_kind(frame[column])
        if kind is None:
            continue
        example = next(v for v in items if isinstance(v, _CONTAINERS))
        shown = _as_json(example)
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        if str(column) in SINGLE_VALUE_COLUMNS:
            raise SchemaError(
                f"{file}: column {str(column)!r} of the {table} holds lists or records "
                f"(e.g. {shown}); expected one value per row")
        convert = _as_tags if kind == "tags" else _as_json
        values = pd.Series([convert(v) for v in items], index=frame.index, dtype=object)
        converted[column] = values
        filled = int(values.notna().sum())
        if kind == "tags":
            done.tags.append(str(column))
            done.steps.append(("list values joined as tags", filled,
                               f"{column} in {file}: lists such as {shown} -> "
                               f"{_as_tags(example)!r} (multi-valued, use 'has any')"))
        else:
            done.json.append(str(column))
            done.steps.append(("nested values kept as JSON text", filled,
                               f"{column} in {file}: records such as {shown} kept as text"))
    if not converted:
        return frame, done
    flat = frame.copy(deep=False)  # copy-on-write: the caller's frame stays as it was
    for column, values in converted.items():
        flat[column] = values
    return flat, done
