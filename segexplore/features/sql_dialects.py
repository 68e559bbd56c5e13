"""The feature query in the SQL of PostgreSQL and Spark: sqlglot rewrites of DuckDB's.

:func:`~segexplore.features.sql.feature_query` writes DuckDB's dialect, tuned there.
:func:`port` parses that text with sqlglot and rewrites what sqlglot's transpiler would
leave wrong in meaning, not only in spelling, so that each engine computes the pandas
implementation's values:

- numbers with a decimal point are doubles, as in numpy (PostgreSQL and Spark read ``0.5``
  as an exact decimal: sums, powers and divisions would then differ from float64's);
- time as integer nanoseconds (``epoch_ns``) from the engine's microseconds, and back to
  timestamps (``make_timestamp_ns``); literal instants as timestamp literals;
- ``round_even`` as ``rint`` of the scaled value (numpy's ``round``);
- the weighted mode's ``arg_min`` over a struct as the first of an ordered ``array_agg``
  (PostgreSQL; text in code-point order, ``COLLATE "C"``) or ``min_by`` (Spark);
- date parts as integers, ``make_date``, whole-number division, ``percentile`` (Spark's
  exact quantile with linear interpolation), no ``MATERIALIZED`` CTEs on Spark.

Timestamps in PostgreSQL and Spark hold microseconds: events that differ by less than a
microsecond, which the pandas engine tells apart, are simultaneous there.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import sqlglot
from sqlglot import exp

from segexplore.errors import ParameterError

__all__ = ["FEATURE_DIALECTS", "port"]

#: The dialects the feature query runs in.
FEATURE_DIALECTS = ("duckdb", "postgres", "spark")


def port(query: str, dialect: str) -> str:
    """The DuckDB feature query ``query`` in ``dialect``, with the same meaning.

    Examples
    --------
    >>> port("SELECT round_even(x * 100.0, 1) AS s FROM t", "postgres")
    'SELECT ROUND(CAST(x * CAST(100.0 AS DOUBLE PRECISION) * 10 AS DOUBLE PRECISION)) / 10 AS s FROM t'
    """
    if dialect not in FEATURE_DIALECTS:
        raise ParameterError(f"The feature query runs in {list(FEATURE_DIALECTS)}, "
                             f"not {dialect!r}.")
    if dialect == "duckdb":
        return query
    tree = sqlglot.parse_one(query, read="duckdb")
    # Two passes: a rewritten node's children are not visited again, so the literals are
    # made doubles first, everywhere.
    tree = tree.transform(_double_literals, copy=False)
    rewrite = _POSTGRES if dialect == "postgres" else _SPARK
    tree = tree.transform(lambda node: _rewrite(node, rewrite, dialect), copy=False)
    return tree.sql(dialect=dialect)


def _double_literals(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.Literal) and not node.is_string and (
            "." in node.this or "e" in node.this.lower()):
        return exp.cast(node, exp.DataType.build("double"))
    return node


def _template(sql: str, dialect: str, **parts: exp.Expression) -> exp.Expression:
    """``sql`` parsed in ``dialect`` with each column named ``__<key>`` replaced by
    ``parts[key]``."""
    tree = sqlglot.parse_one(sql, read=dialect)

    def fill(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Column) and node.name.startswith("__"):
            return parts[node.name[2:]].copy()
        return node
    return tree.transform(fill, copy=False)


def _anonymous(node: exp.Expression, name: str) -> bool:
    return isinstance(node, exp.Anonymous) and str(node.this).lower() == name


def _instant(node: exp.Expression) -> exp.Expression:
    """``make_timestamp(<microseconds>)`` as a timestamp literal."""
    microseconds = node.this
    if not (isinstance(microseconds, exp.Literal) and not microseconds.is_string):
        raise ParameterError(f"make_timestamp of a literal only, not {node.sql()}")
    stamp = pd.Timestamp(int(microseconds.this), unit="us")
    return exp.cast(exp.Literal.string(stamp.strftime("%Y-%m-%d %H:%M:%S.%f")),
                    exp.DataType.build("timestamp"))


def _rewrite(node: exp.Expression, rules: dict[str, Callable], dialect: str
             ) -> exp.Expression:
    if isinstance(node, exp.Anonymous):
        build = rules.get(str(node.this).lower())
        if build is not None:
            return build(*node.expressions)
    for kind, build in rules.items():
        if not isinstance(kind, str) and isinstance(node, kind):
            return build(node)
    if isinstance(node, exp.UnixToTime):
        return _instant(node)
    if isinstance(node, exp.Filter) and isinstance(node.this, exp.ArgMin):
        return rules["arg_min"](node)
    return node


def _nanoseconds(dialect: str, microseconds: str) -> Callable:
    def build(cast: exp.Expression) -> exp.Expression:
        # epoch_ns(CAST(x AS TIMESTAMP_NS)): the time of x in nanoseconds.
        column = cast.this if isinstance(cast, exp.Cast) else cast
        return _template(f"{microseconds} * 1000", dialect, x=column)
    return build


def _round_half_even(rint: str, dialect: str) -> Callable:
    def build(value: exp.Expression, digits: exp.Expression) -> exp.Expression:
        scale = 10 ** int(digits.this)
        return _template(f"{rint.format(scale=scale)} / {scale}", dialect, v=value)
    return build


def _postgres_mode(node: exp.Filter) -> exp.Expression:
    """``arg_min(v, {score, value}) FILTER (WHERE c)``: the first value by score, then
    by the value in code-point order (as pandas and DuckDB sort text)."""
    arg_min, condition = node.this, node.expression.this
    score, value = (part.expression for part in arg_min.expression.expressions)
    return _template('(ARRAY_AGG(__v ORDER BY __s, __w COLLATE "C") FILTER (WHERE __c))[1]',
                     "postgres", v=arg_min.this, s=score, w=value, c=condition)


def _spark_mode(node: exp.Filter) -> exp.Expression:
    arg_min, condition = node.this, node.expression.this
    return _template("MIN_BY(__v, __s) FILTER (WHERE __c)", "spark", v=arg_min.this,
                     s=arg_min.expression, c=condition)


def _integer_part(node: exp.Expression) -> exp.Expression:
    # EXTRACT gives a numeric in PostgreSQL: make_date and the age take integers.
    return exp.cast(node, exp.DataType.build("int"))


def _integer_parts(node: exp.Expression) -> exp.Expression:
    """``node`` with its date parts made integers (its children are not visited again)."""
    return node.transform(lambda part: _integer_part(part) if isinstance(
        part, (exp.Month, exp.Day, exp.Year)) else part, copy=False)


_POSTGRES: dict = {
    "epoch_ns": _nanoseconds("postgres", "CAST(EXTRACT(EPOCH FROM __x) * 1000000 AS BIGINT)"),
    "make_timestamp_ns": lambda ns: _template(
        "CAST('1970-01-01' AS TIMESTAMP) + (__n / 1000) * INTERVAL '1 microsecond'",
        "postgres", n=ns),
    "round_even": _round_half_even("ROUND(CAST(__v * {scale} AS DOUBLE PRECISION))",
                                   "postgres"),
    "arg_min": _postgres_mode,
    exp.Month: _integer_part, exp.Day: _integer_part, exp.Year: _integer_part,
    exp.DateFromParts: lambda node: exp.Anonymous(this="MAKE_DATE", expressions=[
        _integer_parts(node.args[part]) for part in ("year", "month", "day")]),
    exp.IntDiv: lambda node: _template("CAST(DIV(__a, __b) AS BIGINT)", "postgres",
                                       a=node.this, b=node.expression),
}

_SPARK: dict = {
    "epoch_ns": _nanoseconds("spark", "UNIX_MICROS(CAST(__x AS TIMESTAMP))"),
    "make_timestamp_ns": lambda ns: _template("TIMESTAMP_MICROS(__n DIV 1000)", "spark", n=ns),
    "round_even": _round_half_even("RINT(__v * {scale})", "spark"),
    "arg_min": _spark_mode,
    exp.PercentileCont: lambda node: exp.Anonymous(
        this="PERCENTILE", expressions=[node.this, node.expression]),
    exp.CTE: lambda node: _unmaterialized(node),
}


def _unmaterialized(cte: exp.CTE) -> exp.CTE:
    """Spark has no ``MATERIALIZED`` CTEs (it plans each reference)."""
    cte.set("materialized", None)
    # The CTE's query is rewritten too: it was returned as is, so visited after.
    return cte
