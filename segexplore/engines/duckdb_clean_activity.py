"""Events and orders cleaned in DuckDB SQL, as :func:`~segexplore.io.clean.activity.
clean_activity` cleans them: their contact known (by id or email, merged duplicates moved to
the survivor), their time parsed and not in the future, amounts numbers and not negative,
event types canonical, order ids not repeated; each rejected row kept with its reason."""

from __future__ import annotations

from typing import Any

import pandas as pd

from segexplore.engines.duckdb_clean_sql import EMAIL, KEY, STRIP, Sql, TextOp, missing, quoted
from segexplore.errors import SchemaError
from segexplore.io.clean.activity import event_types
from segexplore.io.clean.contacts import _DATE_HINT
from segexplore.io.parsing import parse_datetimes, parse_numbers
from segexplore.model.report import CleanReport

__all__ = ["clean_activity_sql"]

_EVENT = TextOp("event", lambda v: (f"coalesce((SELECT type FROM se_event_aliases WHERE "
                                    f"alias = {KEY.ascii_sql(v)}), {KEY.ascii_sql(v)})"),
                lambda s: pd.DataFrame({"result": event_types(s.astype("string"))}))
_NUMBER_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT",
                 "USMALLINT", "UINTEGER", "UBIGINT", "FLOAT", "DOUBLE", "DECIMAL")


def _is_number(kind: str) -> bool:
    return kind.startswith(_NUMBER_TYPES)


def _parsed_column(sql: Sql, raw: str, column: str, kind: str, parse) -> str:
    """A column parsed in pandas (the whole column: the parser decides from all rows, as
    the pandas engine does), joined back by position; returns the side table's name."""
    values = sql.frame(f"SELECT {quoted(column)} AS v FROM {raw} ORDER BY rowid")["v"]
    if kind == "VARCHAR":
        values = values.astype("str")
    parsed = parse(values)
    name = f"se_parsed_{column}"
    sql.table(name, pd.DataFrame({"se_pos": range(len(values)), "v": parsed}))
    return name


