"""Segment rules as plain data: dictionaries, and the versioned JSON/YAML envelope.

The nodes write themselves (``Rule.to_dict``, ``to_json``, ``to_yaml`` in
:mod:`segexplore.rules.nodes`); this module reads them back: :func:`rule_from_dict`,
:func:`rule_from_json` and :func:`rule_from_yaml` with their strict decoders, and
:class:`~segexplore.errors.RuleFormatError`. The envelope is
``{"schema": "segexplore.rule/1", "rule": {...}}``.

Examples
--------
>>> from segexplore.rules.parser import parse
>>> rule = parse('city = "Lyon" and age >= 30')
>>> rule_from_json(rule.to_json()) == rule
True
>>> rule_from_dict({"kind": "is_missing", "field": "email"})
Rule('email is missing')
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from segexplore.errors import RuleFormatError
from segexplore.rules.events import (
    DateRangeWindow,
    EventAggregate,
    EventSpec,
    LastPerformed,
    LastWindow,
    NotFollowedBy,
    Window,
)
from segexplore.rules.nodes import (
    SCHEMA,
    And,
    Anniversary,
    Between,
    Compare,
    DateCompare,
    Duration,
    Has,
    InList,
    IsMissing,
    ListRef,
    MoreThanAgo,
    Not,
    Or,
    Rule,
    SegmentRef,
    TextMatch,
    TopPercent,
    WithinLast,
)
from segexplore.rules.text import parse_iso_temporal

__all__ = ["rule_from_dict", "rule_from_json", "rule_from_yaml"]


_KINDS: dict[str, type[Rule]] = {
    cls.kind: cls for cls in (And, Or, Not, SegmentRef, ListRef, Compare, InList, Between, TextMatch,
                              IsMissing, DateCompare, WithinLast, MoreThanAgo, Anniversary,
                              Has, TopPercent, EventAggregate, NotFollowedBy, LastPerformed)
}


def rule_from_dict(data: Mapping[str, Any]) -> Rule:
    """Build a rule from :meth:`Rule.to_dict` output or from the versioned envelope.

    Raises
    ------
    RuleFormatError
        Unknown schema version, unknown node kind, missing or unexpected key, bad value.
    """
    if isinstance(data, Mapping) and "schema" in data:
        if data["schema"] != SCHEMA:
            raise RuleFormatError(f"unsupported rule schema {data['schema']!r}; this version "
                                  f"of segexplore reads {SCHEMA!r}", path="schema")
        extra = set(data) - {"schema", "rule"}
        if extra or "rule" not in data:
            raise RuleFormatError("the envelope must have exactly the keys 'schema' and 'rule'",
                                  path="envelope")
        data = data["rule"]
    return _decode_rule(data, "rule")


def _envelope(data: Any, source: str) -> Rule:
    if not isinstance(data, Mapping) or "schema" not in data:
        raise RuleFormatError(f"a {source} rule document needs a 'schema' key "
                              f"({SCHEMA!r}) and a 'rule' key", path="envelope")
    return rule_from_dict(data)


def rule_from_json(text: str) -> Rule:
    """Read the JSON written by :meth:`Rule.to_json`."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise RuleFormatError(f"not valid JSON: {error}", path="document") from None
    return _envelope(data, "JSON")


def rule_from_yaml(text: str) -> Rule:
    """Read the YAML written by :meth:`Rule.to_yaml` (or written by hand in that schema)."""
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise RuleFormatError(f"not valid YAML: {error}", path="document") from None
    return _envelope(data, "YAML")


def _decode_rule(data: Any, path: str) -> Rule:
    if not isinstance(data, Mapping):
        raise RuleFormatError(f"expected a rule object with a 'kind', got {data!r}", path=path)
    kind = data.get("kind")
    cls = _KINDS.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise RuleFormatError(f"unknown rule kind {kind!r}; known kinds: "
                              f"{', '.join(sorted(_KINDS))}", path=path)
    return _build(cls, data, path, skip={"kind"})


