"""``read_base``: from files or DataFrames to a clean, validated :class:`ContactBase`."""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from segexplore.errors import ParameterError, SchemaError, ValidationError, closest_name
from segexplore.io.clean.activity import clean_activity
from segexplore.io.clean.contacts import clean_contacts
from segexplore.io.clean.nested import NestedColumns, flatten_nested
from segexplore.io.parsing import DEFAULT_TZ
from segexplore.io.read import read_table
from segexplore.io.schema import map_columns
from segexplore.model import hooks
from segexplore.model.base import ContactBase
from segexplore.model.columns import MULTI_VALUE_SEPARATOR
from segexplore.model.report import CleanReport, FileRows, ProblemLog
from segexplore.model.roles import infer_roles

__all__ = ["read_base"]

TABLES = ("contacts", "events", "orders")
_PROGRESS_BYTES = 50 * 2**20


def _per_table(option: Any, table: str) -> Any:
    """An option given once for all tables, or as ``{table: value}``."""
    if isinstance(option, Mapping) and set(option) <= set(TABLES):
        return option.get(table)
    return option


def _source_name(source: Any, table: str) -> str:
    if isinstance(source, (str, os.PathLike)):
        return Path(source).name
    return f"<{table} DataFrame>"


def _row_labels(source: Any, frame: pd.DataFrame, header: bool = True) -> np.ndarray:
    """How a row is named in messages: its line in the file (header = 1), or its index label."""
    if isinstance(source, pd.DataFrame):
        return np.asarray(source.index, dtype=object)
    return FileRows(len(frame), first=2 if header else 1)


