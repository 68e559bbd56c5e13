"""Why is this contact in (or out)? :func:`segexplore.rules.explain.explain` for a base held
in an engine: a DuckDB base or a connected one (PostgreSQL, Spark, a DuckDB connection).

The walk is the pandas explain's (:class:`~segexplore.rules.explain.ExplainWalk`), one row per
node of the rule; what it asks of the base is answered by the engine for that one contact:
whether each node holds (the node's members' query, filtered to the contact), the contact's
value of a field (its row of the contacts or the features), a numeric field's values for
``top N%``'s threshold. An event condition's counts are the contact's own: read off its
events (and orders), fetched alone into a one-contact pandas base, whose activity index
counts them as the pandas engine counts everyone's.

Examples
--------
>>> import segexplore as se
>>> folder = se.sample_path()
>>> big = se.read_base(*(folder / f"{t}.parquet" for t in ("contacts", "events", "orders")),
...                    engine="duckdb")
>>> sample = se.load_sample(clean=False)
>>> rule = 'country = "FR" and count(purchase, last 365 days) >= 1'
>>> email = sample.contacts["email"].iloc[3]
>>> mine = big.segment(rule).explain(email)
>>> mine.equals(sample.segment(rule).explain(email))
True
"""

from __future__ import annotations

import datetime as dt
import decimal
from typing import Any

import numpy as np
import pandas as pd
from sqlglot import exp

from segexplore.engines.server import ServerBase
from segexplore.errors import NotFoundError, ParameterError, ParameterTypeError
from segexplore.features.sql import POSITION
from segexplore.io.clean.contacts import normalise_emails
from segexplore.model import hooks
from segexplore.model.base import ContactBase
from segexplore.rules import nodes as R
from segexplore.rules.explain import ExplainWalk, explained, plain_scalar
from segexplore.rules.walk import RuleWalk

__all__ = ["explain_in_engine"]


class _Engine:
    """What the explain asks of a base held in an engine, in that engine's terms."""

    def __init__(self, base: Any) -> None:
        self.base = base
        store = base._store
        if isinstance(base, ServerBase):
            backend = store.backend
            self.rows, self.quote, self.literal = backend.rows, backend.quote, backend.literal
            self.text_type = backend.text_type
            self.contacts = base._positioned()
            self.tables = dict(store.tables)
            self.member_key = "contact_id"  # what base.sql(rule) selects
        else:
            connection = store.connection
            self.rows = lambda sql: connection.execute(sql).fetchall()
            self.quote = lambda name: exp.to_identifier(name, quoted=True).sql("duckdb")
            self.literal = lambda text: "'" + text.replace("'", "''") + "'"
            self.text_type = "VARCHAR"
            self.contacts = store.contacts_table
            self.tables = {key: table for key, table in store.activity_tables.items()
                           if key not in store.absent_tables}
            self.member_key = POSITION  # what the evaluator's query selects

    def members(self, rule: R.Rule) -> str:
        if isinstance(self.base, ServerBase):
            return self.base.sql(rule)
        return self.base.evaluator().sql(rule)

    def frame(self, sql: str) -> pd.DataFrame:
        if isinstance(self.base, ServerBase):
            return self.base._store.backend.frame(sql)
        return self.base._store.connection.execute(sql).df()


def _value_sql(value: Any, engine: _Engine) -> str:
    return str(int(value)) if isinstance(value, (int, np.integer)) else engine.literal(
        str(value))


def _plain(value: Any) -> Any:
    """A value read from an engine as the pandas engine's explain gives it."""
    if isinstance(value, dt.datetime | dt.date):
        return pd.Timestamp(value)
    if isinstance(value, decimal.Decimal):
        return float(value)
    return plain_scalar(value)


