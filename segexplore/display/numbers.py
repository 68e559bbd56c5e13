"""Counts and shares as a reader of the base expects them: ``1,334`` and ``6.7%`` in
English, ``1 334`` and ``6,7 %`` in French.

Every count and share the explorer's headline and the stakeholder report show goes through
:func:`format_count` and :func:`format_share`, so the two locales differ in one place.

French separates thousands with a narrow no-break space (U+202F, :data:`FRENCH_THOUSANDS`)
and puts the same narrow no-break space before the percent sign: the spacing of French
typography (and of CLDR's ``fr`` locale), which never breaks a number across two lines.
The decimal mark is a comma.

Which locale a base gets (:func:`base_locale`): French when more than half of its contacts
read French, that is when their ``language`` is French (``fr``, ``fr-FR``, ``fr_BE``...,
in any case) or, on a base without a ``language`` column, when their ``country`` is one
where most contacts read French (:data:`FRENCH_COUNTRIES`); English otherwise. An explicit
``locale="fr"`` or ``locale="en"`` always wins (:func:`resolve_locale`).

Examples
--------
>>> format_count(1334, "fr") == "1\\u202f334"
True
>>> format_share(1334 / 20000, "fr") == "6,7\\u202f%"
True
>>> format_count(1334), format_share(1334 / 20000)
('1,334', '6.7%')
>>> import segexplore as se
>>> base_locale(se.load_sample())
'fr'
"""

from __future__ import annotations

import math
from typing import Any

from segexplore.errors import ParameterError, ParameterTypeError

__all__ = ["LOCALES", "FRENCH_THOUSANDS", "FRENCH_COUNTRIES", "check_locale",
           "format_count", "format_share", "format_decimal", "french_readers",
           "base_locale", "resolve_locale", "plotly_separators"]

#: The locales numbers are formatted for.
LOCALES = ("en", "fr")

#: The French thousands separator, also put before ``%``: a narrow no-break space.
FRENCH_THOUSANDS = "\u202f"

#: Countries whose contacts are taken to read French when a base has no ``language``.
FRENCH_COUNTRIES = ("FR", "BE", "CH", "LU", "MC")

#: English separators to French ones: thousands, then decimals (one pass, no clash).
_TO_FRENCH = str.maketrans({",": FRENCH_THOUSANDS, ".": ","})


def check_locale(locale: Any) -> str:
    """``locale`` if it is one of :data:`LOCALES`; a :class:`ParameterError` otherwise.

    Examples
    --------
    >>> check_locale("fr")
    'fr'
    """
    if not isinstance(locale, str):
        raise ParameterTypeError(f"locale must be one of {', '.join(LOCALES)}, not "
                                 f"{type(locale).__name__}")
    if locale not in LOCALES:
        raise ParameterError(f"unknown locale {locale!r}: use one of {', '.join(LOCALES)}")
    return locale


def plotly_separators(locale: str = "en") -> str:
    """The ``separators`` of a plotly layout (decimal mark, then thousands separator) for
    ``locale``: plotly.js then writes the axes' and hovers' numbers as :func:`format_count`
    does, with no locale bundle to load.

    Examples
    --------
    >>> plotly_separators("fr") == ",\u202f"
    True
    """
    return f",{FRENCH_THOUSANDS}" if check_locale(locale) == "fr" else ".,"


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or (
        type(value).__name__ in ("NAType", "NaTType"))


def format_decimal(value: Any, spec: str = ",.4g", locale: str = "en") -> str:
    """A number formatted by the format ``spec`` (English separators, as Python writes
    them), with the separators of ``locale``; ``""`` when it is missing.

    Examples
    --------
    >>> format_decimal(1234.5, ",.1f", "fr") == "1\\u202f234,5"
    True
    """
    check_locale(locale)
    if _missing(value):
        return ""
    text = format(value, spec)
    if locale == "fr":
        text = text.translate(_TO_FRENCH).replace("%", f"{FRENCH_THOUSANDS}%")
    return text


def format_count(count: Any, locale: str = "en") -> str:
    """A whole number with thousands separators: ``1,334`` (en), ``1 334`` (fr).

    Examples
    --------
    >>> format_count(20000)
    '20,000'
    """
    return format_decimal(count if _missing(count) else int(count), ",d", locale)


def format_share(share: Any, locale: str = "en", *, digits: int = 1) -> str:
    """A share (0..1) as a percentage: ``6.7%`` (en), ``6,7 %`` (fr); ``""`` when missing.

    Examples
    --------
    >>> format_share(0.0667), format_share(0.5, digits=0)
    ('6.7%', '50%')
    """
    return format_decimal(share, f",.{digits}%", locale)


#: Spellings of French in a ``language`` column (besides ``fr-XX`` and ``fr_XX`` tags).
_FRENCH_LANGUAGES = ("fr", "FR", "Fr")


def _quoted(values: tuple[str, ...]) -> str:
    return ", ".join(f'"{value}"' for value in values)


def _french_rule(columns: set[str]) -> tuple[str, str] | None:
    """The rule matching French readers and the column it reads (None: no such column)."""
    if "language" in columns:
        tags = " or ".join(f'language starts with "{prefix}{mark}"'
                           for prefix in ("fr", "FR") for mark in "-_")
        return f"language in ({_quoted(_FRENCH_LANGUAGES)}) or {tags}", "language"
    if "country" in columns:
        return f"country in ({_quoted(FRENCH_COUNTRIES)})", "country"
    return None


def french_readers(base: Any) -> int | None:
    """How many contacts of ``base`` read French (see the module's description); None when
    the base has neither a ``language`` nor a ``country`` column.

    Examples
    --------
    >>> import segexplore as se
    >>> french_readers(se.load_sample())
    17333
    """
    found = _french_rule(set(base.contact_columns))
    return None if found is None else int(base.count(found[0]))


def base_locale(base: Any) -> str:
    """``"fr"`` when more than half of the contacts of ``base`` read French, else ``"en"``.

    Counted by the base's own engine (``base.count``), so a DuckDB or server base answers
    with one query.

    Examples
    --------
    >>> import segexplore as se
    >>> base_locale(se.load_sample())
    'fr'
    """
    found = _french_rule(set(base.contact_columns))
    if found is None:
        return "en"
    rule, column = found
    readers = int(base.count(rule))
    # every contact, whatever its value, through the same engine as the readers
    total = int(base.count(f"{column} is missing or {column} is not missing"))
    return "fr" if 2 * readers > total else "en"


def resolve_locale(locale: str | None, base: Any) -> str:
    """The locale to use: ``locale`` when given (it always wins), else :func:`base_locale`.

    Examples
    --------
    >>> import segexplore as se
    >>> resolve_locale("en", se.load_sample()), resolve_locale(None, se.load_sample())
    ('en', 'fr')
    """
    return base_locale(base) if locale is None else check_locale(locale)