def read_base(
    contacts: str | os.PathLike | pd.DataFrame,
    events: str | os.PathLike | pd.DataFrame | None = None,
    orders: str | os.PathLike | pd.DataFrame | None = None,
    *,
    columns: Mapping[str, Any] | None = None,
    roles: Mapping[str, str] | None = None,
    separators: Mapping[str, str] | None = None,
    sep: Any = None,
    encoding: Any = None,
    decimal: Any = None,
    dayfirst: Any = None,
    sheet_name: Any = None,
    names: Any = None,
    tz: str = DEFAULT_TZ,
    clean: bool | None = None,
    strict: bool = False,
    as_of: Any = None,
    now: Any = None,
    progress: bool | None = None,
    engine: str = "pandas",
    database: Any = None,
    memory_limit: str | None = None,
    threads: int | None = None,
) -> ContactBase:
    """Load a contact base from files or DataFrames, validate it and clean it.

    Parameters
    ----------
    contacts, events, orders : path or DataFrame
        CSV (separator, encoding, decimal comma and day-first dates are detected), Parquet
        or Excel files, or DataFrames. ``events`` and ``orders`` are optional.
    columns : dict, optional
        Column mapping ``{name in the file: canonical name}``, either one for all tables
        (each table takes the names it has, e.g. ``{"dollar_value": "amount"}`` for the
        orders; a name no table has is an error) or per table:
        ``{"events": {"Type d'action": "event_type"}}``.
    roles : dict, optional
        Override the inferred role of contact columns, e.g. ``{"segment_client":
        "categorical"}``. See :data:`segexplore.model.roles.ROLES`.
    separators : dict, optional
        Separator of multi-valued contact columns, e.g. ``{"interests": ";"}``.
    sep, encoding, decimal, dayfirst, sheet_name : optional
        Override what is detected, once for all tables or per table (``{"contacts": ";"}``).
    names : list of str, or dict of lists, optional
        Column names of a CSV file without header line, usually per table:
        ``names={"orders": ["customer_id", "date", "number_of_cds", "dollar_value"]}``
        (lines are then numbered from 1 for the first data line).
    tz : str, default "UTC"
        Zone of every timestamp of the base. Dates carrying a zone (time-zone-aware
        Parquet or DataFrame columns, ISO text with an offset such as ``+02:00`` or
        ``Z``, Unix times) are converted to it, then stored without zone; dates
        without one are taken as written in it. The read notes say what was converted.
    clean : bool, optional
        Normalise, validate and de-duplicate. ``False`` only maps column names and parses
        dates. Default: True with the pandas engine; with ``engine="duckdb"`` False (the
        files are read as they are: cleaning 10 million contacts in SQL takes minutes, so
        it is asked for, ``clean=True``, and done once into a ``database=`` file).
    strict : bool, default False
        Raise :class:`~segexplore.errors.ValidationError` (with every problem in
        ``failure_cases``) instead of reporting problems and keeping rejects.
    as_of : date-like, optional
        The date windows are measured from. Default: the latest event or order time.
    now : date-like, optional
        Dates after ``now`` are in the future (default: the current time).
    progress : bool, optional
        Show a progress bar; by default only when inputs are large.
    engine : {"pandas", "duckdb"}, default "pandas"
        ``"duckdb"`` keeps the tables in DuckDB, for bases larger than memory: Parquet or
        CSV files, folders or globs, read as they are or cleaned in SQL with the same
        policy (``clean=True``, :mod:`segexplore.engines.duckdb_clean`; of the reading
        options above, ``now`` and ``tz`` apply, the others to the pandas engine only). ``database``, ``memory_limit`` and ``threads`` are
        DuckDB's: a database file (default: a private temporary one), its memory limit
        (``"4GB"``, spilling to disk beyond it) and its threads.

    Returns
    -------
    ContactBase, or a DuckDBBase with ``engine="duckdb"``

    Examples
    --------
    >>> import segexplore as se
    >>> base = se.read_base(se.sample_path() / "contacts.parquet",
    ...                     se.sample_path() / "events.parquet",
    ...                     se.sample_path() / "orders.parquet")
    >>> base.report.accounting()["balanced"].all()
    np.True_
    """
    if engine == "duckdb":
        return hooks.get("read_duckdb")(contacts, events, orders, database=database,
                                        memory_limit=memory_limit, threads=threads,
                                        as_of=as_of, clean=bool(clean), now=now, tz=tz)
    if engine != "pandas":
        raise ParameterError(f"The `engine` parameter must be 'pandas' or 'duckdb', "
                             f"not {engine!r}.")
    clean = True if clean is None else clean
    now = pd.Timestamp.now() if now is None else pd.Timestamp(now)
    sources = {"contacts": contacts, "events": events, "orders": orders}
    sources = {t: s for t, s in sources.items() if s is not None}
    # A flat mapping (not keyed by table) serves every table: each takes the names it has,
    # and a name that no table has is an error once all are read.
    flat_mapping: dict[str, str] | None = None
    if isinstance(columns, Mapping) and columns and not set(columns) <= set(TABLES):
        flat_mapping, columns = dict(columns), {}
    columns = columns or {}
    headers: dict[str, list[str]] = {}

    show = progress
    if show is None:
        size = sum(Path(s).stat().st_size for s in sources.values()
                   if isinstance(s, (str, os.PathLike)) and Path(s).exists())
        rows = sum(len(s) for s in sources.values() if isinstance(s, pd.DataFrame))
        show = size > _PROGRESS_BYTES or rows > 2_000_000
    bar = _progress(show, total=2 * len(sources))

    report = CleanReport()
    problems = ProblemLog()
    frames: dict[str, pd.DataFrame] = {}
    labels: dict[str, np.ndarray] = {}
    nested: dict[str, NestedColumns] = {}
    schema_problems: list[str] = []
    started = time.perf_counter()
    def read(table: str):
        frame, info = read_table(
            sources[table], sep=_per_table(sep, table), encoding=_per_table(encoding, table),
            decimal=_per_table(decimal, table), sheet_name=_per_table(sheet_name, table),
            names=_per_table(names, table), tz=tz, progress=False,
        )
        mapping_notes: list[str] = []
        headers[table] = [str(c) for c in frame.columns]
        mapping = columns.get(table)
        if flat_mapping is not None:
            mapping = {k: v for k, v in flat_mapping.items() if k in headers[table]}
        renames, missing = map_columns(frame, table, mapping,
                                       source=_source_name(sources[table], table),
                                       notes=mapping_notes)
        info = dataclasses.replace(info, notes=info.notes + tuple(mapping_notes))
        labels = _row_labels(sources[table], frame, info.header)
        # Lists and dicts (Parquet list<string>, structs) become text before anything
        # hashes them: pandas cannot count distinct lists.
        frame, flattened = flatten_nested(frame.rename(columns=renames), table=table,
                                          file=_source_name(sources[table], table))
        return frame, info, missing, labels, flattened

    def keep(table: str, result) -> None:
        frames[table], report.reads[table], missing, labels[table], nested[table] = result
        schema_problems.extend(missing)
        read_issues = report.reads[table].issues  # short lines, lines not valid UTF-8...
        problems.add(table=table, file=_source_name(sources[table], table),
                     rows=read_issues["line"], column=read_issues["column"].to_numpy(),
                     values=read_issues["value"], problem=read_issues["problem"].to_numpy(),
                     action=read_issues["action"].to_numpy())
        report.row_labels[table] = labels[table]
        report.inputs[table] = len(frames[table])
        bar.update(1)

    # Events and orders are read in a background thread while the contacts are read and
    # cleaned: Parquet and CSV readers release the GIL, so the two overlap on two cores.
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = {t: pool.submit(read, t) for t in sources if t != "contacts"}
        bar.set_description("reading contacts")
        keep("contacts", read("contacts"))
        cleaned = None
        # Lists joined with "|" are split on "|" again, whatever the file's separator.
        contact_separators = {**(separators or {}),
                              **dict.fromkeys(nested["contacts"].tags, MULTI_VALUE_SEPARATOR)}
        if not schema_problems:
            bar.set_description("cleaning contacts")
            cleaned = clean_contacts(
                frames["contacts"], file=_source_name(sources["contacts"], "contacts"),
                rows=labels["contacts"], problems=problems,
                dayfirst=_per_table(dayfirst, "contacts"), separators=contact_separators,
                now=now, tz=tz,
            ) if clean else _unclean_contacts(frames["contacts"], labels["contacts"], problems,
                                              _per_table(dayfirst, "contacts"), now, tz)
        for table, future in pending.items():
            keep(table, future.result())
    if flat_mapping is not None:
        schema_problems.extend(_unmatched_mapping(flat_mapping, headers))
    if schema_problems:
        # Every missing column of every table at once, so the analyst fixes all in one pass.
        raise SchemaError("\n".join(schema_problems))

    step_rows = [("contacts", *s) for s in nested["contacts"].steps + cleaned.steps]
    report.merges = cleaned.merges
    report.rejects["contacts"] = cleaned.rejects
    report.kept["contacts"] = (cleaned.kept if cleaned.kept is not None
                               else np.ones(len(cleaned.contacts), dtype=bool))
    bar.update(1)

    tables = {"contacts": cleaned.contacts}
    for table in ("events", "orders"):
        if table not in frames:
            continue
        bar.set_description(f"cleaning {table}")
        clean_activity_or_not = clean_activity if clean else _unclean_activity
        clean_frame, rejects, steps, kept = clean_activity_or_not(
            frames[table], table=table, file=_source_name(sources[table], table),
            rows=labels[table], contacts=cleaned, problems=problems,
            dayfirst=_per_table(dayfirst, table), now=now,
            decimal=report.reads[table].decimal, tz=tz,
        )
        tables[table] = clean_frame
        report.rejects[table] = rejects
        report.kept[table] = kept
        step_rows += [(table, *s) for s in nested[table].steps + steps]
        bar.update(1)
    bar.close()

    report.issues = problems.frame()
    report.steps = pd.DataFrame(step_rows, columns=["table", "step", "rows", "detail"])
    report.outputs = {t: len(f) for t, f in tables.items()}
    report.seconds = time.perf_counter() - started

    if strict:
        failures = _failure_cases(report)
        if len(failures):
            raise ValidationError(
                f"{len(failures):,} problems found (see .failure_cases); first: "
                f"{failures.iloc[0].to_dict()}", failure_cases=failures)

    # Joined lists are tags, records are text, unless the analyst said otherwise.
    nested_roles = {**dict.fromkeys(nested["contacts"].tags, "multi"),
                    **dict.fromkeys(nested["contacts"].json, "text")}
    contact_roles = infer_roles(tables["contacts"], {**nested_roles, **(roles or {})},
                                separators=None)
    base = ContactBase(
        tables["contacts"], tables.get("events"), tables.get("orders"),
        roles=contact_roles, as_of=as_of, report=report,
    )
    if clean and (base.events is not None or base.orders is not None):
        inactive = _count_inactive(base)
        report.steps = pd.concat([report.steps, pd.DataFrame([{
            "table": "contacts", "step": "inactive flagged", "rows": inactive,
            "detail": f"no activity in the 12 months up to {base.as_of:%Y-%m-%d}; "
                      "kept, see base.features['inactive']"}])], ignore_index=True)
    return base