class _EngineExplain(ExplainWalk):
    """The pandas walk, each question about the base answered by the engine."""

    def __init__(self, engine: _Engine, contact: tuple[Any, int], alone: ContactBase) -> None:
        super().__init__(alone, 0)  # the contact's own events: row 0 of a one-contact base
        RuleWalk.__init__(self, engine.base.segments)  # saved segments: the engine base's
        self.engine = engine
        self.contact_id, self.contact_position = contact

    def _result(self, rule: R.Rule) -> bool:
        engine = self.engine
        key = (self.contact_id if engine.member_key == "contact_id"
               else self.contact_position)
        (found,), = engine.rows(f"SELECT count(*) FROM ({engine.members(rule)}) AS m "
                                f"WHERE m.{engine.member_key} = {_value_sql(key, engine)}")
        return bool(found)

    def _value(self, field: str) -> Any:
        engine = self.engine
        rows = engine.rows(f"SELECT t.{engine.quote(field)} FROM "
                           f"{engine.base.table_of(field)} AS t "
                           f"WHERE t.{POSITION} = {int(self.contact_position)}")
        return _plain(rows[0][0]) if rows else None

    def _values(self, field: str) -> np.ndarray:
        engine = self.engine
        values = engine.frame(f"SELECT t.{engine.quote(field)} AS v FROM "
                              f"{engine.base.table_of(field)} AS t")["v"]
        return pd.to_numeric(values.astype(object), errors="coerce").to_numpy(dtype=float)


def _contact(engine: _Engine, contact: Any) -> tuple[Any, int]:
    """``(contact_id, position)`` of the contact with this email or contact_id."""
    columns = engine.base._store.kinds["contacts"]
    if isinstance(contact, str) and "@" in contact:
        key = normalise_emails(pd.Series([contact])).iloc[0]
        what = "email"
        if "email" not in columns:
            raise NotFoundError(f"explain: the contacts have no email column to find "
                                f"{contact!r} by")
        where = f"c.{engine.quote('email')} = {engine.literal(str(key))}"
    else:
        if isinstance(contact, (bool, float)) or contact is None:
            raise ParameterTypeError(f"contact must be an email or a contact_id, not "
                                     f"{contact!r}")
        what = "contact_id"
        where = (f"trim(CAST(c.contact_id AS {engine.text_type})) = "
                 f"{engine.literal(str(contact).strip())}")
    hits = engine.rows(f"SELECT c.contact_id, c.{POSITION} FROM {engine.contacts} AS c "
                       f"WHERE {where} LIMIT 20")
    if not hits:
        raise NotFoundError(f"explain: no contact with {what} {contact!r} in the base")
    if len(hits) > 1:
        raise ParameterError(f"explain: {len(hits)} contacts have {what} {contact!r} "
                             f"(contact_id {[h[0] for h in hits]}); give one contact_id")
    contact_id, position = hits[0]
    return _plain(contact_id), int(position)


def _alone(engine: _Engine, contact_id: Any) -> ContactBase:
    """The contact's events (and orders, when purchases come from them) in a one-contact
    pandas base of the engine base's date: what its event conditions count."""
    base = engine.base
    key = _value_sql(contact_id, engine)
    read = {}
    for name in ("events", "orders"):
        if name == "orders" and base._store.purchase_table != "orders":
            continue  # purchases come from the events (or nowhere): as the engine reads
        if name in engine.tables:
            frame = engine.frame(f"SELECT * FROM {engine.tables[name]} AS t "
                                 f"WHERE t.contact_id = {key}")
            read[name] = frame.drop(columns=[POSITION], errors="ignore")
    contacts = pd.DataFrame({"contact_id": [contact_id]})
    return ContactBase(contacts, read.get("events"), read.get("orders"), as_of=base.as_of)


@hooks.implements("explain_in_engine")
def explain_in_engine(rule: R.Rule, base: Any, contact: Any) -> pd.DataFrame:
    """:func:`segexplore.rules.explain.explain` of ``rule`` for ``contact`` on a DuckDB
    or connected base (what ``explain`` calls for them)."""
    engine = _Engine(base)
    found = _contact(engine, contact)
    walk = _EngineExplain(engine, found, _alone(engine, found[0]))
    return explained(walk, rule, found[0], base.as_of)
