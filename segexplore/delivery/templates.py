"""Merge-field templates: ``Bonjour {first_name|cher client}``, parsed and filled in.

The syntax is small and strict, and parsed here by a tokenizer of its own (no template
engine, no ``eval``):

* ``{field}`` is the value of a contact column or a behaviour feature;
* ``{field|fallback}`` is that value, or the literal ``fallback`` when it is missing;
* ``{{`` and ``}}`` are a literal ``{`` and ``}``;
* everything else is literal text.

A field name is an identifier (ASCII letters, digits and ``_``, not starting with a digit
or ``_``), optionally surrounded by spaces. Nothing else may stand between the braces: no
attribute (``{first_name.__class__}``), index, call, filter or statement
(``{% for %}``), so a template can only ever copy values into text. A fallback is literal
text without braces or ``|``. A template is at most :data:`MAX_TEMPLATE_LENGTH`
characters.

Values are inserted as plain text, never parsed again (a first name ``"{email}"`` stays
``"{email}"``): whole numbers without decimals, other numbers with two, ``days_since_*``
and ``days_to_*`` as whole days, dates as ``YYYY-MM-DD``, ``true``/``false``. A value is
missing when it is null (NaN, None, NaT, NA) or blank text; then the fallback is used, or
nothing when there is none (:meth:`VariantPlan.missing
<segexplore.delivery.plan.VariantPlan.missing>` counts both).

Examples
--------
>>> template = Template.parse("Bonjour {first_name|cher client}, {{promo}}")
>>> template.fields
('first_name',)
>>> import pandas as pd
>>> names = pd.DataFrame({"first_name": ["Anne", None]})
>>> template.render(names).tolist()
['Bonjour Anne, {promo}', 'Bonjour cher client, {promo}']
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from segexplore.errors import ParameterTypeError, TemplateError, closest_name

__all__ = ["MAX_TEMPLATE_LENGTH", "TEMPLATE_KEYS", "MergeField", "Template", "format_values", "missing_values",
           "parse_templates"]

#: The templates of a variant (the ``add`` keywords of a plan) and the column each one is
#: rendered into on export.
TEMPLATE_KEYS = {"subject": "subject", "template": "body", "offer": "offer"}

#: The longest template accepted, in characters.
MAX_TEMPLATE_LENGTH = 100_000

_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_WHOLE_DAYS = ("days_since_", "days_to_")
#: In literal text, what was written ``{{name}}`` (or ``{{ name }}``).
_LOOKS_LIKE_FIELD = re.compile(r"\{\s*([A-Za-z][A-Za-z0-9_]*)\s*\}")


@dataclass(frozen=True)
class MergeField:
    """``{name}`` or ``{name|fallback}`` at ``position`` (0-based) in its template."""

    name: str
    fallback: str | None
    position: int

    def __str__(self) -> str:
        return f"{{{self.name}}}" if self.fallback is None else f"{{{self.name}|{self.fallback}}}"


@dataclass(frozen=True)
class Template:
    """A parsed template: its text and its parts, literal text or :class:`MergeField`.

    Made by :meth:`parse`; :meth:`render` fills it in for many contacts at once.
    """

    text: str
    parts: tuple[str | MergeField, ...]

    @classmethod
    def parse(cls, text: str, *, what: str = "template") -> Template:
        """Parse ``text``; ``what`` names it in errors (``"subject of variant 'vip'"``).

        Raises
        ------
        TemplateError
            An unclosed ``{``, a lone ``}``, a field that is not an identifier, anything
            but ``}`` or ``|fallback`` after the name, a brace or ``|`` inside a fallback,
            a template over :data:`MAX_TEMPLATE_LENGTH` characters.
        ParameterTypeError
            ``text`` is not a string.

        Examples
        --------
        >>> Template.parse("{first_name.__class__}")
        Traceback (most recent call last):
        ...
        segexplore.errors.TemplateError: template: after the field name 'first_name' at position 0 comes '.' (position 11); a field is {name} or {name|fallback}: attributes, indexes, calls and filters are not allowed
        """
        if not isinstance(text, str):
            raise ParameterTypeError(f"{what} must be text, not {type(text).__name__}")
        if len(text) > MAX_TEMPLATE_LENGTH:
            raise TemplateError(f"{what} is {len(text):,} characters long; at most "
                                f"{MAX_TEMPLATE_LENGTH:,} are accepted")
        return cls(text, tuple(_tokens(text, what)))

    @property
    def fields(self) -> tuple[str, ...]:
        """The field names, in order of first use, without repeats."""
        return tuple(dict.fromkeys(p.name for p in self.parts if isinstance(p, MergeField)))

    @property
    def merge_fields(self) -> tuple[MergeField, ...]:
        """Every ``{...}`` of the template, in order."""
        return tuple(p for p in self.parts if isinstance(p, MergeField))

    def check(self, known: Collection[str], *, what: str = "template") -> None:
        """Raise :class:`TemplateError` for the first field not in ``known``, with the
        closest known name; also for ``{{first_name}}`` (other engines' syntax), which
        would print the literal text ``{first_name}`` to every contact."""
        for part in self.parts:
            if not isinstance(part, str):
                continue
            for match in _LOOKS_LIKE_FIELD.finditer(part):
                if match.group(1) in known:
                    name = match.group(1)
                    raise TemplateError(
                        f"{what}: '{{{{{name}}}}}' prints the literal text '{{{name}}}' (double "
                        f"braces escape a brace here); write {{{name}}} for the merge field",
                        position=self.text.find(name), field=name)
        for part in self.merge_fields:
            if part.name not in known:
                guess = closest_name(part.name, known)
                hint = f"; did you mean {guess!r}?" if guess else ""
                raise TemplateError(f"{what}: unknown field {part.name!r} at position "
                                    f"{part.position} (merge fields are contact columns and "
                                    f"behaviour features){hint}", position=part.position,
                                    field=part.name)

    def render(self, values: pd.DataFrame) -> pd.Series:
        """The template filled in for every row of ``values`` (one column per field).

        Returns a Series of text indexed like ``values``.
        """
        out = np.full(len(values), "", dtype=object)
        formatted: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for part in self.parts:
            if isinstance(part, str):
                out = out + part
                continue
            if part.name not in formatted:
                series = values[part.name]
                formatted[part.name] = (format_values(series, part.name),
                                        missing_values(series))
            text, missing = formatted[part.name]
            filled = np.where(missing, part.fallback or "", text)
            out = out + filled.astype(object)
        return pd.Series(out, index=values.index, dtype=object)

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        shown = self.text if len(self.text) <= 60 else self.text[:57] + "..."
        return f"Template({shown!r})"


def _tokens(text: str, what: str) -> list[str | MergeField]:
    """Literal runs and merge fields of ``text``, left to right, in one pass (linear time:
    the next ``{`` and ``}`` are each searched for again only once passed)."""
    parts: list[str | MergeField] = []
    literal: list[str] = []
    i, n = 0, len(text)
    opening = closing = -1
    while i < n:
        if opening < i:
            opening = text.find("{", i)
            opening = n if opening < 0 else opening
        if closing < i:
            closing = text.find("}", i)
            closing = n if closing < 0 else closing
        brace = min(opening, closing)
        literal.append(text[i:brace])
        if brace >= n:
            break
        char = text[brace]
        if brace + 1 < n and text[brace + 1] == char:  # {{ or }}: a literal brace
            literal.append(char)
            i = brace + 2
            continue
        if char == "}":
            raise TemplateError(f"{what}: a lone '}}' at position {brace}; write '}}}}' for a "
                                "literal brace", position=brace)
        field, i = _field(text, brace, what)
        if "".join(literal):
            parts.append("".join(literal))
        literal = []
        parts.append(field)
    if "".join(literal):
        parts.append("".join(literal))
    return parts


def _field(text: str, start: int, what: str) -> tuple[MergeField, int]:
    """The merge field opening at ``start`` and the position after its ``}``."""
    n = len(text)
    i = start + 1
    while i < n and text[i] == " ":
        i += 1
    match = _NAME.match(text, i)
    if match is None:
        found = repr(text[i]) if i < n else "the end of the template"
        hint = (" (names do not start with '_')" if i < n and text[i] == "_" else
                "; write '{{' for a literal brace")
        raise TemplateError(f"{what}: expected a field name after '{{' at position {start}, "
                            f"found {found}{hint}", position=i)
    name = match.group(0)
    i = match.end()
    while i < n and text[i] == " ":
        i += 1
    if i >= n:
        raise TemplateError(f"{what}: the '{{' at position {start} is never closed; write "
                            "'{{' for a literal brace", position=start, field=name)
    if text[i] == "}":
        return MergeField(name, None, start), i + 1
    if text[i] != "|":
        raise TemplateError(f"{what}: after the field name {name!r} at position {start} comes "
                            f"{text[i]!r} (position {i}); a field is {{name}} or "
                            "{name|fallback}: attributes, indexes, calls and filters are not "
                            "allowed", position=i, field=name)
    end = i + 1
    while end < n and text[end] not in "{}|":
        end += 1
    if end >= n:
        raise TemplateError(f"{what}: the '{{' at position {start} is never closed; write "
                            "'{{' for a literal brace", position=start, field=name)
    if text[end] != "}":
        raise TemplateError(f"{what}: the fallback of {name!r} at position {start} holds "
                            f"{text[end]!r} (position {end}); a fallback is plain text "
                            "without braces or '|'", position=end, field=name)
    return MergeField(name, text[i + 1:end], start), end + 1


def missing_values(values: pd.Series) -> np.ndarray:
    """Where a value counts as missing for a merge field: null, or blank text.

    Examples
    --------
    >>> missing_values(pd.Series(["Anne", None, "  ", float("nan")])).tolist()
    [False, True, True, True]
    """
    missing = values.isna().to_numpy(dtype=bool)
    dtype = values.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        categories = pd.Series(dtype.categories)
        if (pd.api.types.is_object_dtype(categories.dtype)
                or pd.api.types.is_string_dtype(categories.dtype)):
            blank = categories.astype(str).str.strip().eq("").to_numpy(dtype=bool)
            codes = values.cat.codes.to_numpy()
            missing = missing | ((codes >= 0) & blank[np.maximum(codes, 0)])
        return missing
    if pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype):
        text = values.astype("object")
        blank = np.array([isinstance(v, str) and not v.strip() for v in text], dtype=bool)
        missing = missing | blank
    return missing


def _text_of(value: object, name: str) -> str:
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d" if value == value.normalize() else "%Y-%m-%d %H:%M")
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        number = float(value)
        if name.startswith(_WHOLE_DAYS):
            return str(int(np.floor(number)))
        return str(int(number)) if number.is_integer() else f"{number:.2f}"
    return str(value)


def format_values(values: pd.Series, name: str = "") -> np.ndarray:
    """The text each value is rendered as (object array; ``""`` where missing).

    ``name`` is the field's name: ``days_since_*`` and ``days_to_*`` are whole days.

    Examples
    --------
    >>> format_values(pd.Series([3.0, 2.5, None])).tolist()
    ['3', '2.50', '']
    >>> format_values(pd.Series([87.9]), "days_since_last_purchase").tolist()
    ['87']
    """
    missing = missing_values(values)
    if isinstance(values.dtype, pd.CategoricalDtype):
        categories = np.array([_text_of(v, name) for v in values.dtype.categories] + [""],
                              dtype=object)
        codes = values.cat.codes.to_numpy()
        out = categories[np.where(codes >= 0, codes, len(categories) - 1)]
    else:
        out = np.array(["" if m else _text_of(v, name)
                        for v, m in zip(values.astype("object"), missing, strict=True)],
                       dtype=object)
    out[missing] = ""
    return out


def parse_templates(texts: Mapping[str, str | None], *, what: str,
                    known: Collection[str]) -> dict[str, Template]:
    """Parse and check each non-None text of ``texts`` (``{"subject": ..., ...}``)."""
    out = {}
    for key, text in texts.items():
        if text is None:
            continue
        label = f"{key} of {what}"
        template = Template.parse(text, what=label)
        template.check(known, what=label)
        out[key] = template
    return out
