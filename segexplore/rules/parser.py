r"""The recursive-descent parser of the segment rule language.

The parser never evaluates anything: it turns the tokens of :mod:`segexplore.rules.tokens`
into the node classes of :mod:`segexplore.rules.nodes` and :mod:`segexplore.rules.events`,
and reports mistakes as :class:`~segexplore.errors.RuleSyntaxError` with the 0-based
character position, what was expected and what was found.

Grammar (EBNF). Keywords are case-insensitive; ``#`` starts a comment to the end of the line;
precedence is ``not`` > ``and`` > ``or``.

.. code-block:: ebnf

    rule        = or_expr ;
    or_expr     = and_expr , { "or" , and_expr } ;
    and_expr    = not_expr , { "and" , not_expr } ;
    not_expr    = "not" , not_expr | primary ;
    primary     = "(" , or_expr , ")"
                | "segment" , "(" , string , ")"
                | "in_list" , "(" , string , ")"
                | aggregate | performed | last_event
                | "birthday" , "within" , "next" , integer , day_unit     (* birth_date *)
                | name , predicate ;
    predicate   = compare_op , value
                | [ "not" ] , "in" , list
                | "in" , "top" , number , "%"
                | "between" , bound , "and" , bound
                | ( "contains" | "starts" , "with" | "ends" , "with" ) , string
                | "is" , [ "not" ] , "missing"
                | ( "before" | "after" ) , date
                | "within" , "last" , duration
                | "more" , "than" , duration , "ago"
                | "anniversary" , "within" , "next" , integer , day_unit
                | "has" , ( value | ( "any" | "all" | "none" ) , ( list | value ) ) ;
    aggregate   = ( "count" | "sum" | "avg" | "min" | "max" ) ,
                  "(" , name , [ "." , name ] , [ "where" , or_expr ] , [ "," , window ] , ")" ,
                  compare_op , number ;         (* count: no ".property"; others: required *)
    performed   = "performed" , "(" , event_spec ,
                  [ "not" , "followed" , "by" , event_spec , "within" , duration ] ,
                  { "," , ( frequency | window ) } , ")" ;   (* each at most once *)
    frequency   = ( "at" , ( "least" | "most" ) | "exactly" ) , integer , ( "times" | "time" ) ;
    last_event  = "last" , "(" , event_spec , ")" ,
                  ( "more" , "than" , duration , "ago" | "within" , "last" , duration ) ;
    event_spec  = name , [ "where" , or_expr ] ;  (* where: field conditions and and/or/not only *)
    window      = "last" , duration | "between" , date , "and" , date ;
    duration    = integer , unit ;
    unit        = "hour" | "hours" | day_unit | "week" | "weeks" | "month" | "months"
                | "heure" | "heures" | "semaine" | "semaines" | "mois" ;   (* French *)
    day_unit    = "day" | "days" | "jour" | "jours" ;
    compare_op  = "=" | "==" | "!=" | "<>" | "<" | "<=" | ">" | ">=" ;
    list        = "(" , value , { "," , value } , [ "," ] , ")" ;
    value       = string | number | date | "true" | "false" ;
    bound       = number | date ;
    name        = identifier | "`" , { any character, "``" for a backtick } , "`" ;
    identifier  = letter_or_underscore , { letter_or_digit_or_underscore } ;  (* Unicode *)
    string      = '"' , { character | escape } , '"' | "'" , { character | escape } , "'" ;
    escape      = "\\" , ( '"' | "'" | "\\" | "n" | "t" | "r" ) ;
    number      = [ "-" ] , digits , [ "." , digits ] , [ ( "e" | "E" ) , [ "+" | "-" ] , digits ] ;
    date        = digit4 , "-" , digit2 , "-" , digit2 ,
                  [ "T" , digit2 , ":" , digit2 , [ ":" , digit2 , [ "." , digits ] ] ] ;

A number with a ``.`` or an exponent is a float, otherwise an int. ``performed(e[, w])`` is
stored as ``count(e[, w]) >= 1`` and ``at least/at most/exactly N times`` as ``>= / <= / = N``.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from segexplore.errors import ParameterTypeError, RuleSyntaxError, closest_name
from segexplore.model import hooks
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
from segexplore.rules.text import (
    AGGREGATE_FUNCS,
    UNIT_WORDS,
    fold_word,
    unit_of,
)
from segexplore.rules.tokens import Token, tokenize

__all__ = ["parse", "MAX_DEPTH"]

#: Deepest nesting of parentheses/not accepted, well inside Python's recursion limit.
MAX_DEPTH = 100

_YEAR_WORDS = frozenset({"year", "years", "an", "ans", "annee", "annees"})
_PREDICATE_WORDS = ("in", "not", "between", "contains", "starts", "ends", "is", "before",
                    "after", "within", "more", "anniversary", "has")
_FUNCTIONS = AGGREGATE_FUNCS + ("performed", "last", "segment", "in_list")


@hooks.implements("parse")
def parse(text: str) -> Rule:
    """Parse the text of a segment rule.

    Parameters
    ----------
    text
        A rule such as ``city = "Lyon" and count(purchase, last 30 days) >= 3``.

    Returns
    -------
    Rule
        The rule tree; ``str()`` of it is the canonical text.

    Raises
    ------
    RuleSyntaxError
        The text does not follow the grammar; ``position`` is where it went wrong.
    """
    if not isinstance(text, str):
        raise ParameterTypeError(f"parse() needs the rule text as a string, not "
                                 f"{type(text).__name__}")
    parser = _Parser(text)
    try:
        return parser.parse_rule()
    except RuleSyntaxError:
        raise
    except (TypeError, ValueError) as error:  # a node refused a value the grammar allowed
        raise parser.error(str(error)) from None


def _describe(token: Token) -> str:
    if token.kind == "end":
        return "end of text"
    if token.kind == "string":
        return f"the text {token.text}"
    return f"'{token.text}'"


class _Parser:
    """One parse of one text: a cursor over its tokens."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.last = len(self.tokens) - 1  # the end token
        self.index = 0
        self.depth = 0

    # -- cursor ----------------------------------------------------------------------------

    def peek(self, ahead: int = 0) -> Token:
        index = self.index + ahead
        return self.tokens[index] if index < self.last else self.tokens[self.last]

    def advance(self) -> Token:
        token = self.tokens[self.index]
        if self.index < self.last:  # the end token stays current once reached
            self.index += 1
        return token

    def at(self, *words: str) -> bool:
        return self.peek().word() in words

    def error(self, message: str, token: Token | None = None) -> RuleSyntaxError:
        position = (token or self.peek()).pos
        return RuleSyntaxError(message, text=self.text, position=position)

    def expected(self, what: str, suggestions: tuple[str, ...] = ()) -> RuleSyntaxError:
        token = self.peek()
        message = f"expected {what} but found {_describe(token)}"
        close = closest_name(token.text, suggestions) if token.kind == "name" else None
        if close is not None:
            message += f"; did you mean '{close}'?"
        return self.error(message)

    def keyword(self, word: str, context: str) -> Token:
        if not self.at(word):
            raise self.expected(f"'{word}' {context}", (word,))
        return self.advance()

    def punct(self, kind: str, context: str) -> Token:
        if self.peek().kind != kind:
            raise self.expected(f"'{kind}' {context}")
        return self.advance()

    # -- logic -----------------------------------------------------------------------------

    def parse_rule(self) -> Rule:
        rule = self.or_expr(in_where=False)
        token = self.peek()
        if token.kind == ")":
            raise self.error("unbalanced parenthesis: this ')' has no matching '('")
        if token.kind != "end":
            raise self.expected("'and', 'or' or end of text", ("and", "or"))
        return rule

    def or_expr(self, in_where: bool) -> Rule:
        rules = [self.and_expr(in_where)]
        while self.at("or"):
            self.advance()
            rules.append(self.and_expr(in_where))
        return rules[0] if len(rules) == 1 else Or(*rules)

    def and_expr(self, in_where: bool) -> Rule:
        rules = [self.not_expr(in_where)]
        while self.at("and"):
            self.advance()
            rules.append(self.not_expr(in_where))
        return rules[0] if len(rules) == 1 else And(*rules)

    def not_expr(self, in_where: bool) -> Rule:
        if not self.at("not"):
            return self.primary(in_where)
        self.enter(self.advance())
        rule = Not(self.not_expr(in_where))
        self.depth -= 1
        return rule

    def enter(self, token: Token) -> None:
        """Count one more level of parentheses or 'not' (``token``), within MAX_DEPTH."""
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(f"the rule is nested more than {MAX_DEPTH} levels deep", token)

    def primary(self, in_where: bool) -> Rule:
        token = self.peek()
        word = token.word()
        if token.kind == "(":
            self.enter(self.advance())
            rule = self.or_expr(in_where)
            self.depth -= 1
            if self.peek().kind == "end":
                raise self.error(f"unbalanced parenthesis: the '(' at position {token.pos} is "
                                 "never closed", token)
            self.punct(")", f"to close the '(' at position {token.pos}")
            return rule
        if word is not None and self.peek(1).kind == "(":
            if word not in _FUNCTIONS:
                close = closest_name(word, _FUNCTIONS)
                hint = f"; did you mean '{close}'?" if close else ""
                raise self.error(f"unknown function '{token.text}'{hint} (functions: "
                                 f"{', '.join(_FUNCTIONS)})")
            if in_where:
                raise self.error(f"{word}(...) cannot be used inside a where-clause, which "
                                 "filters events on their own properties")
            return getattr(self, f"parse_{word}")()
        if word == "birthday" and self.peek(1).word() == "within" and self.peek(2).word() == "next":
            if in_where:
                raise self.error("'birthday' cannot be used inside a where-clause")
            self.advance()
            return self.anniversary("birth_date")
        if token.kind == "quoted_name" or (word is not None and word not in
                                           ("and", "or", "true", "false")):
            self.advance()
            return self.predicate(token, in_where)
        raise self.expected("a condition (a field name, '(', 'not', segment(...), count(...), "
                            "performed(...) or last(...))")

    # -- conditions on a field -------------------------------------------------------------

    def predicate(self, name: Token, in_where: bool) -> Rule:
        field = name.value
        token = self.peek()
        word = token.word()
        if token.kind == "op":
            self.advance()
            return Compare(field, token.value, self.value(f"after '{token.text}'"))
        if word == "not":
            self.advance()
            self.keyword("in", "after 'not' (as in 'not in (...)')")
            return InList(field, self.value_list("after 'not in'"), negated=True)
        if word == "in":
            self.advance()
            if self.at("top"):
                if in_where:
                    raise self.error("'in top' cannot be used inside a where-clause")
                self.advance()
                return TopPercent(field, self.percent())
            return InList(field, self.value_list("after 'in'"))
        if word == "between":
            self.advance()
            low = self.bound("after 'between'")
            self.keyword("and", "between the two bounds of 'between'")
            high_token = self.peek()
            high = self.bound("after 'between ... and'")
            if isinstance(low, date) != isinstance(high, date):
                raise self.error("the bounds of 'between' must both be numbers or both be "
                                 "dates", high_token)
            return Between(field, low, high)
        if word in ("contains", "starts", "ends"):
            self.advance()
            if word != "contains":
                self.keyword("with", f"after '{word}'")
            op = "contains" if word == "contains" else f"{word} with"
            return TextMatch(field, op, self.string(f"after '{op}'"))
        if word == "is":
            self.advance()
            negated = self.at("not")
            if negated:
                self.advance()
            self.keyword("missing", "after 'is not'" if negated else "after 'is'")
            return IsMissing(field, negated)
        if word in ("before", "after"):
            self.advance()
            return DateCompare(field, word, self.date(f"after '{word}'"))
        if word == "within":
            self.advance()
            self.keyword("last", "after 'within' (as in 'within last 30 days')")
            return WithinLast(field, self.duration("after 'within last'"))
        if word == "more":
            return MoreThanAgo(field, self.more_than_ago())
        if word == "anniversary":
            if in_where:
                raise self.error("'anniversary' cannot be used inside a where-clause")
            self.advance()
            return self.anniversary(field)
        if word == "has":
            self.advance()
            return self.has(field)
        shown = f"`{field}`" if name.kind == "quoted_name" else field
        operators = ("=, !=, <, <=, >, >=, in, not in, between, contains, starts with, "
                     "ends with, is missing, before, after, within last, more than, has, in top")
        after = self.peek(1)
        spaced_name = after.kind == "op" or after.word() in _PREDICATE_WORDS
        suggestion = closest_name(word, _PREDICATE_WORDS) if word and not spaced_name else None
        if suggestion is not None:
            suggestion = {"starts": "starts with", "ends": "ends with"}.get(suggestion, suggestion)
            raise self.error(f"unknown operator '{token.text}' after field '{shown}'; "
                             f"did you mean '{suggestion}'?")
        hint = ""
        if word is not None:
            hint = f"; if the field name has spaces, write it in backticks: `{field} {token.text}`"
        raise self.error(f"expected an operator after field '{shown}' ({operators}) but found "
                         f"{_describe(token)}{hint}")

    def anniversary(self, field: str) -> Anniversary:
        self.keyword("within", "after 'anniversary'")
        self.keyword("next", "after 'anniversary within'")
        days = self.integer("a number of days after 'within next'", minimum=0)
        if unit_of(self.peek().word()) != "days":  # days, day, jours, jour
            raise self.expected("'days' after the number of days", ("days",))
        self.advance()
        return Anniversary(field, days)

    def has(self, field: str) -> Has:
        mode = "any"
        if self.peek().word() in ("any", "all", "none"):
            mode = self.advance().word()
        if self.peek().kind == "(":
            values = self.value_list(f"after 'has {mode}'")
        else:
            values = (self.value(f"after 'has{'' if mode == 'any' else ' ' + mode}'"),)
        for value in values:
            if not isinstance(value, str):
                raise self.error(f"'has' compares text values; write {value} in quotes")
        return Has(field, mode, values)

    def more_than_ago(self) -> Duration:
        self.keyword("more", "")
        self.keyword("than", "after 'more' (as in 'more than 90 days ago')")
        duration = self.duration("after 'more than'")
        self.keyword("ago", f"after 'more than {duration}'")
        return duration

    # -- literals --------------------------------------------------------------------------

    def value(self, context: str) -> Any:
        token = self.peek()
        if token.kind in ("string", "number", "date"):
            return self.advance().value
        if token.word() in ("true", "false"):
            return self.advance().word() == "true"
        raise self.expected(f"a value {context}")

    def value_list(self, context: str) -> tuple[Any, ...]:
        self.punct("(", f"to start a list of values {context}")
        values = [self.value("in the list")]
        while self.peek().kind == ",":
            self.advance()
            if self.peek().kind == ")":  # trailing comma
                break
            values.append(self.value("after ',' in the list"))
        self.punct(")", "or ',' in the list")
        return tuple(values)

    def string(self, context: str) -> str:
        if self.peek().kind != "string":
            raise self.expected(f"a quoted text {context}")
        return self.advance().value

    def date(self, context: str) -> Any:
        if self.peek().kind != "date":
            raise self.expected(f"a date like 2026-01-31 {context}")
        return self.advance().value

    def bound(self, context: str) -> Any:
        if self.peek().kind not in ("number", "date"):
            raise self.expected(f"a number or a date {context}")
        return self.advance().value

    def number(self, context: str) -> int | float:
        if self.peek().kind != "number":
            raise self.expected(f"a number {context}")
        return self.advance().value

    def integer(self, what: str, minimum: int) -> int:
        token = self.peek()
        if token.kind != "number" or not isinstance(token.value, int):
            raise self.expected(f"a whole number: {what}")
        if token.value < minimum:
            raise self.error(f"expected a whole number >= {minimum}: {what}")
        return self.advance().value

    def percent(self) -> float:
        value = self.number("after 'in top'")
        if not 0 < value <= 100:
            raise self.error("the percentage of 'in top' must be above 0 and at most 100",
                             self.tokens[self.index - 1])
        self.punct("%", "after the percentage of 'in top'")
        return value

    def duration(self, context: str) -> Duration:
        amount = self.integer(f"a number of hours, days, weeks or months {context}", minimum=1)
        token = self.peek()
        if unit_of(token.word()) is None:
            raise self.error(self._unit_message(amount, token))
        self.advance()
        return Duration(amount, token.word())

    @staticmethod
    def _unit_message(amount: int, token: Token) -> str:
        word = fold_word(token.text) if token.kind == "name" else ""
        if word in _YEAR_WORDS:
            return (f"years are not a time unit (12 months or 365 days?): write "
                    f"{amount * 12} months or {amount * 365} days")
        message = (f"expected a time unit (hours, days, weeks or months; or in French heures, "
                   f"jours, semaines, mois) after {amount} but found {_describe(token)}")
        close = closest_name(word, UNIT_WORDS) if word else None
        if close is not None:
            english = UNIT_WORDS[close]
            # Name the unit a French word stands for: 'jous' is 'jours' (days), not 'hours'.
            shown = f"'{close}'" if english.startswith(close[:3]) else f"'{close}' ({english})"
            message += f"; did you mean {shown}?"
        return message

    def window(self) -> Window:
        if self.at("last"):
            self.advance()
            return LastWindow(self.duration("after 'last'"))
        if self.at("between"):
            self.advance()
            start = self.date("after 'between'")
            self.keyword("and", "between the two dates")
            return DateRangeWindow(start, self.date("after 'between ... and'"))
        raise self.expected("a time window ('last 30 days' or 'between 2026-01-01 and "
                            "2026-03-31')", ("last", "between"))

    # -- event conditions ------------------------------------------------------------------

    def event_name(self, context: str) -> str:
        token = self.peek()
        if token.kind == "quoted_name" or (token.kind == "name" and token.word() not in (
                "where", "last", "between", "and", "or", "not", "true", "false")):
            return self.advance().value
        raise self.expected(f"an event type (e.g. purchase, click) {context}")

    def where(self) -> Rule | None:
        if not self.at("where"):
            return None
        self.advance()
        return self.or_expr(in_where=True)

    def event_spec(self, context: str) -> EventSpec:
        event_type = self.event_name(context)
        if self.peek().kind == ".":
            raise self.error("here an event type is expected, not an event property")
        return EventSpec(event_type, self.where())

    def parse_segment(self) -> SegmentRef:
        return SegmentRef(self._quoted_name("segment", 'segment("Clients groupe A")'))

    def parse_in_list(self) -> ListRef:
        return ListRef(self._quoted_name("list", 'in_list("VIP salon")'))

    def _quoted_name(self, what: str, example: str) -> str:
        """The name in quotes of ``segment(...)`` or ``in_list(...)``."""
        self.advance()
        self.advance()
        if self.peek().kind != "string":
            raise self.expected(f"the {what} name in quotes, e.g. {example}")
        name = self.advance().value
        if not name:
            raise self.error(f"the {what} name is empty", self.tokens[self.index - 1])
        self.punct(")", f"after the {what} name")
        return name

    def _aggregate(self) -> EventAggregate:
        func = self.advance().word()
        self.advance()
        event_type = self.event_name(f"after '{func}('")
        prop = None
        if self.peek().kind == ".":
            dot = self.advance()
            if func == "count":
                raise self.error("count(...) counts events and takes no property; use sum, "
                                 "avg, min or max for a property such as purchase.amount", dot)
            token = self.peek()
            if token.kind not in ("name", "quoted_name"):
                raise self.expected("an event property after '.'")
            prop = self.advance().value
        elif func != "count":
            raise self.expected(f"'.' and an event property ({func}(purchase.amount, ...))")
        where = self.where()
        window = None
        if self.peek().kind == ",":
            self.advance()
            window = self.window()
        self.punct(")", f"to close {func}(" if window else "or ',' and a time window")
        op = self.peek()
        if op.kind != "op":
            raise self.expected(f"a comparison (>=, >, =, <=, <, !=) after {func}(...)")
        self.advance()
        value = self.number(f"after '{op.text}'")
        return EventAggregate(func, event_type, prop, where, window, op.value, value)

    parse_count = parse_sum = parse_avg = parse_min = parse_max = _aggregate

    def parse_performed(self) -> Rule:
        self.advance()
        self.advance()
        first = self.event_spec("after 'performed('")
        then = within = None
        if self.at("not"):
            self.advance()
            self.keyword("followed", "after 'not' (as in 'a not followed by b within 24 hours')")
            self.keyword("by", "after 'not followed'")
            then = self.event_spec("after 'not followed by'")
            self.keyword("within", f"after 'not followed by {then}'")
            within = self.duration("after 'within'")
        frequency: tuple[str, int] | None = None
        window = None
        while self.peek().kind == ",":
            self.advance()
            if self.at("at", "exactly") and frequency is None and then is None:
                frequency = self.frequency()
            elif self.at("last", "between") and window is None:
                window = self.window()
            elif self.at("at", "exactly"):
                raise self.error("'not followed by' takes no 'at least/at most/exactly N times'"
                                 if then is not None else "the number of times is given twice")
            elif self.at("last", "between"):
                raise self.error("the time window is given twice")
            else:
                raise self.expected("'at least/at most/exactly N times' or a time window "
                                    "('last 30 days', 'between 2026-01-01 and 2026-03-31')",
                                    ("last", "between", "exactly"))
        self.punct(")", "to close performed(")
        if then is not None:
            return NotFollowedBy(first, then, within, window)
        op, times = frequency or (">=", 1)
        return EventAggregate("count", first.event_type, None, first.where, window, op, times)

    def frequency(self) -> tuple[str, int]:
        if self.at("exactly"):
            self.advance()
            op = "="
        else:
            self.advance()
            if not self.at("least", "most"):
                raise self.expected("'least' or 'most' after 'at'", ("least", "most"))
            op = ">=" if self.advance().word() == "least" else "<="
        times = self.integer("how many times", minimum=0)
        if not self.at("times", "time"):
            raise self.expected(f"'times' after {times}", ("times",))
        self.advance()
        return op, times

    def parse_last(self) -> LastPerformed:
        self.advance()
        self.advance()
        event = self.event_spec("after 'last('")
        self.punct(")", "to close last(")
        if self.at("more"):
            return LastPerformed(event, "more than ago", self.more_than_ago())
        if self.at("within"):
            self.advance()
            self.keyword("last", "after 'within'")
            return LastPerformed(event, "within last", self.duration("after 'within last'"))
        raise self.expected("'more than ... ago' or 'within last ...' after last(...)",
                            ("more", "within"))

