"""Compile a rule to SQL with sqlglot, and run it in DuckDB.

The query reads the tables ``contacts``, ``events``, ``orders`` and, for rules that use
behaviour features, ``features`` (``base.features`` with its ``contact_id``). It returns
the ``contact_id`` of the members. Values never reach the SQL text as pasted strings: every
literal is a sqlglot literal node, and identifiers are quoted, so the same rule can be
emitted for ``duckdb``, ``postgres``, ``bigquery``, ``snowflake`` and ``spark``.

The semantics are those of :mod:`segexplore.core.evaluate` (tested to give identical
memberships): each condition is wrapped in ``COALESCE(..., FALSE)`` so that a missing
value makes a condition false, and ``NOT`` then behaves as in pandas.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import pandas as pd
from sqlglot import exp

from ..errors import RuleEvaluationError
from . import rules as R
from .evaluate import anniversary_codes, duration_offset, window_bounds
from .schema import value_kind

if TYPE_CHECKING:
    from .base import ContactBase

__all__ = ["compile_rule", "to_sql", "run_duckdb", "DIALECTS"]

DIALECTS = ("duckdb", "postgres", "bigquery", "snowflake", "spark")
_COMPARE = {"=": exp.EQ, "!=": exp.NEQ, "<": exp.LT, "<=": exp.LTE, ">": exp.GT, ">=": exp.GTE}
_AGG = {"count": exp.Count, "sum": exp.Sum, "avg": exp.Avg, "min": exp.Min, "max": exp.Max}
_INTERVAL_UNIT = {"hours": "HOUR", "days": "DAY", "weeks": "WEEK", "months": "MONTH"}


def _lit(value: Any) -> exp.Expression:
    """A literal node: the only way a value from a rule reaches the SQL."""
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, (datetime, date, pd.Timestamp)):
        stamp = pd.Timestamp(value)
        return exp.cast(exp.Literal.string(stamp.strftime("%Y-%m-%d %H:%M:%S.%f")), "TIMESTAMP")
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not math.isfinite(value):
            raise RuleEvaluationError(f"cannot compile the non-finite number {value!r}")
        return exp.Literal.number(repr(value) if isinstance(value, float) else value)
    return exp.Literal.string(str(value))


def _false(condition: exp.Expression) -> exp.Expression:
    return exp.func("COALESCE", exp.paren(condition), exp.false())


def _text(column: exp.Expression) -> exp.Expression:
    return exp.cast(column, "VARCHAR")


@dataclass
class _Context:
    as_of: pd.Timestamp
    contact_kinds: Mapping[str, str]
    feature_kinds: Mapping[str, str]
    segments: Mapping[str, Any]
    purchase_table: str
    ctes: dict[Any, tuple[str, exp.Expression]] = field(default_factory=dict)
    uses_features: bool = False


def _kind_of(dtype) -> str:
    kind = value_kind(dtype)
    return "text" if kind == "category" else kind  # SQL compares categories as text


def compile_rule(rule: R.Rule | str, base: ContactBase | None = None, *,
                 dialect: str = "duckdb", as_of: Any = None,
                 segments: Mapping[str, Any] | None = None,
                 needs: dict[str, bool] | None = None) -> str:
    """SQL selecting the ``contact_id`` of the contacts matching ``rule``.

    Parameters
    ----------
    rule : Rule or str
    base : ContactBase, optional
        Gives ``as_of``, the column types, the saved segments and whether purchases come
        from ``events`` or ``orders``. Without a base, ``as_of`` must be given, contact
        fields are read from ``contacts`` and purchases from ``events``.
    dialect : {"duckdb", "postgres", "bigquery", "snowflake", "spark"}
    as_of : date-like, optional
        Overrides ``base.as_of``.
    segments : mapping, optional
        Saved segments (name -> Segment or Rule); default ``base.segments``.
    needs : dict, optional
        Filled with ``{"features": bool}``: whether the query reads the features table.

    Examples
    --------
    >>> import segexplore as se
    >>> print(se.parse('city = "Lyon"').to_sql(as_of="2026-10-31"))
    SELECT "c"."contact_id" FROM contacts AS c WHERE COALESCE((CAST("c"."city" AS TEXT) = 'Lyon'), FALSE)
    """
    if dialect not in DIALECTS:
        raise ValueError(f"The `dialect` parameter must be one of {list(DIALECTS)}; "
                         f"not {dialect!r}.")
    if isinstance(rule, str):
        rule = R.parse(rule)
    if as_of is None:
        if base is None:
            raise ValueError("compile_rule needs `base` or `as_of`")
        as_of = base.as_of
    contact_kinds: dict[str, str] = {}
    feature_kinds: dict[str, str] = {}
    purchase_table = "events"
    if base is not None:
        contact_kinds = {c: _kind_of(t) for c, t in base.contacts.dtypes.items()}
        from .features import FEATURES

        if any(f in FEATURES and f not in contact_kinds for f in _all_fields(rule, base)):
            feature_kinds = {c: _kind_of(t) for c, t in base.features.dtypes.items()}
        has_purchase_events = base.events is not None and len(base.events) and \
            (base.events["event_type"] == "purchase").any()
        if not has_purchase_events and base.orders is not None:
            purchase_table = "orders"
    ctx = _Context(pd.Timestamp(as_of), contact_kinds, feature_kinds,
                   segments if segments is not None else (base.segments if base else {}),
                   purchase_table)
    condition = _compile(rule, ctx, ())
    query = exp.select(exp.column("contact_id", table="c", quoted=True)).from_(
        exp.to_table("contacts", alias="c", quoted=True))
    if ctx.uses_features:
        query = query.join(exp.to_table("features", alias="f", quoted=True),
                           on=exp.column("contact_id", "f", quoted=True).eq(
                               exp.column("contact_id", "c", quoted=True)), join_type="left")
    for name, cte in ctx.ctes.values():
        query = query.with_(exp.to_identifier(name, quoted=True), as_=cte)
        query = query.join(exp.to_table(name, alias=name, quoted=True),
                           on=exp.column("contact_id", name, quoted=True).eq(
                               exp.column("contact_id", "c", quoted=True)), join_type="left")
    query = query.where(condition)
    sql = query.sql(dialect=dialect)
    if needs is not None:
        needs["features"] = ctx.uses_features
    return sql


to_sql = compile_rule


def _all_fields(rule: R.Rule, base: ContactBase) -> set[str]:
    names = set(rule.fields())
    for ref in rule.segment_refs():
        saved = base.segments.get(ref)
        if saved is not None:
            inner = saved if isinstance(saved, R.Rule) else saved.effective_rule
            names |= _all_fields(inner, base)
    return names


def _compile(rule: R.Rule, ctx: _Context, stack: tuple[str, ...]) -> exp.Expression:
    if isinstance(rule, R.And):
        return exp.and_(*[exp.paren(_compile(c, ctx, stack)) for c in rule.children])
    if isinstance(rule, R.Or):
        return exp.or_(*[exp.paren(_compile(c, ctx, stack)) for c in rule.children])
    if isinstance(rule, R.Not):
        return exp.not_(exp.paren(_compile(rule.child, ctx, stack)))
    if isinstance(rule, R.SegmentRef):
        if rule.name in stack:
            raise RuleEvaluationError("segments refer to each other in a cycle: "
                                      + " -> ".join((*stack, rule.name)))
        if rule.name not in ctx.segments:
            raise RuleEvaluationError(f"unknown segment {rule.name!r}")
        saved = ctx.segments[rule.name]
        inner = saved if isinstance(saved, R.Rule) else saved.effective_rule
        return exp.paren(_compile(inner, ctx, (*stack, rule.name)))
    if isinstance(rule, R.EventCondition):
        return _event(rule, ctx)
    if isinstance(rule, R.Condition):
        column, kind = _contact_column(rule.field, ctx)
        return _condition(rule, column, kind, ctx.as_of)
    raise RuleEvaluationError(f"cannot compile {type(rule).__name__} ({rule})")


def _contact_column(name: str, ctx: _Context) -> tuple[exp.Expression, str | None]:
    if name in ctx.contact_kinds or not ctx.contact_kinds:
        from .features import FEATURES

        if ctx.contact_kinds or name not in FEATURES:
            return exp.column(name, table="c", quoted=True), ctx.contact_kinds.get(name)
    ctx.uses_features = True
    return exp.column(name, table="f", quoted=True), ctx.feature_kinds.get(name)


def _literal_for(value: Any, kind: str | None) -> tuple[exp.Expression, bool]:
    """The literal, and whether the column must be compared as text."""
    if isinstance(value, str) or (kind == "text" and isinstance(value, int)
                                  and not isinstance(value, bool)):
        return exp.Literal.string(str(value)), True
    return _lit(value), False


def _condition(node: R.Rule, column: exp.Expression, kind: str | None,
               as_of: pd.Timestamp) -> exp.Expression:
    """One attribute condition on a column (contact field or event property)."""
    if isinstance(node, R.IsMissing):
        missing = exp.Is(this=column, expression=exp.Null())
        return exp.not_(missing) if node.negated else missing
    if isinstance(node, R.Compare):
        literal, as_text = _literal_for(node.value, kind)
        target = _text(column) if as_text else column
        return _false(_COMPARE[node.op](this=target, expression=literal))
    if isinstance(node, R.DateCompare):
        if node.op == "before":
            return _false(exp.LT(this=column, expression=_lit(node.value)))
        if isinstance(node.value, datetime):
            return _false(exp.GT(this=column, expression=_lit(node.value)))
        next_day = pd.Timestamp(node.value) + pd.Timedelta(days=1)
        return _false(exp.GTE(this=column, expression=_lit(next_day)))
    if isinstance(node, R.InList):
        pairs = [_literal_for(v, kind) for v in node.values]
        as_text = any(t for _, t in pairs)
        target = _text(column) if as_text else column
        found = exp.In(this=target, expressions=[lit for lit, _ in pairs])
        return _false(exp.not_(found) if node.negated else found)
    if isinstance(node, R.Between):
        low, as_text = _literal_for(node.low, kind)
        high, _ = _literal_for(node.high, kind)
        target = _text(column) if as_text else column
        if isinstance(node.high, date) and not isinstance(node.high, datetime):
            upper = exp.LT(this=target, expression=_lit(pd.Timestamp(node.high)
                                                          + pd.Timedelta(days=1)))
        else:
            upper = exp.LTE(this=target, expression=high)
        return _false(exp.and_(exp.GTE(this=target, expression=low), upper))
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
        padded = exp.DPipe(this=exp.DPipe(this=exp.Literal.string("|"),
                                          expression=exp.Lower(this=_text(column))),
                           expression=exp.Literal.string("|"))
        tests = [exp.GT(this=exp.StrPosition(this=padded.copy(),
                                             substr=exp.Literal.string(f"|{v.lower()}|")),
                        expression=exp.Literal.number(0)) for v in node.values]
        if node.mode == "all":
            return _false(exp.and_(*tests))
        anyof = exp.or_(*[exp.paren(t) for t in tests])
        return _false(exp.not_(exp.paren(anyof)) if node.mode == "none" else anyof)
    if isinstance(node, (R.WithinLast, R.MoreThanAgo)):
        bound = _lit(as_of - duration_offset(node.duration))
        if isinstance(node, R.WithinLast):
            return _false(exp.and_(exp.GT(this=column, expression=bound),
                                   exp.LTE(this=column, expression=_lit(as_of))))
        return _false(exp.LT(this=column, expression=bound))
    if isinstance(node, R.Anniversary):
        code = exp.Add(this=exp.Mul(this=exp.Month(this=column), expression=exp.Literal.number(100)),
                       expression=exp.Day(this=column))
        codes = [exp.Literal.number(c) for c in anniversary_codes(as_of, node.days)]
        return _false(exp.In(this=exp.paren(code), expressions=codes))
    if isinstance(node, R.TopPercent):
        return _false(exp.GTE(this=column, expression=_top_threshold(column, node.percent)))
    raise RuleEvaluationError(f"cannot compile {type(node).__name__} ({node})")


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
    parts.append(exp.LTE(this=stamp, expression=_lit(end)))
    if where is not None:
        parts.append(exp.paren(_where(where, alias, ctx.as_of)))
    return exp.and_(*parts)


def _where(rule: R.Rule, alias: str, as_of: pd.Timestamp) -> exp.Expression:
    if isinstance(rule, R.And):
        return exp.and_(*[exp.paren(_where(c, alias, as_of)) for c in rule.children])
    if isinstance(rule, R.Or):
        return exp.or_(*[exp.paren(_where(c, alias, as_of)) for c in rule.children])
    if isinstance(rule, R.Not):
        return exp.not_(exp.paren(_where(rule.child, alias, as_of)))
    column = exp.column(rule.field, alias, quoted=True)
    return _condition(rule, column, None, as_of)


def _cte(ctx: _Context, key: Any, build) -> str:
    if key not in ctx.ctes:
        name = f"ev{len(ctx.ctes) + 1}"
        ctx.ctes[key] = (name, build())
    return ctx.ctes[key][0]


def _event(rule: R.EventCondition, ctx: _Context) -> exp.Expression:
    if isinstance(rule, R.EventAggregate):
        start, end = window_bounds(rule.window, ctx.as_of)

        def build() -> exp.Expression:
            table, _ = _source(rule.event_type, ctx)
            if rule.func == "count":
                value = exp.Count(this=exp.Star())
            else:
                value = _AGG[rule.func](this=exp.cast(
                    exp.column(rule.property, "e", quoted=True), "DOUBLE"))
            return exp.select(exp.column("contact_id", "e", quoted=True),
                              exp.alias_(value, "value", quoted=True)).from_(
                exp.to_table(table, alias="e", quoted=True)).where(
                _event_filter("e", rule.event_type, rule.where, start, end, ctx)).group_by(
                exp.column("contact_id", "e", quoted=True))

        key = ("aggregate", rule.func, rule.event_type, rule.property, rule.where, rule.window)
        name = _cte(ctx, key, build)
        value = exp.column("value", name, quoted=True)
        if rule.func in ("count", "sum"):
            value = exp.func("COALESCE", value, exp.Literal.number(0))
        return _false(_COMPARE[rule.op](this=value, expression=_lit(rule.value)))
    if isinstance(rule, R.NotFollowedBy):
        if rule.within.unit == "months":
            raise RuleEvaluationError("`not followed by ... within` takes hours, days or weeks")
        start, end = window_bounds(rule.window, ctx.as_of)
        within = duration_offset(rule.within)
        last_usable = min(end, ctx.as_of - within)

        def build() -> exp.Expression:
            first_table, _ = _source(rule.first.event_type, ctx)
            then_table, _ = _source(rule.then.event_type, ctx)
            a_time = exp.column("timestamp", "a", quoted=True)
            b_time = exp.column("timestamp", "b", quoted=True)
            follow = exp.select(exp.Literal.number(1)).from_(
                exp.to_table(then_table, alias="b", quoted=True)).where(exp.and_(
                    exp.column("contact_id", "b", quoted=True).eq(
                        exp.column("contact_id", "a", quoted=True)),
                    _event_filter("b", rule.then.event_type, rule.then.where, None,
                                  ctx.as_of, ctx),
                    exp.GT(this=b_time, expression=a_time.copy()),
                    exp.LTE(this=b_time.copy(), expression=exp.Add(
                        this=a_time.copy(), expression=exp.Interval(
                            this=exp.Literal.string(str(rule.within.amount)),
                            unit=exp.Var(this=_INTERVAL_UNIT[rule.within.unit])))),
                ))
            return exp.select(exp.column("contact_id", "a", quoted=True),
                              exp.alias_(exp.true(), "value", quoted=True)).distinct().from_(
                exp.to_table(first_table, alias="a", quoted=True)).where(exp.and_(
                    _event_filter("a", rule.first.event_type, rule.first.where, start,
                                  last_usable, ctx),
                    exp.not_(exp.Exists(this=follow))))

        name = _cte(ctx, ("nfb", rule), build)
        return exp.func("COALESCE", exp.column("value", name, quoted=True), exp.false())
    if isinstance(rule, R.LastPerformed):
        def build() -> exp.Expression:
            table, _ = _source(rule.event.event_type, ctx)
            return exp.select(
                exp.column("contact_id", "e", quoted=True),
                exp.alias_(exp.Max(this=exp.column("timestamp", "e", quoted=True)), "value",
                           quoted=True)).from_(exp.to_table(table, alias="e", quoted=True)).where(
                _event_filter("e", rule.event.event_type, rule.event.where, None, ctx.as_of,
                              ctx)).group_by(exp.column("contact_id", "e", quoted=True))

        name = _cte(ctx, ("last", rule.event), build)
        bound = _lit(ctx.as_of - duration_offset(rule.duration))
        value = exp.column("value", name, quoted=True)
        op = exp.LT if rule.relation == "more than ago" else exp.GT
        return _false(op(this=value, expression=bound))
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
    con = connection if connection is not None else duckdb.connect()
    con.register("contacts", base.contacts)
    for name in ("events", "orders"):
        table = getattr(base, name)
        if table is None:
            table = pd.DataFrame({"contact_id": pd.Series(dtype=base.contacts["contact_id"].dtype),
                                  "timestamp": pd.Series(dtype="datetime64[ns]"),
                                  "event_type": pd.Series(dtype="str")})
        con.register(name, table)
    if needs["features"]:
        con.register("features", base.features.assign(contact_id=base.contacts["contact_id"]))
    ids = con.execute(sql).fetchdf()["contact_id"]
    member = base.contacts["contact_id"].isin(ids)
    return pd.Series(member.to_numpy(), index=base.contacts.index, name="member")

