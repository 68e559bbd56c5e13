"""Compile a rule to SQL with sqlglot, and run it in DuckDB.

The query reads the tables ``contacts``, ``events``, ``orders`` and, for rules that use
behaviour features, ``features`` (``base.features`` with its ``contact_id``). It returns
the ``contact_id`` of the members. Values never reach the SQL text as pasted strings: every
literal is a sqlglot literal node, and identifiers are quoted, so the same rule can be
emitted for ``duckdb``, ``postgres``, ``bigquery``, ``snowflake`` and ``spark``.

The semantics are those of :mod:`segexplore.rules.engines.pandas` (tested to give identical
memberships): each condition is wrapped in ``COALESCE(..., FALSE)`` so that a missing
value makes a condition false, and ``NOT`` then behaves as in pandas.
"""

from __future__ import annotations

import gc
import math
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pandas as pd
from sqlglot import exp

from segexplore.errors import ParameterError, RuleEvaluationError
from segexplore.features.registry import FEATURE_KINDS
from segexplore.model import hooks
from segexplore.model.roles import value_kind
from segexplore.rules import nodes as R
from segexplore.rules.check import BaseSchema, check_rule
from segexplore.rules.events import EventAggregate, LastPerformed, NotFollowedBy
from segexplore.rules.parser import parse
from segexplore.rules.text import shorten
from segexplore.rules.walk import RuleWalk, field_table
from segexplore.rules.windows import (
    anniversary_codes,
    follow_up,
    in_time_range,
    shift_back_ns,
    time_ns,
    window_bounds,
)

if TYPE_CHECKING:
    from segexplore.model.base import ContactBase

__all__ = ["compile_rule", "to_sql", "run_duckdb", "DIALECTS"]

DIALECTS = ("duckdb", "postgres", "bigquery", "snowflake", "spark")
_COMPARE = {"=": exp.EQ, "!=": exp.NEQ, "<": exp.LT, "<=": exp.LTE, ">": exp.GT, ">=": exp.GTE}
_AGG = {"count": exp.Count, "sum": exp.Sum, "avg": exp.Avg, "min": exp.Min, "max": exp.Max}
_INTERVAL_UNIT = {"hours": "HOUR", "days": "DAY", "weeks": "WEEK", "months": "MONTH"}


_EPOCH = datetime(1970, 1, 1)
_INT64 = 2**63


def _lit(value: Any) -> exp.Expression:
    """A literal node: the only way a value from a rule reaches the SQL."""
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, (datetime, date, pd.Timestamp)):
        return _time_lit(time_ns(value))
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not math.isfinite(value):
            raise RuleEvaluationError(f"cannot compile the non-finite number {value!r}")
        if isinstance(value, int) and not -_INT64 <= value < _INT64:
            value = float(value)  # beyond BIGINT: engines would read a BIGNUM/NUMERIC
        return exp.Literal.number(repr(value) if isinstance(value, float) else value)
    return exp.Literal.string(str(value))