def _unmatched_mapping(mapping: Mapping[str, str], headers: Mapping[str, list[str]]) -> list[str]:
    """One problem per name of a flat ``columns=`` mapping that no table has."""
    every = [c for names in headers.values() for c in names]
    problems = []
    for name in mapping:
        if name in every:
            continue
        guess = closest_name(name, every)
        hint = f" (did you mean {guess!r}?)" if guess else ""
        listed = "; ".join(f"{table}: {names}" for table, names in headers.items())
        problems.append(f"columns: the mapping names {name!r}{hint}, which is a column of no "
                        f"table; columns are {listed}.")
    return problems


def _count_inactive(base: ContactBase) -> int:
    """Contacts with no event or order in the 365 days up to ``as_of`` (one cheap pass)."""
    from segexplore.io.clean.ids import known_ids

    ids = base.contacts["contact_id"].to_numpy()
    active = np.zeros(len(ids), dtype=bool)
    since = base.as_of - pd.Timedelta(days=365)
    for table in (base.events, base.orders):
        if table is None or not len(table):
            continue
        stamps = table["timestamp"]
        recent = ((stamps > since) & (stamps <= base.as_of)).to_numpy()
        active |= known_ids(ids, table["contact_id"].to_numpy()[recent])
    return int((~active).sum())


