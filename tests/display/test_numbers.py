"""Counts and shares for English and French readers, and which locale a base gets.

Every expected text is written out by hand: French thousands and the space before ``%`` are
the narrow no-break space U+202F, the decimal mark a comma.
"""

from __future__ import annotations

import math

import pandas as pd
import pytest
from tiny_base import NOW, contacts_frame, events_frame

import segexplore as se
from segexplore.display.numbers import (
    base_locale,
    check_locale,
    format_count,
    format_decimal,
    format_share,
    french_readers,
    plotly_separators,
    resolve_locale,
)
from segexplore.errors import ParameterError, ParameterTypeError

NNBSP = "\u202f"


@pytest.mark.parametrize(("count", "english", "french"), [
    (0, "0", "0"),
    (999, "999", "999"),
    (1334, "1,334", f"1{NNBSP}334"),
    (20000, "20,000", f"20{NNBSP}000"),
    (1234567, "1,234,567", f"1{NNBSP}234{NNBSP}567"),
    (-18666, "-18,666", f"-18{NNBSP}666"),
])
def test_counts_have_the_readers_thousands_separator(count, english, french):
    assert format_count(count) == format_count(count, "en") == english
    assert format_count(count, "fr") == french


def test_shares_have_the_readers_decimal_mark_and_percent_sign():
    share = 1334 / 20000  # 6.67 %
    assert format_share(share) == "6.7%"
    assert format_share(share, "fr") == f"6,7{NNBSP}%"
    assert format_share(0.5, "fr", digits=0) == f"50{NNBSP}%"
    assert format_share(1.0, "en") == "100.0%"
    assert format_share(12.345, "fr") == f"1{NNBSP}234,5{NNBSP}%"  # thousands, then decimals


def test_missing_values_are_empty():
    for missing in (None, math.nan, pd.NA):
        assert format_count(missing, "fr") == format_share(missing) == ""


def test_a_decimal_keeps_its_format_and_takes_the_readers_separators():
    assert format_decimal(1234.5, ",.1f") == "1,234.5"
    assert format_decimal(1234.5, ",.1f", "fr") == f"1{NNBSP}234,5"
    assert format_decimal(0.0878, ",.3g", "fr") == "0,0878"


def test_plotly_separators_are_decimal_then_thousands():
    assert plotly_separators("en") == ".,"
    assert plotly_separators("fr") == f",{NNBSP}"


def test_an_unknown_locale_is_refused():
    with pytest.raises(ParameterError, match="unknown locale 'de'"):
        check_locale("de")
    with pytest.raises(ParameterTypeError):
        check_locale(1)
    with pytest.raises(ParameterError):
        format_count(3, "fr_FR")


def _base(**columns) -> se.ContactBase:
    """The tiny seven-contact base with some contact columns replaced (None: dropped)."""
    contacts = contacts_frame()
    for name, values in columns.items():
        if values is None:
            contacts = contacts.drop(columns=[name])
        else:
            contacts[name] = values
    return se.read_base(contacts, events_frame(), now=NOW)


def test_the_sample_is_french_by_its_language_column():
    sample = se.load_sample()
    # language: fr 17,333, nl 1,813, en 740, de 114 of 20,000 contacts
    assert french_readers(sample) == 17333
    assert base_locale(sample) == "fr"


def test_more_than_half_must_read_french():
    four_of_seven = ["fr-FR", "FR", "fr_BE", "fr", "en", "nl", "de"]
    assert french_readers(_base(language=four_of_seven)) == 4
    assert base_locale(_base(language=four_of_seven)) == "fr"
    three_of_seven = ["fr-FR", "FR", "fr_BE", "en", "en", "nl", "de"]
    assert base_locale(_base(language=three_of_seven)) == "en"
    # "frisian" starts with "fr" but is no French language tag
    assert french_readers(_base(language=["frisian"] * 7)) == 0


def test_missing_languages_count_among_the_contacts():
    half_missing = ["fr", "fr", "fr", None, None, None, "en"]
    assert french_readers(_base(language=half_missing)) == 3
    assert base_locale(_base(language=half_missing)) == "en"  # 3 of 7, not 3 of 4


def test_without_a_language_column_the_country_decides():
    # the tiny base's countries: FR FR FR FR BE BE FR, all French-reading countries
    assert french_readers(_base(language=None)) == 7
    assert base_locale(_base(language=None)) == "fr"
    us = ["US", "US", "US", "US", "FR", "BE", "CH"]
    assert base_locale(_base(language=None, country=us)) == "en"
    assert base_locale(_base(language=None, country=None)) == "en"
    assert french_readers(_base(language=None, country=None)) is None


def test_an_explicit_locale_always_wins():
    sample = se.load_sample()
    assert resolve_locale(None, sample) == "fr"
    assert resolve_locale("en", sample) == "en"
    english = _base(language=["en"] * 7)
    assert resolve_locale(None, english) == "en" and resolve_locale("fr", english) == "fr"


def test_a_duckdb_base_gets_the_same_locale():
    folder = se.sample_path()
    duck = se.read_base(folder / "contacts.parquet", folder / "events.parquet",
                        folder / "orders.parquet", engine="duckdb")
    assert french_readers(duck) == 17333
    assert base_locale(duck) == "fr"