def _time_lit(ns: int) -> exp.Expression:
    """``CAST('YYYY-MM-DD HH:MM:SS.ffffff' AS TIMESTAMP)`` for exact nanoseconds (any year
    1..9999; precision: microseconds, as every SQL engine keeps)."""
    when = _EPOCH + timedelta(microseconds=ns // 1_000)
    text = (f"{when.year:04d}-{when.month:02d}-{when.day:02d} {when.hour:02d}:"
            f"{when.minute:02d}:{when.second:02d}.{when.microsecond:06d}")
    return exp.cast(exp.Literal.string(text), "TIMESTAMP", copy=False)


def _paren(node: exp.Expression) -> exp.Paren:
    return exp.Paren(this=node)


def _chain(kind: type[exp.Connector], parts: Sequence[exp.Expression]) -> exp.Expression:
    """``a AND b AND c``: built without sqlglot's copies, as a balanced tree.

    ``exp.and_`` copies each operand, and wrapping copies again, so a rule of 10,000 terms
    took seconds; a balanced tree prints the same text and stays shallow.
    """
    nodes = list(parts)
    while len(nodes) > 1:
        paired = [kind(this=nodes[i], expression=nodes[i + 1])
                  for i in range(0, len(nodes) - 1, 2)]
        if len(nodes) % 2:
            paired.append(nodes[-1])
        nodes = paired
    return nodes[0]


def _all(*parts: exp.Expression) -> exp.Expression:
    return _chain(exp.And, parts)


def _any(*parts: exp.Expression) -> exp.Expression:
    return _chain(exp.Or, parts)


def _not(node: exp.Expression) -> exp.Expression:
    return exp.Not(this=node)


def _false(condition: exp.Expression) -> exp.Expression:
    return exp.Coalesce(this=_paren(condition), expressions=[exp.false()])


def _text(column: exp.Expression) -> exp.Expression:
    return exp.cast(column, "VARCHAR", copy=False)


@dataclass
class _Context:
    as_of: pd.Timestamp
    contact_kinds: Mapping[str, str]
    feature_kinds: Mapping[str, str]
    segments: Mapping[str, Any]
    purchase_table: str
    #: Column kinds of the events and orders tables (empty without a base: unknown).
    table_kinds: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    ctes: dict[Any, tuple[str, exp.Expression]] = field(default_factory=dict)
    uses_features: bool = False
    uses_contacts: bool = False
    #: Saved segments whose members an engine holds in a table (name -> table).
    saved_tables: Mapping[str, str] = field(default_factory=dict)
    #: The SQL dialect emitted: where engines differ in meaning, not only in spelling.
    dialect: str = "duckdb"


def _sql_kind(kind: str) -> str:
    return "text" if kind == "category" else kind  # SQL compares categories as text


def _kind_of(dtype) -> str:
    return _sql_kind(value_kind(dtype))


@hooks.implements("to_sql")
def compile_rule(rule: R.Rule | str, base: ContactBase | None = None, *,
                 dialect: str = "duckdb", as_of: Any = None,
                 segments: Mapping[str, Any] | None = None,
                 needs: dict[str, bool] | None = None,
                 tables: Mapping[str, str] | None = None, select: str = "contact_id",
                 saved_tables: Mapping[str, str] | None = None) -> str:
    """SQL selecting the ``contact_id`` of the contacts matching ``rule``.

    Parameters
    ----------
    rule : Rule or str
    base : ContactBase, optional
        Gives ``as_of``, the column types, the saved segments and whether purchases come
        from ``events`` or ``orders``. With a base, the rule is first checked by
        :func:`~segexplore.rules.check.check_rule` (unknown names, type mismatches), as the
        pandas engine checks it, so both raise the same
        :class:`~segexplore.errors.RuleEvaluationError`. Without a base, ``as_of``
        must be given, contact fields are read from ``contacts`` and purchases from
        ``events``.
    dialect : {"duckdb", "postgres", "bigquery", "snowflake", "spark"}
    as_of : date-like, optional
        Overrides ``base.as_of``.
    segments : mapping, optional
        Saved segments (name -> Segment or Rule); default ``base.segments``.
    needs : dict, optional
        Filled with ``{"features": bool, "contacts": bool}``: whether the query reads the
        features table, and any column of the contacts but ``contact_id``.
    tables : mapping, optional
        The name each of ``contacts``, ``events``, ``orders`` and ``features`` has in the
        database, when not its own.
    select : str, default "contact_id"
        The column of the contacts table selected (an engine's own row number, say).
    saved_tables : mapping, optional
        Saved segments whose members' ``contact_id`` a table already holds (name ->
        table): ``segment("A")`` reads that table instead of compiling A's rule again.

    Examples
    --------
    >>> import segexplore as se
    >>> print(se.parse('city = "Lyon"').to_sql(as_of="2026-10-31"))
    SELECT "c"."contact_id" FROM contacts AS c WHERE COALESCE((CAST("c"."city" AS TEXT) = 'Lyon'), FALSE)
    """
    if dialect not in DIALECTS:
        raise ParameterError(f"The `dialect` parameter must be one of {list(DIALECTS)}; "
                             f"not {dialect!r}.")
    text = rule if isinstance(rule, str) else None
    if isinstance(rule, str):
        rule = parse(rule)
    if as_of is None:
        if base is None:
            raise ParameterError("compile_rule needs `base` or `as_of`")
        as_of = base.as_of
    segments = segments if segments is not None else (base.segments if base else {})
    try:
        with _no_gc_pauses():
            return _compile_query(rule, text, base, dialect, pd.Timestamp(as_of), segments,
                                  needs, tables, select, saved_tables or {})
    except RecursionError:
        raise RuleEvaluationError(
            "the rule is nested too deeply to compile (and/or/not inside each other "
            "thousands of levels deep); flatten it, e.g. And(*conditions)") from None


@contextmanager
def _no_gc_pauses() -> Iterator[None]:
    """Pause the cyclic garbage collector while the tree is built.

    sqlglot nodes point to their parents, so every node is in a cycle: with the collector
    on, each few hundred new nodes trigger a pass over all the live ones, and compiling
    10,000 terms grew faster than linearly. Reference counting still frees everything.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _compile_query(rule: R.Rule, text: str | None, base: ContactBase | None, dialect: str,
                   as_of: pd.Timestamp, segments: Mapping[str, Any],
                   needs: dict[str, bool] | None, tables: Mapping[str, str] | None,
                   select: str = "contact_id",
                   saved_tables: Mapping[str, str] | None = None) -> str:
    contact_kinds: dict[str, str] = {}
    feature_kinds: dict[str, str] = {}
    table_kinds: dict[str, dict[str, str]] = {}
    purchase_table = "events"
    if base is not None:
        # The checker every engine runs: the same error, whichever engine runs the rule. A
        # base held by another engine (DuckDB) describes itself (rule_schema).
        own_schema = getattr(base, "rule_schema", None)
        schema = (own_schema(segments, as_of) if own_schema is not None
                  else BaseSchema(base, segments, as_of))
        check_rule(rule, schema, text=text)
        # Declared by the registry: compiling computes no feature.
        feature_kinds = {name: _sql_kind(kind) for name, kind in FEATURE_KINDS.items()}
        if own_schema is not None:
            contact_kinds = {c: _sql_kind(schema.contact_kind(c))
                             for c in schema.contact_columns}
            purchase_table = schema.purchase_table or "events"
            table_kinds = {name: {c: _sql_kind(k) for c, k in kinds.items()}
                           for name, kinds in schema.table_kinds.items()}
        else:
            contact_kinds = {c: _kind_of(t) for c, t in base.contacts.dtypes.items()}
            has_purchase_events = base.events is not None and len(base.events) and \
                (base.events["event_type"] == "purchase").any()
            if not has_purchase_events and base.orders is not None:
                purchase_table = "orders"
            for name in ("events", "orders"):
                table = getattr(base, name)
                table_kinds[name] = ({} if table is None else
                                     {str(c): _kind_of(t) for c, t in table.dtypes.items()})
    ctx = _Context(as_of, contact_kinds, feature_kinds, segments, purchase_table, table_kinds,
                   saved_tables=dict(saved_tables or {}), dialect=dialect)
    condition = _Compile(ctx).visit(rule)
    query = exp.select(exp.column(select, table="c", quoted=True)).from_(
        exp.to_table("contacts", alias="c", quoted=True), copy=False)
    if ctx.uses_features:
        query = query.join(exp.to_table("features", alias="f", quoted=True),
                           on=exp.column("contact_id", "f", quoted=True).eq(
                               exp.column("contact_id", "c", quoted=True)), join_type="left",
                           copy=False)
    for name, cte in ctx.ctes.values():
        query = query.with_(exp.to_identifier(name, quoted=True), as_=cte, copy=False)
        query = query.join(exp.to_table(name, alias=name, quoted=True),
                           on=exp.column("contact_id", name, quoted=True).eq(
                               exp.column("contact_id", "c", quoted=True)), join_type="left",
                           copy=False)
    query = query.where(condition, copy=False)
    if tables:  # the tables' names in the database (a DuckDB base's features per date)
        query = exp.replace_tables(query, dict(tables), copy=False)
    sql = query.sql(dialect=dialect, copy=False)  # the tree is ours: no copy
    if needs is not None:
        needs["features"] = ctx.uses_features
        needs["contacts"] = ctx.uses_contacts
    return sql


to_sql = compile_rule


class _Compile(RuleWalk[exp.Expression]):
    """The rule's condition as one sqlglot expression (and/or/not as AND/OR/NOT chains)."""

    verb = "compile"

    def __init__(self, ctx: _Context) -> None:
        super().__init__(ctx.segments)
        self.ctx = ctx

    def all_of(self, children: Sequence[R.Rule], stack: tuple[str, ...]) -> exp.Expression:
        return _all(*[_paren(self.visit(c, stack)) for c in children])

    def any_of(self, children: Sequence[R.Rule], stack: tuple[str, ...]) -> exp.Expression:
        return _any(*[_paren(self.visit(c, stack)) for c in children])

    def negate(self, child: R.Rule, stack: tuple[str, ...]) -> exp.Expression:
        return _not(_paren(self.visit(child, stack)))

    def saved(self, name: str, stack: tuple[str, ...]) -> exp.Expression:
        table = self.ctx.saved_tables.get(name)
        if table is not None:  # materialised once: joined, not compiled into every query
            members = exp.select(exp.column("contact_id", quoted=True)).from_(
                exp.to_table(table, quoted=True))
            return exp.column("contact_id", "c", quoted=True).isin(query=members)
        return _paren(super().saved(name, stack))

    def event(self, rule: R.EventCondition) -> exp.Expression:
        return _event(rule, self.ctx)

    def condition(self, rule: R.Condition) -> exp.Expression:
        column, kind = _contact_column(rule.field, self.ctx)
        return _condition(rule, column, kind, self.ctx)


class _Where(_Compile):
    """An event where-filter: its conditions are on the properties of ``table``."""

    def __init__(self, ctx: _Context, alias: str, table: str) -> None:
        super().__init__(ctx)
        self.alias, self.table = alias, table

    def condition(self, rule: R.Condition) -> exp.Expression:
        column, kind = _property(self.alias, rule.field, self.table, self.ctx)
        return _condition(rule, column, kind, self.ctx)


def _contact_column(name: str, ctx: _Context) -> tuple[exp.Expression, str | None]:
    table = field_table(name, ctx.contact_kinds)
    if table is None:  # unknown (without a base): a contact column; with one: checked before
        table = "features" if ctx.contact_kinds else "contacts"
    if table == "contacts":
        ctx.uses_contacts = True
        return exp.column(name, table="c", quoted=True), ctx.contact_kinds.get(name)
    ctx.uses_features = True
    return exp.column(name, table="f", quoted=True), ctx.feature_kinds.get(name)


def _literal_for(value: Any, kind: str | None) -> tuple[exp.Expression, str | None]:
    """The literal, and how the column must be read to compare with it: ``"text"``,
    ``"number"`` (a boolean column against a number: true is 1) or None (as it is)."""
    if isinstance(value, str) or (kind == "text" and isinstance(value, int)
                                  and not isinstance(value, bool)):
        return exp.Literal.string(str(value)), "text"
    if isinstance(value, bool) and kind == "number":
        return exp.Literal.number(int(value)), None  # score > true: true is 1, as in pandas
    if kind == "bool" and isinstance(value, (int, float)) and not isinstance(value, bool):
        return _lit(value), "number"
    return _lit(value), None


def _read_as(column: exp.Expression, how: str | None) -> exp.Expression:
    if how == "text":
        return _text(column)
    if how == "number":
        return exp.cast(column, "INT", copy=False)
    return column


#: For a time no engine holds (year 10000 and more, before year 1), the comparisons that
#: every present value satisfies, as in the pandas evaluator.
_ALWAYS_IF_LATER = (exp.LT, exp.LTE, exp.NEQ)
_ALWAYS_IF_EARLIER = (exp.GT, exp.GTE, exp.NEQ)
_LATEST_NS = time_ns(datetime(9999, 12, 31, 23, 59, 59, 999999))
_EARLIEST_NS = time_ns(datetime(1, 1, 1))


def _time_compare(op: type[exp.Expression], column: exp.Expression,
                  ns: int) -> exp.Expression:
    """``column op time`` for exact nanoseconds ``ns``.

    A time beyond pandas' 1677-2262 range is compared with the column read as a plain
    (microsecond) TIMESTAMP: DuckDB cannot widen such a literal to the nanosecond columns
    pandas hands it, and a warehouse gets the exact answer for its own far dates.
    """
    if in_time_range(ns):
        return op(this=column, expression=_time_lit(ns))
    if ns > _LATEST_NS or ns < _EARLIEST_NS:
        always = _ALWAYS_IF_LATER if ns > _LATEST_NS else _ALWAYS_IF_EARLIER
        return exp.not_(exp.Is(this=column, expression=exp.Null()), copy=False) \
            if op in always else exp.false()
    return op(this=exp.cast(column, "TIMESTAMP", copy=False), expression=_time_lit(ns))


def _is_time(value: Any) -> bool:
    return isinstance(value, (date, datetime))


_DAY_NS = 86_400 * 10**9


def _ordered(column: exp.Expression, how: str | None, ctx: _Context) -> exp.Expression:
    """``column`` read as ``how`` for ``<``, ``>``, ``between``: text in code-point order,
    as pandas compares strings. PostgreSQL sorts text by the database's collation
    (``en_US``, ICU: ``'Élise' < 'Zo'``), so there it is compared ``COLLATE "C"`` (bytes of
    UTF-8: code points); DuckDB, Spark, BigQuery and Snowflake compare bytes by default."""
    target = _read_as(column, how)
    if how == "text" and ctx.dialect == "postgres":
        return exp.Collate(this=target, expression=exp.Identifier(this="C", quoted=True))
    return target


_ORDERING = (exp.LT, exp.LTE, exp.GT, exp.GTE)


def _condition(node: R.Rule, column: exp.Expression, kind: str | None,
               ctx: _Context) -> exp.Expression:
    """One attribute condition on a column (contact field or event property)."""
    as_of = ctx.as_of
    if isinstance(node, R.IsMissing):
        missing = exp.Is(this=column, expression=exp.Null())
        return _not(missing) if node.negated else missing
    if isinstance(node, R.Compare):
        if _is_time(node.value):
            return _false(_time_compare(_COMPARE[node.op], column, time_ns(node.value)))
        literal, how = _literal_for(node.value, kind)
        op = _COMPARE[node.op]
        target = _ordered(column, how, ctx) if op in _ORDERING else _read_as(column, how)
        return _false(op(this=target, expression=literal))
    if isinstance(node, R.DateCompare):
        ns = time_ns(node.value)
        if node.op == "before":
            return _false(_time_compare(exp.LT, column, ns))
        if isinstance(node.value, datetime):
            return _false(_time_compare(exp.GT, column, ns))
        return _false(_time_compare(exp.GTE, column, ns + _DAY_NS))  # from the next day on
    if isinstance(node, R.InList):
        if all(_is_time(v) for v in node.values):
            times = [time_ns(v) for v in node.values]
            wide = not all(in_time_range(t) for t in times)
            target = exp.cast(column, "TIMESTAMP", copy=False) if wide else column
            kept = [_time_lit(t) for t in times if _EARLIEST_NS <= t <= _LATEST_NS]
            found = exp.In(this=target, expressions=kept) if kept else exp.false()
        else:
            pairs = [_literal_for(v, kind) for v in node.values]
            how = "text" if any(h == "text" for _, h in pairs) else next(
                (h for _, h in pairs if h is not None), None)
            literals = [exp.Literal.number(int(v)) if how == "number" and isinstance(v, bool)
                        else lit for (lit, _), v in zip(pairs, node.values, strict=True)]
            found = exp.In(this=_read_as(column, how), expressions=literals)
        return _false(_not(found) if node.negated else found)
    if isinstance(node, R.Between):
        if _is_time(node.low):
            high = time_ns(node.high)
            upper = (_time_compare(exp.LT, column, high + _DAY_NS)
                     if not isinstance(node.high, datetime)
                     else _time_compare(exp.LTE, column, high))
            return _false(_all(_time_compare(exp.GTE, column, time_ns(node.low)), upper))
        low, how = _literal_for(node.low, kind)
        high, _ = _literal_for(node.high, kind)
        target = _ordered(column, how, ctx)
        return _false(_all(exp.GTE(this=target, expression=low),
                           exp.LTE(this=target.copy(), expression=high)))
    if isinstance(node, R.TextMatch):
        lowered = exp.Lower(this=_text(column))
        needle = node.value.lower()
        if node.op == "contains":
            test = exp.GT(this=exp.StrPosition(this=lowered, substr=exp.Literal.string(needle)),
                          expression=exp.Literal.number(0))
        elif node.op == "starts with":
            test = exp.EQ(this=exp.Substring(this=lowered, start=exp.Literal.number(1),
                                             length=exp.Literal.number(len(needle))),
                          expression=exp.Literal.string(needle))
        else:
            test = exp.EQ(this=exp.Right(this=lowered, expression=exp.Literal.number(len(needle))),
                          expression=exp.Literal.string(needle))
        return _false(test)
    if isinstance(node, R.Has):
        tests = [exp.GT(this=exp.StrPosition(this=_padded_tags(column),
                                             substr=exp.Literal.string(f"|{v.lower()}|")),
                        expression=exp.Literal.number(0)) for v in node.values]
        if node.mode == "all":
            return _false(_all(*tests))
        anyof = _any(*[_paren(t) for t in tests])
        return _false(_not(_paren(anyof)) if node.mode == "none" else anyof)
    if isinstance(node, (R.WithinLast, R.MoreThanAgo)):
        bound = shift_back_ns(as_of, node.duration)
        if isinstance(node, R.WithinLast):
            return _false(_all(_time_compare(exp.GT, column, bound),
                               _time_compare(exp.LTE, column.copy(), as_of.value)))
        return _false(_time_compare(exp.LT, column, bound))
    if isinstance(node, R.Anniversary):
        code = exp.Add(this=exp.Mul(this=exp.Month(this=column), expression=exp.Literal.number(100)),
                       expression=exp.Day(this=column.copy()))
        codes = [exp.Literal.number(c) for c in anniversary_codes(as_of, node.days)]
        return _false(exp.In(this=_paren(code), expressions=codes))
    if isinstance(node, R.TopPercent):
        return _false(exp.GTE(this=column, expression=_top_threshold(column, node.percent)))
    raise RuleEvaluationError(f"cannot compile {type(node).__name__} ({node})")


def _padded_tags(column: exp.Expression) -> exp.Expression:
    """``'|' || LOWER(CAST(column AS TEXT)) || '|'``: each tag is then ``|tag|``."""
    return exp.DPipe(this=exp.DPipe(this=exp.Literal.string("|"),
                                    expression=exp.Lower(this=_text(column.copy()))),
                     expression=exp.Literal.string("|"))


def _top_threshold(column: exp.Column, percent: float) -> exp.Expression:
    """Subquery: the smallest value among the top ``percent`` non-missing values."""
    table = "f" if column.table == "f" else "c"
    source = "features" if table == "f" else "contacts"
    name = column.name
    value = exp.column(name, quoted=True)
    ranked = exp.select(
        exp.alias_(value, "v", quoted=True),
        exp.alias_(exp.Window(this=exp.RowNumber(), order=exp.Order(
            expressions=[exp.Ordered(this=value.copy(), desc=True)])), "rn", quoted=True),
        exp.alias_(exp.Window(this=exp.Count(this=exp.Star())), "n", quoted=True),
    ).from_(exp.to_table(source, quoted=True)).where(
        exp.not_(exp.Is(this=value.copy(), expression=exp.Null())))
    share = exp.Div(this=exp.Mul(this=exp.column("n", quoted=True),
                                 expression=_lit(float(percent))),
                    expression=exp.Literal.number("100.0"))
    picked = exp.select(exp.Min(this=exp.column("v", quoted=True))).from_(
        ranked.subquery("ranked")).where(
        exp.LTE(this=exp.column("rn", quoted=True), expression=exp.Ceil(this=share)))
    return exp.paren(picked)


# --- events ------------------------------------------------------------------------------

def _source(event_type: str, ctx: _Context) -> tuple[str, bool]:
    """Table holding ``event_type`` events, and whether it needs an event_type filter."""
    if event_type == "purchase" and ctx.purchase_table == "orders":
        return "orders", False
    return "events", True


def _wrapped(node: exp.Expression) -> exp.Expression:
    """``node`` in parentheses when it is an AND/OR chain (inside another chain)."""
    return _paren(node) if isinstance(node, exp.Connector) else node


def _property(alias: str, name: str, table: str, ctx: _Context) -> tuple[exp.Expression,
                                                                        str | None]:
    """An event property and its kind; NULL when the base's table has no such column
    (only possible for an event type without any event, which pandas reads as missing)."""
    kinds = ctx.table_kinds.get(table)
    if kinds is not None and name not in kinds:
        return exp.Null(), None
    return exp.column(name, alias, quoted=True), (kinds or {}).get(name)


def _event_filter(alias: str, event_type: str, where: R.Rule | None, start, end,
                  ctx: _Context) -> exp.Expression:
    table, typed = _source(event_type, ctx)
    stamp = exp.column("timestamp", alias, quoted=True)
    parts: list[exp.Expression] = []
    if typed:
        parts.append(exp.EQ(this=_text(exp.column("event_type", alias, quoted=True)),
                            expression=exp.Literal.string(event_type)))
    if start is not None:
        parts.append(exp.GT(this=stamp, expression=_lit(start)))
    parts.append(exp.LTE(this=stamp.copy(), expression=_lit(end)))
    if where is not None:
        parts.append(_paren(_Where(ctx, alias, table).visit(where)))
    return _all(*parts)


def _cte(ctx: _Context, key: Any, build) -> str:
    if key not in ctx.ctes:
        name = f"ev{len(ctx.ctes) + 1}"
        ctx.ctes[key] = (name, build())
    return ctx.ctes[key][0]


def _event(rule: R.EventCondition, ctx: _Context) -> exp.Expression:
    if isinstance(rule, EventAggregate):
        start, end = window_bounds(rule.window, ctx.as_of)

        def build() -> exp.Expression:
            table, _ = _source(rule.event_type, ctx)
            if rule.func == "count":
                value = exp.Count(this=exp.Star())
            else:
                column, _kind = _property("e", rule.property, table, ctx)
                value = _AGG[rule.func](this=exp.cast(column, "DOUBLE", copy=False))
            return exp.select(exp.column("contact_id", "e", quoted=True),
                              exp.alias_(value, "value", quoted=True)).from_(
                exp.to_table(table, alias="e", quoted=True), copy=False).where(
                _event_filter("e", rule.event_type, rule.where, start, end, ctx),
                copy=False).group_by(exp.column("contact_id", "e", quoted=True), copy=False)

        key = ("aggregate", rule.func, rule.event_type, rule.property, rule.where, rule.window)
        name = _cte(ctx, key, build)
        value = exp.column("value", name, quoted=True)
        if rule.func in ("count", "sum"):
            value = exp.Coalesce(this=value, expressions=[exp.Literal.number(0)])
        return _false(_COMPARE[rule.op](this=value, expression=_lit(rule.value)))
    if isinstance(rule, NotFollowedBy):
        if rule.within.unit == "months":
            raise RuleEvaluationError("`not followed by ... within` takes hours, days or weeks")
        if follow_up(rule.within, ctx.as_of) is None:
            return exp.false()  # no first event can be that old: nobody matches, as in pandas
        start, end = window_bounds(rule.window, ctx.as_of)
        last_usable = pd.Timestamp(min(end.value, shift_back_ns(ctx.as_of, rule.within)),
                                   unit="ns")

        def build() -> exp.Expression:
            first_table, _ = _source(rule.first.event_type, ctx)
            then_table, _ = _source(rule.then.event_type, ctx)
            a_time = exp.column("timestamp", "a", quoted=True)
            b_time = exp.column("timestamp", "b", quoted=True)
            follow = exp.select(exp.Literal.number(1)).from_(
                exp.to_table(then_table, alias="b", quoted=True), copy=False).where(_all(
                    exp.column("contact_id", "b", quoted=True).eq(
                        exp.column("contact_id", "a", quoted=True)),
                    _wrapped(_event_filter("b", rule.then.event_type, rule.then.where, None,
                                           ctx.as_of, ctx)),
                    exp.GT(this=b_time, expression=a_time.copy()),
                    exp.LTE(this=b_time.copy(), expression=exp.Add(
                        this=a_time.copy(), expression=exp.Interval(
                            this=exp.Literal.string(str(rule.within.amount)),
                            unit=exp.Var(this=_INTERVAL_UNIT[rule.within.unit])))),
                ), copy=False)
            return exp.select(exp.column("contact_id", "a", quoted=True),
                              exp.alias_(exp.true(), "value", quoted=True)).distinct().from_(
                exp.to_table(first_table, alias="a", quoted=True), copy=False).where(_all(
                    _wrapped(_event_filter("a", rule.first.event_type, rule.first.where, start,
                                           last_usable, ctx)),
                    _not(exp.Exists(this=follow))), copy=False)

        name = _cte(ctx, ("nfb", rule), build)
        return exp.Coalesce(this=exp.column("value", name, quoted=True),
                            expressions=[exp.false()])
    if isinstance(rule, LastPerformed):
        def build() -> exp.Expression:
            table, _ = _source(rule.event.event_type, ctx)
            return exp.select(
                exp.column("contact_id", "e", quoted=True),
                exp.alias_(exp.Max(this=exp.column("timestamp", "e", quoted=True)), "value",
                           quoted=True)).from_(exp.to_table(table, alias="e", quoted=True),
                                               copy=False).where(
                _event_filter("e", rule.event.event_type, rule.event.where, None, ctx.as_of,
                              ctx), copy=False).group_by(
                exp.column("contact_id", "e", quoted=True), copy=False)

        name = _cte(ctx, ("last", rule.event), build)
        value = exp.column("value", name, quoted=True)
        op = exp.LT if rule.relation == "more than ago" else exp.GT
        return _false(_time_compare(op, value, shift_back_ns(ctx.as_of, rule.duration)))
    raise RuleEvaluationError(f"cannot compile {type(rule).__name__} ({rule})")


def run_duckdb(rule: R.Rule | str, base: ContactBase, *, connection=None) -> pd.Series:
    """Evaluate ``rule`` in DuckDB over the base's tables; a boolean mask like pandas'.

    Examples
    --------
    >>> import segexplore as se
    >>> base = se.load_sample()
    >>> rule = 'city = "Lyon" and count(visit, last 30 days) >= 1'
    >>> bool((run_duckdb(rule, base) == base.segment(rule).mask).all())
    True
    """
    import duckdb

    needs: dict[str, bool] = {}
    sql = compile_rule(rule, base, needs=needs)
    try:
        con = connection if connection is not None else duckdb.connect()
        con.register("contacts", base.contacts)
        for name in ("events", "orders"):
            table = getattr(base, name)
            if table is None:
                table = pd.DataFrame({
                    "contact_id": pd.Series(dtype=base.contacts["contact_id"].dtype),
                    "timestamp": pd.Series(dtype="datetime64[ns]"),
                    "event_type": pd.Series(dtype="str")})
            con.register(name, table)
        if needs["features"]:
            con.register("features",
                         base.features.assign(contact_id=base.contacts["contact_id"]))
        ids = con.execute(sql).fetchdf()["contact_id"]
    except duckdb.Error as error:
        # compile_rule checked the rule (rules.check); what remains is DuckDB's own
        # (a closed connection, memory): say so, with the rule, not as a raw duckdb error.
        text = rule if isinstance(rule, str) else str(rule)
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise RuleEvaluationError(
            f"In rule {shorten(text)!r}: DuckDB could not run the query: "
            f"{type(error).__name__}: {first_line}") from error
    member = base.contacts["contact_id"].isin(ids)
    return pd.Series(member.to_numpy(), index=base.contacts.index, name="member")
