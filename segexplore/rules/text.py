"""The vocabulary of rule text: operators, time units, keywords, and how names and literals
are written, shared by the node classes (``str(rule)``) and the parser."""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime
from typing import Any, Literal

from segexplore.errors import ParameterTypeError, RuleBuildError

__all__ = ["COMPARE_OPS", "TEXT_OPS", "DATE_OPS", "HAS_MODES", "AGGREGATE_FUNCS", "TIME_UNITS",
           "UNIT_WORDS", "RELATIONS", "KEYWORDS", "fold_word", "unit_of", "is_plain_name",
           "format_name", "format_literal", "format_duration", "parse_iso_temporal",
           "parse_duration_text", "shorten"]

Scalar = str | int | float | bool | date | datetime
CompareOp = Literal["=", "!=", "<", "<=", ">", ">="]
COMPARE_OPS = ("=", "!=", "<", "<=", ">", ">=")
TEXT_OPS = ("contains", "starts with", "ends with")
DATE_OPS = ("before", "after")
HAS_MODES = ("any", "all", "none")
AGGREGATE_FUNCS = ("count", "sum", "avg", "min", "max")
TIME_UNITS = ("hours", "days", "weeks", "months")


#: Every word accepted as a time unit (case and accents ignored) -> the canonical unit.
#: French units are synonyms, so a French-speaking analyst's ``last 90 jours`` means 90
#: days; the canonical text stays English (``last 90 days``). Years are not a unit (12
#: months or 365 days?): the parser says to write months.
UNIT_WORDS: dict[str, str] = {
    "hour": "hours", "hours": "hours", "heure": "hours", "heures": "hours",
    "day": "days", "days": "days", "jour": "days", "jours": "days",
    "week": "weeks", "weeks": "weeks", "semaine": "weeks", "semaines": "weeks",
    "month": "months", "months": "months", "mois": "months",
}


def fold_word(word: str) -> str:
    """Lower case without accents: ``"Années"`` -> ``"annees"`` (for unit words)."""
    decomposed = unicodedata.normalize("NFKD", word.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def unit_of(word: Any) -> str | None:
    """The canonical unit of a unit word: ``"Jours"`` -> ``"days"``; None if not a unit."""
    return UNIT_WORDS.get(fold_word(word)) if isinstance(word, str) else None


RELATIONS = ("more than ago", "within last")
#: Operators accepted as synonyms, and the canonical operator each one stands for.
OP_ALIASES = {"==": "=", "<>": "!="}


#: Words of the grammar. A field or event name equal to one of them (ignoring case) is
#: printed in backticks so the text parses back to the same rule.
KEYWORDS = frozenset("""
    and or not in is missing between before after within last next more than ago has any
    all none contains starts ends with true false top anniversary birthday where followed by
    count sum avg min max performed segment at least most exactly times time
    hour hours day days week weeks month months
""".split())


def is_plain_name(name: str) -> bool:
    """True when ``name`` can be written without backticks: an identifier, not a keyword."""
    return (bool(name) and (name[0].isalpha() or name[0] == "_")
            and all(c.isalnum() or c == "_" for c in name[1:])
            and name.lower() not in KEYWORDS)


def format_name(name: str) -> str:
    """A field or event name as rule text: ``city`` or ```Code postal``` (backticks doubled)."""
    return name if is_plain_name(name) else "`" + name.replace("`", "``") + "`"


_STRING_ESCAPES = str.maketrans({"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r",
                                 "\t": "\\t"})


def format_literal(value: Scalar) -> str:
    """A value as rule text: ``"text"``, ``true``, ``3``, ``2.5`` (exact repr), ``2026-01-31``."""
    if isinstance(value, str):
        return '"' + value.translate(_STRING_ESCAPES) + '"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)  # shortest text that reads back to the same float
    if isinstance(value, (int, date)):
        return str(value) if isinstance(value, int) else value.isoformat()
    raise ParameterTypeError(f"cannot write {value!r} in a rule")


def format_duration(amount: int, unit: str) -> str:
    """``30 days``, ``1 day``."""
    return f"{amount} {unit[:-1] if amount == 1 else unit}"


_ISO = re.compile(r"(\d{4})-(\d{2})-(\d{2})"
                  r"(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?)?", re.ASCII)


def parse_iso_temporal(text: str) -> date | datetime:
    """``2026-01-31`` -> date, ``2026-01-31T10:00[:00[.123]]`` -> naive datetime."""
    match = _ISO.fullmatch(text)
    if match is None:
        raise RuleBuildError(f"expected a date like 2026-01-31 or 2026-01-31T10:00:00, "
                             f"got {text!r}")
    year, month, day, hour, minute, second, fraction = match.groups()
    try:
        if hour is None:
            return date(int(year), int(month), int(day))
        micro = int((fraction or "0").ljust(6, "0"))
        return datetime(int(year), int(month), int(day), int(hour), int(minute),
                        int(second or 0), micro)
    except ValueError as error:
        raise RuleBuildError(f"invalid date {text!r}: {error}") from None


def parse_duration_text(text: str) -> tuple[int, str]:
    """``"30 days"`` -> ``(30, "days")`` (the unit is checked by :class:`Duration`)."""
    parts = text.split() if isinstance(text, str) else []
    if len(parts) != 2 or not (parts[0].isascii() and parts[0].isdigit()):
        raise RuleBuildError(f"expected a duration like '30 days', got {text!r}")
    return int(parts[0]), parts[1]


_TEXT_LIMIT = 200  # rule texts quoted in messages are cut to about this length


def shorten(text: str, limit: int = _TEXT_LIMIT) -> str:
    """``text``, cut in the middle when longer than ``limit`` (for error messages).

    Examples
    --------
    >>> shorten("a and " * 100 + "b", limit=30)
    'a and a and a and a ... a and b'
    """
    if len(text) <= limit:
        return text
    head, tail = text[:limit * 2 // 3], text[-(limit // 3):]
    head = head.rsplit(" ", 1)[0] if " " in head else head  # cut between words
    tail = tail.split(" ", 1)[-1]
    return f"{head} ... {tail}"