def _build(cls: type, data: Mapping[str, Any], path: str, skip: set[str] = frozenset()) -> Any:
    fields = {f.name: f for f in dataclasses.fields(cls)}
    extra = set(data) - set(fields) - skip
    if extra:
        raise RuleFormatError(f"unexpected key {sorted(extra)[0]!r} for "
                              f"{getattr(cls, 'kind', cls.__name__)!r}", path=path)
    kwargs = {}
    for name, f in fields.items():
        if name in data:
            kwargs[name] = _DECODERS.get(name, _plain)(data[name], f"{path}.{name}")
        elif f.default is dataclasses.MISSING:
            raise RuleFormatError(f"missing key {name!r}", path=path)
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as error:
        raise RuleFormatError(str(error), path=path) from None


def _plain(value: Any, path: str) -> Any:
    if value is not None and not isinstance(value, (str, int, float, bool)):
        raise RuleFormatError(f"expected text, a number or true/false, got {value!r}", path=path)
    return value


_ISO_KEYS = {"date": re.compile(r"\d{4}-\d{2}-\d{2}"),
             "datetime": re.compile(r"\d{4}-\d{2}-\d{2}T.+")}


def _decode_scalar(value: Any, path: str) -> Any:
    if isinstance(value, date):  # hand-written YAML may hold native dates
        return value
    if isinstance(value, Mapping):
        if len(value) == 1:
            (tag, text), = value.items()
            pattern = _ISO_KEYS.get(tag)
            if pattern is not None and isinstance(text, str) and pattern.fullmatch(text):
                try:
                    parsed = parse_iso_temporal(text)
                except ValueError as error:
                    raise RuleFormatError(str(error), path=path) from None
                if isinstance(parsed, datetime) == (tag == "datetime"):
                    return parsed
        raise RuleFormatError(f"expected {{'date': 'YYYY-MM-DD'}} or "
                              f"{{'datetime': 'YYYY-MM-DDTHH:MM:SS'}}, got {value!r}", path=path)
    return _plain(value, path)


def _decode_list(decode: Any) -> Any:
    def decode_list(value: Any, path: str) -> tuple[Any, ...]:
        if not isinstance(value, list):
            raise RuleFormatError(f"expected a list, got {value!r}", path=path)
        return tuple(decode(v, f"{path}[{i}]") for i, v in enumerate(value))
    return decode_list


def _decode_optional_rule(value: Any, path: str) -> Rule | None:
    return None if value is None else _decode_rule(value, path)


def _decode_duration(value: Any, path: str) -> Duration:
    if not isinstance(value, Mapping):
        raise RuleFormatError(f"expected {{'amount': 30, 'unit': 'days'}}, got {value!r}",
                              path=path)
    return _build(Duration, value, path)


def _decode_event(value: Any, path: str) -> EventSpec:
    if not isinstance(value, Mapping):
        raise RuleFormatError(f"expected {{'event_type': ..., 'where': ...}}, got {value!r}",
                              path=path)
    return _build(EventSpec, value, path)


def _decode_window(value: Any, path: str) -> Window | None:
    if value is None:
        return None
    kind = value.get("kind") if isinstance(value, Mapping) else None
    if kind == "last":
        return _build(LastWindow, value, path, skip={"kind"})
    if kind == "date_range":
        return _build(DateRangeWindow, value, path, skip={"kind"})
    raise RuleFormatError(f"expected a window of kind 'last' or 'date_range', got {value!r}",
                          path=path)


_DECODERS = {
    "children": _decode_list(_decode_rule), "child": _decode_rule,
    "where": _decode_optional_rule, "values": _decode_list(_decode_scalar),
    "value": _decode_scalar, "low": _decode_scalar, "high": _decode_scalar,
    "start": _decode_scalar, "end": _decode_scalar, "duration": _decode_duration,
    "within": _decode_duration, "window": _decode_window, "event": _decode_event,
    "first": _decode_event, "then": _decode_event,
}


