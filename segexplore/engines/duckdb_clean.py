"""Cleaning in DuckDB SQL: the pandas engine's cleaning policy on tables that stay in DuckDB.

:func:`clean_in_duckdb` reads raw tables or views of a connection (canonical column names:
``contacts_raw``, ``events_raw``, ``orders_raw``) and writes the cleaned tables
``contacts`` (with ``position``, the contacts' order that every mask follows), ``events``
and ``orders``, the rejects ``rejected_contacts``, ``rejected_events``,
``rejected_orders`` (the original values with ``table, file, row, reason``), the merges
``merged_contacts`` (``row, contact_id, email, merged_into``), ``clean_issues`` (cell-level
problems) and ``clean_steps``. The policy is :mod:`segexplore.io.clean`'s, rule for rule,
and every input row is kept, merged or rejected.

How each rule stays the pandas rule:

- **Vocabularies and patterns are imported** from :mod:`segexplore.io.clean` (the email
  pattern, consent, country and event-type aliases, postal code lengths, consent ranks) and
  loaded as small tables; DuckDB's regular expressions are RE2, and the email pattern is
  written in the syntax both RE2 and Python's ``re`` read alike.
- **Text of ASCII characters only is cleaned in SQL.** Python and DuckDB disagree on
  other characters (``upper('ß')``, ``lower('İ')``, which Unicode spaces ``strip`` and
  ``\\s`` mean, ``\\d`` for other scripts' digits), so each distinct value holding another
  character is cleaned by the pandas function itself, in a side table joined back: a
  handful of values, never a silent difference. ``\\s`` in SQL is the explicit class of
  Python's ASCII whitespace (RE2's ``\\s`` lacks ``\\v`` and ``\\x1c-\\x1f``).
- **Date and number parsing is the pandas parser's** (:func:`~segexplore.io.parsing.
  parse_datetimes` detects the day/month order and layouts from the whole column, which
  SQL cannot do alike): contacts' dates on their distinct values, as pandas does, and text
  timestamps and amounts of events and orders on the column. Columns already typed as
  dates or numbers (Parquet, DuckDB's CSV sniffer) need no parsing.

What differs from ``read_base``: rows are named by their line (``first_row`` + position;
DataFrame index labels are not known here), the file names are given, and the report's
``kept`` and ``row_labels`` (for ``lineage()``) are not filled; ``accounting()`` is.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from segexplore.engines.duckdb_clean_activity import clean_activity_sql
from segexplore.engines.duckdb_clean_sql import (
    ASCII_SPACE_CLASS,
    EMAIL,
    KEY,
    STRIP,
    Sql,
    TextOp,
    literal,
    missing,
    quoted,
)
from segexplore.io.clean.contacts import (
    _DATE_HINT,
    _USUAL_LENGTH_SHARE,
    CONSENT_RANK,
    DIGITS_PATTERN,
    EMAIL_PATTERN,
    canonical_tags,
    country_codes,
    tidy_postal_codes,
)
from segexplore.io.parsing import DEFAULT_TZ, parse_datetimes
from segexplore.model.columns import CONSENT_VALUES, MULTI_VALUE_SEPARATOR
from segexplore.model.report import REJECT_COLUMNS, CleanReport

__all__ = ["clean_in_duckdb"]

_DATE_COLUMNS = ("birth_date", "signup_date", "consent_date", "updated_at")
#: Columns the merge takes from elsewhere than "the latest non-missing value".
_MERGE_SKIP = {"email", "contact_id", "email_original", "signup_date", "consent",
               "consent_date", "interests"}

# The contacts' own text rules (SQL on ASCII-only text, the pandas function otherwise).
_COUNTRY = TextOp("country", lambda v: (f"coalesce((SELECT code FROM se_country_aliases "
                                        f"WHERE alias = lower(se_strip({v}))), "
                                        f"upper(se_strip({v})))"),
                  lambda s: pd.DataFrame({"result": country_codes(s.astype("string"))}))
_POSTAL = TextOp(
    "postal",
    lambda v: (f"upper(regexp_replace(regexp_replace(se_strip({v}), '\\.0$', ''), "
               f"'[{ASCII_SPACE_CLASS}.\\-]', '', 'g'))"),
    lambda s: _postal_side(s), extra=("digits",))


def _postal_side(values: pd.Series) -> pd.DataFrame:
    codes = tidy_postal_codes(values)
    return pd.DataFrame({"result": codes,
                         "digits": codes.str.fullmatch(DIGITS_PATTERN).fillna(False)})


def _email_problem_sql(email: str) -> str:
    """The reason an ASCII email is invalid, as :func:`~segexplore.io.clean.contacts.
    email_problems` words it (NULL when valid)."""
    return (f"CASE WHEN {email} IS NULL THEN 'missing' "
            f"WHEN regexp_full_match({email}, {literal(EMAIL_PATTERN)}) THEN NULL "
            f"WHEN regexp_matches({email}, '[{ASCII_SPACE_CLASS}]') THEN 'contains a space' "
            f"WHEN NOT contains({email}, '@') THEN 'no @' "
            f"WHEN length({email}) - length(replace({email}, '@', '')) > 1 "
            f"THEN 'more than one @' "
            f"WHEN NOT regexp_matches({email}, '@.+\\..+') THEN 'domain has no dot' "
            f"ELSE 'invalid syntax' END")


@dataclass
class _Options:
    file: str
    first_row: int
    now: pd.Timestamp
    dayfirst: bool | None
    tz: str
    separators: Mapping[str, str]


def clean_in_duckdb(connection: Any, *, contacts: str = "contacts_raw",
                    events: str | None = None, orders: str | None = None,
                    files: Mapping[str, str] | None = None, first_row: int = 2,
                    dayfirst: bool | None = None, separators: Mapping[str, str] | None = None,
                    decimal: str | Mapping[str, str] | None = None,
                    now: Any = None, tz: str = DEFAULT_TZ) -> CleanReport:
    """Clean raw tables of ``connection`` in SQL, with the pandas engine's policy.

    Parameters
    ----------
    connection : duckdb.DuckDBPyConnection
        Holds the raw tables or views; receives the cleaned tables (see the module
        docstring): ``contacts`` (with ``position``), ``events``, ``orders``,
        ``rejected_contacts``, ``rejected_events``, ``rejected_orders``,
        ``merged_contacts``, ``clean_issues`` and ``clean_steps``, replaced if they exist.
    contacts, events, orders : str
        Names of the raw tables or views, in canonical column names, rows in file order
        (``events`` and ``orders`` optional).
    files : dict, optional
        The name of each table's file in the report (default: the table's name).
    first_row : int, default 2
        The line of the first row (the header is line 1), as the report names rows.
    dayfirst, separators, now, tz
        As in :func:`~segexplore.io.load.read_base`.
    decimal : str or dict, optional
        Decimal separator of text amounts (``","`` or ``"."``), for all tables or per table.

    Returns
    -------
    CleanReport
        ``steps``, ``issues``, ``rejects``, ``merges``, ``inputs``, ``outputs``: what the
        pandas engine reports for the same rows (see the module docstring for what is not
        filled).

    Raises
    ------
    SchemaError
        A raw table lacks a canonical column (``timestamp``; ``contact_id`` or ``email``
        in events and orders).

    Examples
    --------
    >>> import duckdb, segexplore as se
    >>> connection = duckdb.connect()
    >>> path = str(se.sample_path() / "contacts.parquet").replace("'", "''")
    >>> _ = connection.execute(f"CREATE VIEW contacts_raw AS SELECT * FROM '{path}'")
    >>> report = clean_in_duckdb(connection, now="2026-11-24")
    >>> report.accounting()[["table", "input", "kept", "balanced"]].to_dict("records")
    [{'table': 'contacts', 'input': 20000, 'kept': 20000, 'balanced': True}]
    """
    started = time.perf_counter()
    sql = Sql(connection)
    files = dict(files or {})
    now = pd.Timestamp.now() if now is None else pd.Timestamp(now)
    options = _Options(files.get("contacts", contacts), first_row, now, dayfirst, tz,
                       dict(separators or {}))
    report = CleanReport()
    sql.start()
    steps: list[tuple[str, str, int, str]] = []
    steps += [("contacts", *s) for s in _clean_contacts(sql, contacts, options, report)]
    for table, source in (("events", events), ("orders", orders)):
        if source is None:
            continue
        table_decimal = decimal.get(table) if isinstance(decimal, Mapping) else decimal
        table_steps = clean_activity_sql(
            sql, source, table=table, file=files.get(table, source), first_row=first_row,
            dayfirst=dayfirst, now=now, tz=tz, decimal=table_decimal, report=report)
        steps += [(table, *s) for s in table_steps]
    report.steps = pd.DataFrame(steps, columns=["table", "step", "rows", "detail"])
    connection.register("se_steps_frame", report.steps)
    connection.execute("CREATE OR REPLACE TABLE clean_steps AS SELECT * FROM se_steps_frame")
    connection.unregister("se_steps_frame")
    report.issues = sql.issues_frame()
    report.merges = connection.execute(
        "SELECT row, contact_id, email, merged_into FROM merged_contacts ORDER BY "
        "se_order").df()
    report.outputs = {t: sql.count(t) for t in report.inputs}
    # As the pandas report has them: an empty table of rejects has the leading columns only.
    leading = ", ".join(quoted(c) for c in REJECT_COLUMNS)
    report.rejects = {t: sql.frame(f"SELECT {'*' if sql.count('rejected_' + t) else leading} "
                                   f"FROM rejected_{t}") for t in report.inputs}
    report.seconds = time.perf_counter() - started
    sql.finish()
    return report


def _clean_contacts(sql: Sql, source: str, options: _Options,
                    report: CleanReport) -> list[tuple[str, int, str]]:
    """Contacts: normalised (``se_c``), merged, rejected; returns the report steps."""
    steps: list[tuple[str, int, str]] = []
    types = sql.copy_input(source, "se_in")  # file order kept in rowid
    n = sql.count("se_in")
    report.inputs["contacts"] = n
    row = f"(i.rowid + {int(options.first_row)})"
    select: dict[str, str] = {}
    joins: list[str] = []

    def text(column: str, op: TextOp, output: str = "result") -> str:
        return sql.text_expr(f"i.{quoted(column)}", op, joins, source="se_in",
                             column=column, output=output)

    for column in types:
        select[column] = f"i.{quoted(column)}"
    if "contact_id" not in types:
        select["contact_id"] = "CAST(i.rowid + 1 AS BIGINT)"
        steps.append(("contact_id assigned", n, "no contact_id column: ids 1..n in file order"))
    elif types["contact_id"] == "VARCHAR":
        select["contact_id"] = text("contact_id", STRIP)
    internal = {"se_email_side": "CAST(NULL AS VARCHAR)", "se_email_ascii": "TRUE"}
    if "email" in types:
        select["email"] = text("email", EMAIL)
        raw_email = "CAST(i.email AS VARCHAR)"
        internal["se_email_ascii"] = f"({raw_email} IS NULL OR strlen({raw_email}) = length({raw_email}))"
        internal["se_email_side"] = text("email", EMAIL, "problem")
    else:
        select["email"] = "CAST(NULL AS VARCHAR)"
    select["email_original"] = "i.email" if "email" in types else "CAST(NULL AS VARCHAR)"
    email_step = len(steps)  # the pandas engine reports it before the dates' steps

    for column in _DATE_COLUMNS:
        if column in types:
            select[column] = _date_sql(sql, column, types[column], options, steps)
    if "consent" in types:
        if types["consent"] == "BOOLEAN":
            select["consent"] = ("CASE WHEN i.consent THEN 'given' WHEN NOT i.consent "
                                 "THEN 'withdrawn' ELSE 'unknown' END")
        else:
            select["consent"] = (f"coalesce((SELECT status FROM se_consent_aliases WHERE "
                                 f"alias = {text('consent', KEY)}), 'unknown')")
    if "country" in types:
        select["country"] = text("country", _COUNTRY)
    if "postal_code" in types:  # tidied here, padded once the countries are known
        select["postal_code"] = text("postal_code", _POSTAL)
        tidy = _POSTAL.ascii_sql("CAST(i.postal_code AS VARCHAR)")
        digits = sql.text_expr("i.postal_code", _POSTAL, joins, source="se_in",
                               column="postal_code", output="digits",
                               ascii_sql=f"regexp_full_match({tidy}, '[0-9]+')")
        internal["se_digits"] = f"coalesce({digits}, FALSE)"
    multi = dict(options.separators)
    if "interests" in types and "interests" not in multi:
        multi["interests"] = None
    for column, separator in multi.items():
        if column in types:
            select[column] = _tags_sql(sql, column, separator, joins)
    columns = list(select)
    sql.execute(f"CREATE TEMP TABLE se_c AS SELECT i.rowid AS se_pos, {row} AS se_row, "
                + ", ".join(f"{expr} AS {quoted(name)}"
                            for name, expr in {**select, **internal}.items())
                + " FROM se_in AS i " + " ".join(joins))
    sql.execute("ALTER TABLE se_c ADD COLUMN se_problem VARCHAR")
    sql.execute(f"UPDATE se_c SET se_problem = CASE WHEN se_email_ascii THEN "
                f"{_email_problem_sql('email')} ELSE se_email_side END")
    changed = sql.scalar("SELECT count(*) FROM se_c WHERE coalesce(email, '') <> "
                         "coalesce(CAST(email_original AS VARCHAR), '')")
    steps.insert(email_step, ("email trimmed / lower-cased", changed,
                              "original kept in email_original"))
    _date_issues(sql, types, options)
    if "consent" in types and types["consent"] != "BOOLEAN":
        sql.issue("contacts", options.file, "consent",
                  "se_in AS i JOIN se_c AS c ON c.se_pos = i.rowid",
                  "i.consent IS NOT NULL AND c.consent = 'unknown'", "c.se_row", "i.consent",
                  literal(f"unrecognised consent value (expected one of "
                          f"{list(CONSENT_VALUES)})"), "set to 'unknown'")
    if "postal_code" in types:
        steps += _postal_codes(sql, "country" in types, options)
    _reject_and_merge(sql, types, columns, options, steps)
    return steps


def _date_sql(sql: Sql, column: str, kind: str, options: _Options,
              steps: list[tuple[str, int, str]]) -> str:
    """The column as TIMESTAMP: typed columns cast, others parsed by the pandas parser on
    their distinct values (as the pandas engine does), joined back."""
    if kind.startswith(("TIMESTAMP", "DATE")):
        return f"CAST(i.{quoted(column)} AS TIMESTAMP)"
    values = sql.frame(f"SELECT DISTINCT {quoted(column)} AS v FROM se_in WHERE "
                       f"{quoted(column)} IS NOT NULL ORDER BY 1")["v"]
    if kind == "VARCHAR":
        values = values.astype("str")
    parsed, info = parse_datetimes(values.reset_index(drop=True), dayfirst=options.dayfirst,
                                   column=column, path=options.file, tz=options.tz)
    table = f"se_dates_{column}"
    sql.table(table, pd.DataFrame({"v": values.reset_index(drop=True),
                                   "parsed": parsed.astype("datetime64[us]")}))
    if info.notes:
        count = sql.scalar(f"SELECT count({quoted(column)}) FROM se_in")
        steps.append((f"{column} parsed", count, "; ".join(info.notes)))
    return f"(SELECT parsed FROM {table} AS d WHERE d.v = i.{quoted(column)})"


def _date_issues(sql: Sql, types: Mapping[str, str], options: _Options) -> None:
    """Unparsed, future and (birth dates) pre-1900 dates are set missing, each reported."""
    for column in _DATE_COLUMNS:
        if column not in types:
            continue
        name = quoted(column)
        on = "se_in AS i JOIN se_c AS c ON c.se_pos = i.rowid"
        if not types[column].startswith(("TIMESTAMP", "DATE")):
            sql.issue("contacts", options.file, column, on,
                      f"i.{name} IS NOT NULL AND c.{name} IS NULL", "c.se_row", f"i.{name}",
                      literal(f"not a date ({_DATE_HINT})"), "set missing")
        now = literal(str(options.now))
        sql.issue("contacts", options.file, column, "se_c AS c", f"c.{name} > {now}::TIMESTAMP",
                  "c.se_row", f"c.{name}", "'date in the future'", "set missing")
        sql.execute(f"UPDATE se_c SET {name} = NULL WHERE {name} > {now}::TIMESTAMP")
    if "birth_date" in types:
        sql.issue("contacts", options.file, "birth_date", "se_c AS c",
                  "c.birth_date < TIMESTAMP '1900-01-01'", "c.se_row", "c.birth_date",
                  "'before 1900'", "set missing")
        sql.execute("UPDATE se_c SET birth_date = NULL WHERE birth_date < "
                    "TIMESTAMP '1900-01-01'")


def _tags_sql(sql: Sql, column: str, separator: str | None, joins: list[str]) -> str:
    """A multi-valued column in the canonical ``a|b`` form (trimmed, unique, sorted).

    The separator, when not given, is the first of ``|``, ``;``, ``,`` that any value holds
    (as :func:`~segexplore.io.clean.contacts.canonical_tags` decides).
    """
    name = quoted(column)
    if separator is None:
        found = sql.frame(f"SELECT bool_or(contains(CAST({name} AS VARCHAR), '|')) AS a, "
                          f"bool_or(contains(CAST({name} AS VARCHAR), ';')) AS b, "
                          f"bool_or(contains(CAST({name} AS VARCHAR), ',')) AS c "
                          f"FROM se_in").iloc[0].tolist()
        separator = next((s for s, hit in zip("|;,", found, strict=True) if hit is True),
                         MULTI_VALUE_SEPARATOR)
    op = TextOp(f"tags{ord(separator)}", lambda v: (
        f"nullif(array_to_string(list_sort(list_distinct(list_filter(list_transform("
        f"string_split({v}, {literal(separator)}), lambda t: se_strip(t)), lambda t: t <> ''))), "
        f"{literal(MULTI_VALUE_SEPARATOR)}), '')"),
        lambda s: pd.DataFrame({"result": canonical_tags(s.astype("string"), separator)}))
    return sql.text_expr(f"i.{name}", op, joins, source="se_in", column=column)


def _postal_codes(sql: Sql, has_country: bool, options: _Options) -> list[tuple[str, int, str]]:
    """Zero-pad short codes of known countries; report codes of the wrong length, and codes
    without country of an unusual length (on distinct (code, country) pairs, as pandas)."""
    steps: list[tuple[str, int, str]] = []
    country = "c.country" if has_country else "CAST(NULL AS VARCHAR)"
    sql.execute(f"CREATE TEMP TABLE se_pairs AS SELECT c.postal_code AS code, c.se_digits AS "
                f"digits, {country} AS country, d.digits AS expected, count(*) AS weight "
                f"FROM se_c AS c LEFT JOIN se_postal_digits AS d ON d.country = {country} "
                f"GROUP BY ALL")  # missing codes too: they count in the usual lengths
    padded = sql.scalar("SELECT coalesce(sum(weight), 0) FROM se_pairs WHERE digits AND "
                        "length(code) < expected")
    if padded:
        steps.append(("postal code zero-padded", padded,
                      "leading zeros restored (e.g. 1000 -> 01000 in France)"))
        sql.execute("UPDATE se_c SET postal_code = lpad(postal_code, CAST(d.digits AS INTEGER), '0') FROM "
                    "se_postal_digits AS d WHERE d.country = se_c.country AND se_c.se_digits "
                    "AND length(se_c.postal_code) < d.digits")
    sql.issue("contacts", options.file, "postal_code",
              "se_in AS i JOIN se_c AS c ON c.se_pos = i.rowid JOIN se_postal_digits AS "
              f"d ON d.country = {country}",
              "c.postal_code IS NOT NULL AND (length(c.postal_code) <> d.digits OR NOT "
              "c.se_digits)", "c.se_row", "i.postal_code",
              literal("not a postal code of the contact's country (FR: 5 digits, BE: 4 "
                      "digits)"), "kept as is")
    without = sql.scalar("SELECT coalesce(sum(weight), 0) FROM se_pairs WHERE country IS "
                         "NULL AND code IS NOT NULL")
    if not without:
        return steps
    known = sql.scalar("SELECT count(*) FROM se_pairs WHERE expected IS NOT NULL")
    usual = sql.frame(
        "SELECT expected AS length, sum(weight) AS n FROM se_pairs WHERE expected IS NOT "
        "NULL GROUP BY 1 ORDER BY 1" if known else
        "SELECT length(code) AS length, sum(weight) AS n FROM se_pairs WHERE country IS NULL "
        "AND code IS NOT NULL AND digits GROUP BY 1 ORDER BY 1")
    if usual.empty or usual["n"].max() < _USUAL_LENGTH_SHARE * usual["n"].sum():
        mix = ", ".join(f"{int(r.length)} digits: {int(r.n):,}" for r in usual.itertuples())
        steps.append(("postal codes without country", int(without),
                      f"no country and lengths mixed ({mix or 'no digit codes'}): not "
                      "checked, not padded; add a country column to check them"))
        return steps
    length = int(usual.loc[usual["n"].idxmax(), "length"])
    odd = f"c.se_digits IS NOT TRUE OR length(c.postal_code) <> {length}"
    where = f"{country} IS NULL AND c.postal_code IS NOT NULL AND ({odd})"
    shape = ("CASE WHEN c.se_digits THEN 'has ' || CAST(length(c.postal_code) AS VARCHAR) "
             "|| ' digits' "
             "ELSE 'is not all digits' END")
    sql.issue("contacts", options.file, "postal_code",
              "se_in AS i JOIN se_c AS c ON c.se_pos = i.rowid", where, "c.se_row",
              "i.postal_code", f"'postal code ' || c.postal_code || ' ' || {shape} || "
              f"' where most codes have {length}; no country to tell how many are expected'",
              "kept as is (not padded)")
    n_odd = sql.scalar(f"SELECT count(*) FROM se_c AS c WHERE {where}")
    detail = (f"no country: not padded; {n_odd:,} of another length than the usual "
              f"{length} digits reported" if n_odd else
              f"no country: not padded; all have the usual {length} digits")
    steps.append(("postal codes without country", int(without), detail))
    return steps


def _reject_and_merge(sql: Sql, types: Mapping[str, str], columns: list[str],
                      options: _Options, steps: list[tuple[str, int, str]]) -> None:
    """Rejects without identifier, merges of a valid email's rows, rejects of reused ids;
    then the tables ``contacts``, ``rejected_contacts`` and ``merged_contacts``."""
    id_kind = types.get("contact_id", "BIGINT")
    no_id = missing("contact_id", id_kind)
    sql.execute("ALTER TABLE se_c ADD COLUMN se_reason VARCHAR")
    sql.execute(f"UPDATE se_c SET se_reason = CASE WHEN {no_id} AND email IS NULL THEN "
                f"'no contact_id and no email' WHEN {no_id} THEN 'contact_id is missing' END")
    if id_kind in ("DOUBLE", "FLOAT"):  # pandas' integer ids read as floats (a blank cell)
        whole = sql.scalar("SELECT count(*) = 0 OR (bool_and(contact_id = floor(contact_id)) "
                           "AND max(abs(contact_id)) < 2.0^63) FROM se_c WHERE se_reason "
                           "IS NULL")
        if whole:
            sql.execute("ALTER TABLE se_c ALTER contact_id TYPE BIGINT USING CASE WHEN "
                        "se_reason IS NULL THEN CAST(contact_id AS BIGINT) ELSE 0 END")

    # Duplicates: rows of one valid email; order of recency and of the survivor.
    recency = "updated_at NULLS LAST, se_pos" if "updated_at" in types else "se_pos"
    winner = "signup_date NULLS LAST, se_pos" if "signup_date" in types else "se_pos"
    rank = ("CASE consent " + " ".join(f"WHEN {literal(k)} THEN {v}"
                                       for k, v in CONSENT_RANK.items()) + " ELSE 0 END"
            if "consent" in types else "0")
    sql.execute(f"CREATE TEMP TABLE se_group AS SELECT *, row_number() OVER (PARTITION BY "
                f"email ORDER BY {recency}) AS se_recent, row_number() OVER (PARTITION BY "
                f"email ORDER BY {winner}) AS se_winner, {rank} AS se_rank FROM (SELECT *, "
                f"count(*) OVER (PARTITION BY email) AS se_n FROM se_c WHERE se_reason IS "
                f"NULL AND se_problem IS NULL) WHERE se_n > 1")
    merged = {}
    for column in columns:
        if column in _MERGE_SKIP:
            continue
        present = f"NOT {missing(quoted(column), sql.column_type('se_c', column))}"
        merged[column] = f"arg_max({quoted(column)}, se_recent) FILTER (WHERE {present})"
    if "signup_date" in columns:
        merged["signup_date"] = "min(signup_date)"
    if "interests" in columns:
        merged["interests"] = (
            f"nullif(array_to_string(list_sort(list_distinct(flatten(list(string_split("
            f"interests, {literal(MULTI_VALUE_SEPARATOR)})) FILTER (WHERE interests IS NOT "
            f"NULL)))), {literal(MULTI_VALUE_SEPARATOR)}), '')")
    if "consent" in columns:
        best = "se_rank = se_best"
        merged["consent"] = f"arg_min(consent, se_recent) FILTER (WHERE {best})"
        if "consent_date" in columns:
            merged["consent_date"] = f"max(consent_date) FILTER (WHERE {best})"
    sql.execute("CREATE TEMP TABLE se_merged AS SELECT email, arg_min(se_pos, se_winner) AS "
                "se_survivor, arg_min(contact_id, se_winner) AS se_into, count(*) AS se_n"
                + "".join(f", {expr} AS {quoted(c)}" for c, expr in merged.items())
                + " FROM (SELECT *, max(se_rank) OVER (PARTITION BY email) AS se_best FROM "
                "se_group) GROUP BY email")
    sql.execute("CREATE OR REPLACE TABLE merged_contacts AS SELECT g.se_row AS row, "
                "g.contact_id, g.email, m.se_into AS merged_into, row_number() OVER (ORDER BY "
                "g.email, g.se_recent) AS se_order, g.se_pos FROM se_group AS g JOIN se_merged "
                "AS m ON m.email = g.email WHERE g.se_pos <> m.se_survivor")
    n_merges = sql.scalar("SELECT count(*) FROM merged_contacts")
    n_groups = sql.scalar("SELECT count(*) FROM se_merged")
    steps.append(("duplicates merged", n_merges,
                  f"{n_groups:,} contacts had several rows with the same valid email"
                  if n_merges else "same valid email after normalisation"))
    if merged:
        sql.execute("UPDATE se_c SET " + ", ".join(f"{quoted(c)} = m.{quoted(c)}"
                                                   for c in merged)
                    + " FROM se_merged AS m WHERE se_c.se_pos = m.se_survivor")
    sql.execute("UPDATE se_c SET se_reason = 'merged' WHERE se_pos IN (SELECT se_pos FROM "
                "merged_contacts)")
    # A contact_id reused by a different person: the first row keeps it.
    sql.execute("UPDATE se_c SET se_reason = 'contact_id reused by a different email (first "
                "row kept)' FROM (SELECT se_pos, row_number() OVER (PARTITION BY contact_id "
                "ORDER BY se_pos) AS k FROM se_c WHERE se_reason IS NULL) AS r WHERE "
                "r.se_pos = se_c.se_pos AND r.k > 1")
    sql.issue("contacts", options.file, "email", "se_c AS c",
              "c.se_reason IS NULL AND c.se_problem IS NOT NULL", "c.se_row",
              "c.email_original", "c.se_problem", "flagged (email_valid = False)")
    flagged = sql.scalar("SELECT count(*) FROM se_c WHERE se_reason IS NULL AND se_problem "
                         "IS NOT NULL")
    steps.append(("invalid email flagged", flagged, "kept, email_valid = False"))

    out = ", ".join(quoted(c) for c in columns)
    sql.execute(f"CREATE OR REPLACE TABLE contacts AS SELECT {out}, se_problem IS NULL AS "
                f"email_valid, se_problem AS email_problem, CAST(row_number() OVER (ORDER BY "
                f"se_pos) - 1 AS BIGINT) AS position FROM se_c WHERE se_reason IS NULL "
                f"ORDER BY se_pos")
    reasons = ["no contact_id and no email", "contact_id is missing",
               "contact_id reused by a different email (first row kept)"]
    sql.rejects("contacts", options.file, "se_in", "se_c", reasons, grouped=True)
    for reason, count in sql.reason_counts("contacts"):
        steps.append((f"rejected: {reason}", count, ""))
