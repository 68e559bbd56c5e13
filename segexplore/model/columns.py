"""Canonical column names of the three tables a :class:`ContactBase` holds.

Input files may name their columns differently; :mod:`segexplore.io.schema` maps
common aliases (and the analyst's own mapping) to these names. :func:`normalise_name` is
how every header and column name is compared.
"""

from __future__ import annotations

import re
import unicodedata

CONTACT_ID = "contact_id"
EMAIL = "email"
CONSENT = "consent"
CONSENT_DATE = "consent_date"
INTERESTS = "interests"
TIMESTAMP = "timestamp"
EVENT_TYPE = "event_type"
ORDER_ID = "order_id"
AMOUNT = "amount"
ITEMS = "items"

#: Consent statuses after cleaning. Only "given" may be emailed.
CONSENT_VALUES = ("given", "pending", "withdrawn")

#: Event types the generator writes and features understand (others are kept as they are).
EVENT_TYPES = ("open", "click", "visit", "add_to_cart", "purchase")

#: Separator of multi-valued attributes (interests) in the canonical form.
MULTI_VALUE_SEPARATOR = "|"

CONTACT_COLUMNS = (
    "contact_id", "email", "first_name", "last_name", "gender", "birth_date",
    "postal_code", "city", "department", "region", "country", "language", "device",
    "signup_date", "signup_source", "consent", "consent_date", "interests", "loyalty_tier",
)
EVENT_COLUMNS = (
    "contact_id", "timestamp", "event_type", "campaign_id", "brand", "category",
    "amount", "items",
)
ORDER_COLUMNS = ("order_id", "contact_id", "timestamp", "amount", "items", "brand", "category")


def normalise_name(name: object) -> str:
    """Lower-case, strip accents and punctuation: ``"Code Postal"`` -> ``"code_postal"``.

    Examples
    --------
    >>> normalise_name("N° de commande"), normalise_name("Nº commande")
    ('n_de_commande', 'no_commande')
    """
    text = unicodedata.normalize("NFKD", str(name))  # "º" -> "o", "é" -> "e" + accent
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower()
    return re.sub(r"[^a-z0-9]+", "_", text).strip("_")