def _unclean_contacts(frame, rows, problems, dayfirst, now, tz=DEFAULT_TZ):
    """``clean=False``: parse dates, keep every row as it is."""
    from segexplore.io.clean.contacts import ContactsCleaned, _parse_date_column

    frame = frame.reset_index(drop=True)
    if "contact_id" not in frame.columns:
        frame["contact_id"] = np.arange(1, len(frame) + 1)
    for column in ("birth_date", "signup_date", "consent_date"):
        if column in frame.columns:
            frame[column] = _parse_date_column(frame, column, dayfirst=dayfirst, file="",
                                               table="contacts", rows=rows, problems=problems,
                                               tz=tz)
    ids = frame["contact_id"]
    id_map = pd.Series(ids.to_numpy(), index=ids.to_numpy())
    id_map = id_map[~id_map.index.duplicated()]
    from segexplore.io.clean.contacts import _empty_rejects
    empty = pd.DataFrame({"row": [], "contact_id": [], "email": [], "merged_into": []})
    return ContactsCleaned(frame, empty, _empty_rejects(), id_map, None,
                           [("cleaning skipped", len(frame), "clean=False")])


def _unclean_activity(frame, *, table, file, rows, contacts, problems, dayfirst, now, decimal,
                      tz=DEFAULT_TZ):
    """``clean=False``: keep every row; only parse timestamps and key rows by contact_id."""
    from segexplore.io.clean.contacts import _empty_rejects, normalise_emails
    from segexplore.io.clean.ids import _map_ids
    from segexplore.io.parsing import parse_datetimes

    frame = frame.reset_index(drop=True)
    if "contact_id" not in frame.columns and "email" in frame.columns:
        target, found = _map_ids(normalise_emails(frame["email"]).to_numpy(), contacts.email_map)
        # Rows are kept, but an unknown email must not borrow somebody's id: missing instead.
        ids = pd.Series(target, index=frame.index)
        if ids.dtype.kind in "iu":
            ids = ids.astype("Int64")
        frame["contact_id"] = ids.where(found)
    if not pd.api.types.is_datetime64_any_dtype(frame["timestamp"].dtype):
        parsed, info = parse_datetimes(frame["timestamp"], dayfirst=dayfirst,
                                       column="timestamp", path=file, tz=tz)
        failed = (parsed.isna() & frame["timestamp"].notna()).to_numpy()
        problems.add(table=table, file=file, rows=rows[failed], column="timestamp",
                     values=frame.loc[failed, "timestamp"], problem="not a date",
                     action="set missing")
        frame["timestamp"] = parsed
    if "event_type" in frame.columns and not isinstance(frame["event_type"].dtype,
                                                        pd.CategoricalDtype):
        frame["event_type"] = frame["event_type"].astype("category")
    return frame, _empty_rejects(), [("cleaning skipped", len(frame), "clean=False")], \
        np.ones(len(frame), dtype=bool)


def _failure_cases(report: CleanReport) -> pd.DataFrame:
    blocks = [report.issues[["table", "file", "row", "column", "value", "problem"]]]
    for table, rejects in report.rejects.items():
        if len(rejects):
            blocks.append(pd.DataFrame({
                "table": table, "file": rejects["file"], "row": rejects["row"],
                "column": None, "value": None, "problem": rejects["reason"]}))
    return pd.concat(blocks, ignore_index=True)


class _NoBar:
    def set_description(self, *_):
        pass

    def update(self, *_):
        pass

    def close(self):
        pass


def _progress(show: bool, total: int):
    if not show:
        return _NoBar()
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="step", leave=False)