def clean_activity_sql(sql: Sql, source: str, *, table: str, file: str, first_row: int,
                       dayfirst: bool | None, now: pd.Timestamp, tz: str,
                       decimal: str | None, report: CleanReport
                       ) -> list[tuple[str, int, str]]:
    """Clean the raw ``source`` into ``table`` and ``rejected_<table>``; returns the steps.

    Needs the cleaned ``contacts`` and ``merged_contacts`` of the same connection.
    """
    raw = f"se_{table}_in"
    types = sql.copy_input(source, raw)
    report.inputs[table] = sql.count(raw)
    absent = [c for c in ("timestamp",) if c not in types]
    if "contact_id" not in types and "email" not in types:
        absent.insert(0, "contact_id")
    if absent:
        raise SchemaError(f"{table}: no column {absent[0]!r}; found {list(types)[:12]}")
    joins: list[str] = []
    select = {c: f"i.{quoted(c)}" for c in types}
    checks: list[tuple[str, str]] = []  # (condition, reason), in the pandas engine's order

    # The contact: by id, else by email; merged duplicates lead to their survivor.
    what = "contact_id" if "contact_id" in types else "email"
    key = _contact_key(sql, raw, what, types[what], joins)
    sql.execute("CREATE OR REPLACE TEMP TABLE se_map AS SELECT key, target FROM (" +
                _map_query(sql, what) + ") WHERE key IS NOT NULL QUALIFY row_number() OVER "
                "(PARTITION BY key ORDER BY se_source, se_order) = 1")
    joins.append(f"LEFT JOIN se_map AS m ON m.key = {key}")
    checks.append((missing(f"i.{quoted(what)}", types[what]), f"{what} is missing"))
    checks.append(("m.target IS NULL", f"unknown {what} (not in contacts)"))
    select.pop("email", None)
    select["contact_id"] = "m.target"

    steps: list[tuple[str, int, str]] = []
    stamp_kind = types["timestamp"]
    parsed_info = None
    if stamp_kind.startswith(("TIMESTAMP", "DATE")):
        select["timestamp"] = "CAST(i.timestamp AS TIMESTAMP)"
    else:
        holder: dict[str, Any] = {}

        def parse_stamps(values: pd.Series) -> pd.Series:
            stamps, holder["info"] = parse_datetimes(values, dayfirst=dayfirst,
                                                     column="timestamp", path=file, tz=tz)
            return stamps.astype("datetime64[us]")

        side = _parsed_column(sql, raw, "timestamp", stamp_kind, parse_stamps)
        parsed_info = holder["info"]
        joins.append(f"JOIN {side} AS ts ON ts.se_pos = i.rowid")
        select["timestamp"] = "ts.v"
    checks.append((missing("i.timestamp", stamp_kind), "timestamp is missing"))
    checks.append((f"{select['timestamp']} IS NULL", f"timestamp is not a date ({_DATE_HINT})"))
    checks.append((f"{select['timestamp']} > '{now}'::TIMESTAMP",
                   f"timestamp in the future (after {now:%Y-%m-%d %H:%M})"))

    for column in ("amount", "items", "discount"):
        if column not in types:
            continue
        kind = types[column]
        if _is_number(kind):
            select[column] = f"CAST(i.{column} AS DOUBLE)"
        else:
            side = _parsed_column(sql, raw, column, kind, lambda values, c=column: parse_numbers(
                values, decimal=decimal, column=c, path=file)[0])
            joins.append(f"JOIN {side} AS n_{column} ON n_{column}.se_pos = i.rowid")
            select[column] = f"n_{column}.v"
            checks.append((f"i.{column} IS NOT NULL AND {select[column]} IS NULL",
                           f"{column} is not a number"))
        checks.append((f"{select[column]} < 0", f"negative {column}"))
    if "event_type" in types:
        select["event_type"] = sql.text_expr("i.event_type", _EVENT, joins, source=raw,
                                             column="event_type")
        checks.append((f"{select['event_type']} IS NULL", "event_type is missing"))

    reason = "CASE " + " ".join(f"WHEN {condition} THEN ?" for condition, _ in checks) + " END"
    cleaned = f"se_{table}_c"
    sql.execute(f"CREATE OR REPLACE TEMP TABLE {cleaned} AS SELECT i.rowid AS se_pos, "
                f"i.rowid + {int(first_row)} AS se_row, {reason} AS se_reason, "
                + ", ".join(f"{expr} AS {quoted(c)}" for c, expr in select.items())
                + f" FROM {raw} AS i " + " ".join(joins), [why for _, why in checks])
    reasons = [why for _, why in checks]
    if table == "orders" and "order_id" in types:
        # Only rows still standing count: a rejected row does not make its twin a repeat.
        why = "order_id repeats an earlier row"
        reasons.append(why)
        sql.execute(f"UPDATE {cleaned} SET se_reason = ? FROM (SELECT se_pos, row_number() "
                    f"OVER (PARTITION BY order_id ORDER BY se_pos) AS k FROM {cleaned} WHERE "
                    f"se_reason IS NULL AND NOT {missing('order_id', types['order_id'])}) "
                    f"AS r WHERE r.se_pos = {cleaned}.se_pos AND r.k > 1", [why])
    elif table == "orders":
        steps += _repeated_orders(sql, raw, cleaned, types, file, first_row)

    columns = ", ".join(quoted(c) for c in select)
    if "items" in select and not sql.scalar(f"SELECT count(*) FROM {cleaned} WHERE se_reason "
                                            f"IS NULL AND items IS NULL"):
        columns = columns.replace('"items"', 'CAST("items" AS BIGINT) AS "items"')
    sql.execute(f"CREATE OR REPLACE TABLE {quoted(table)} AS SELECT {columns} FROM {cleaned} "
                f"WHERE se_reason IS NULL ORDER BY se_pos")
    sql.rejects(table, file, raw, cleaned, reasons, grouped=False)
    counts = dict(sql.execute(f"SELECT se_reason, count(*) FROM {cleaned} WHERE se_reason IS "
                              f"NOT NULL GROUP BY 1").fetchall())
    steps += [(f"rejected: {why}", int(counts[why]), "") for why in reasons if counts.get(why)]
    if parsed_info is not None:
        steps.append(("timestamps parsed", report.inputs[table], parsed_info.summary()))
    return steps


def _contact_key(sql: Sql, raw: str, what: str, kind: str, joins: list[str]) -> str:
    """The event's contact id in the type of the contacts' ids, as ``_comparable_ids``
    makes it (``10003`` finds ``"10003"``, ``1`` never finds ``"00001"``)."""
    if what == "email":
        return sql.text_expr("i.email", EMAIL, joins, source=raw, column="email")
    text_contacts = sql.column_type("contacts", "contact_id") == "VARCHAR"
    value = "i.contact_id"
    if kind == "VARCHAR":
        stripped = sql.text_expr(value, STRIP, joins, source=raw, column="contact_id")
        return stripped if text_contacts else f"TRY_CAST({stripped} AS DOUBLE)"
    if kind in ("DOUBLE", "FLOAT"):
        whole = sql.scalar(f"SELECT coalesce(bool_and(contact_id = floor(contact_id)), TRUE) "
                           f"FROM {raw} WHERE NOT {missing('contact_id', kind)}")
        if not whole:  # 1.5 is nobody's id: unmatched, rejected as unknown
            return "CAST(NULL AS VARCHAR)" if text_contacts else value
        value = f"CAST({value} AS BIGINT)"
    return f"CAST({value} AS VARCHAR)" if text_contacts else value


def _map_query(sql: Sql, what: str) -> str:
    """Every id (or normalised email) of a contact, merged ones too -> surviving id;
    the contacts first, in their order, then the merges (the first one wins)."""
    if what == "contact_id":
        return ("SELECT contact_id AS key, contact_id AS target, 0 AS se_source, position AS "
                "se_order FROM contacts UNION ALL SELECT contact_id, merged_into, 1, se_order "
                "FROM merged_contacts")
    joins: list[str] = []
    again = sql.text_expr("i.email", EMAIL, joins, source="contacts", column="email")
    return (f"SELECT {again} AS key, i.contact_id AS target, 0 AS se_source, i.position AS "
            f"se_order FROM contacts AS i {' '.join(joins)} UNION ALL SELECT email, "
            f"merged_into, 1, se_order FROM merged_contacts")


def _repeated_orders(sql: Sql, raw: str, cleaned: str, types: dict[str, str], file: str,
                     first_row: int) -> list[tuple[str, int, str]]:
    """Orders without an order_id that repeat an earlier standing row in every column:
    kept, each reported with the line it repeats (as ``_report_repeated_orders``)."""
    if not types:
        return []
    every = ", ".join(f"i.{quoted(c)}" for c in types)
    sql.execute(f"CREATE OR REPLACE TEMP TABLE se_repeats AS SELECT * FROM (SELECT c.se_pos, "
                f"min(c.se_pos) OVER (PARTITION BY {every}) AS se_first FROM {raw} AS i JOIN "
                f"{cleaned} AS c ON c.se_pos = i.rowid WHERE c.se_reason IS NULL) WHERE "
                f"se_first <> se_pos")
    first = sql.execute("SELECT se_pos, se_first, count(*) OVER () FROM se_repeats ORDER BY "
                        "se_pos LIMIT 1").fetchall()
    if not first:
        return []
    at, of, n = first[0]
    sql.issue("orders", file, "(all columns)", "se_repeats", "TRUE", f"se_pos + {first_row}",
              f"'same as line ' || CAST(se_first + {first_row} AS VARCHAR)",
              "'repeats an earlier order in every column; without an order_id column two "
              "real orders cannot be told from one exported twice'",
              "kept (may be two real orders)")
    return [("repeated orders kept", int(n),
             f"no order_id column: {int(n):,} rows of {file} repeat an earlier row exactly "
             f"(e.g. line {at + first_row} = line {of + first_row}); kept, see report.issues")]
