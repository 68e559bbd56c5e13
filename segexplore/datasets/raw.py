"""Messy exports of a generated base: the mess :func:`~segexplore.datasets.generate.make_raw` plants.

This module owns the headers of the raw export files (:data:`RAW_CONTACT_HEADERS`,
:data:`RAW_ORDER_HEADERS`), the missing-value rates and the helpers that damage clean
tables the way real CRM, ESP and shop exports are damaged: dates as text in mixed
formats, e-mails retyped with other case and spaces or broken outright, and contacts who
signed up twice. :func:`~segexplore.datasets.generate.make_raw` and
:func:`~segexplore.datasets.generate.write_raw` (in :mod:`segexplore.datasets.generate`, which
re-exports the public names here) put them together.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from segexplore.datasets.tables import _CITIES, _choice
from segexplore.model import columns as col

__all__ = ["RAW_CONTACT_HEADERS", "RAW_ORDER_HEADERS"]

#: Header of each column in ``contacts_raw.csv`` (French CRM export). ``lifetime_value``
#: is a custom field that only the raw export has.
RAW_CONTACT_HEADERS = {
    "contact_id": "Identifiant", "email": "Email", "first_name": "Prénom", "last_name": "Nom",
    "gender": "Genre", "birth_date": "Date de naissance", "postal_code": "Code postal",
    "city": "Ville", "department": "Département", "region": "Région", "country": "Pays",
    "language": "Langue", "device": "Appareil", "signup_date": "Date d'inscription",
    "signup_source": "Source", "consent": "Consentement",
    "consent_date": "Date du consentement", "interests": "Centres d'intérêt",
    "loyalty_tier": "Niveau fidélité", "lifetime_value": "CA cumulé (€)",
}
#: Header of each column in ``orders_raw.csv`` (e-shop back-office export).
RAW_ORDER_HEADERS = {
    "order_id": "Numéro commande", "contact_id": "ID client", "timestamp": "Date commande",
    "amount": "Montant TTC", "items": "Nb articles", "brand": "Marque", "category": "Catégorie",
}
_MISSING_RATES = {"first_name": 0.02, "last_name": 0.015, "gender": 0.05, "birth_date": 0.06,
                  "postal_code": 0.02, "city": 0.015, "department": 0.05, "region": 0.05,
                  "language": 0.03, "device": 0.04, "signup_source": 0.03, "consent": 0.01,
                  "consent_date": 0.03}


def _mixed_dates(rng, values: pd.Series, shares=(0.7, 0.2, 0.1), *,
                 with_seconds: bool = False) -> pd.Series:
    """Format dates as "15/03/2024", "2024-03-15" or "15/03/2024 10:22" in one column.

    ``shares`` are the proportions of the three formats; with ``with_seconds`` the ISO
    form is "2024-03-15 10:22:05". Date-only values get a random time of day where a
    format shows one (a form saved when the contact signed up).
    """
    values = pd.to_datetime(values)
    known = values.dropna()
    if bool((known != known.dt.normalize()).any()):
        clock = values
    else:
        clock = values + pd.to_timedelta(rng.integers(7 * 3600, 23 * 3600, len(values)), unit="s")
    iso = "%Y-%m-%d %H:%M:%S" if with_seconds else "%Y-%m-%d"
    formats = [values.dt.strftime("%d/%m/%Y"), values.dt.strftime(iso),
               clock.dt.strftime("%d/%m/%Y %H:%M")]
    pick = _choice(rng, shares, len(values))
    text = np.select([pick == 0, pick == 1], [f.to_numpy(dtype=object) for f in formats[:2]],
                     formats[2].to_numpy(dtype=object))
    text[values.isna().to_numpy()] = None
    return pd.Series(text, index=values.index, dtype="str")


def _messy_email(rng, emails: pd.Series) -> pd.Series:
    """Same address, other case or spaces: "  Jean.Dupont@Gmail.Com "."""
    style = np.arange(len(emails)) % 4
    rng.shuffle(style)
    out = np.select([style == 0, style == 1, style == 2],
                    [emails.str.title(), emails.str.upper(), "  " + emails + " "],
                    " " + emails.str.capitalize())
    return pd.Series(out, index=emails.index, dtype="str")


def _invalid_email(emails: pd.Series) -> pd.Series:
    """Broken addresses of every usual kind, derived from the real ones."""
    parts = emails.str.split("@", n=1, expand=True)
    local, domain = parts[0], parts[1]
    constant = [pd.Series(text, index=emails.index) for text in ("no-email", "a@b")]
    kinds = [local + "@",                                            # "jean.dupont@"
             local.str.replace(".", " ", regex=False) + "@" + domain,  # "jean dupont@gmail.com"
             *constant,
             local + "@" + domain.str.rsplit(".", n=1).str[0],        # no top-level domain
             local + "." + domain,                                    # no "@"
             local + "@@" + domain]
    kind = np.arange(len(emails)) % len(kinds)
    out = np.select([kind == i for i in range(len(kinds))],
                    [k.to_numpy(dtype=object) for k in kinds], None)
    return pd.Series(out, index=emails.index, dtype="str")


def _few(n: int, share: float, minimum: int = 3) -> int:
    """``share`` of ``n`` rows, but at least ``minimum`` (so small bases get the mess too)."""
    return min(n, max(minimum, round(n * share)))


def _days_between(later: pd.Timestamp, dates: pd.Series) -> np.ndarray:
    return (later - dates).dt.days.to_numpy()


def _duplicates(rng, contacts: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """~3 % of contacts signed up again later, under a new id and a retyped e-mail."""
    original = np.sort(rng.choice(len(contacts), _few(len(contacts), 0.03, 1), replace=False))
    dup = contacts.iloc[original].reset_index(drop=True)
    dup["original_id"] = dup[col.CONTACT_ID]
    dup[col.CONTACT_ID] = contacts[col.CONTACT_ID].max() + 1 + np.arange(len(dup))
    dup[col.EMAIL] = _messy_email(rng, dup[col.EMAIL])
    last_day = as_of - pd.Timedelta(days=1)
    dup["signup_date"] += pd.to_timedelta(
        np.floor(rng.random(len(dup)) * _days_between(last_day, dup["signup_date"])), unit="D")
    after_signup = dup[col.CONSENT_DATE].clip(lower=dup["signup_date"] + pd.Timedelta(days=1))
    dup[col.CONSENT_DATE] = dup["signup_date"].where(dup[col.CONSENT] != "withdrawn", after_signup)
    change = rng.random(len(dup))
    moved = change < 0.4  # a newer address, consistent city / postal code / region
    city = _choice(rng, [c[5] for c in _CITIES], int(moved.sum()))
    for name, position in (("city", 0), ("department", 2), ("region", 3), ("country", 4)):
        dup.loc[moved, name] = np.array([c[position] for c in _CITIES], dtype=object)[city]
    dup.loc[moved, "postal_code"] = np.array([c[1][0] for c in _CITIES], dtype=object)[city]
    withdrawn = (change >= 0.4) & (change < 0.7)  # unsubscribed from one copy only
    dup.loc[withdrawn, col.CONSENT] = "withdrawn"
    room = np.maximum(_days_between(last_day, dup["signup_date"]) - 1, 0)
    withdrawal = dup["signup_date"] + pd.to_timedelta(
        1 + np.floor(rng.random(len(dup)) * room), unit="D")
    dup.loc[withdrawn, col.CONSENT_DATE] = withdrawal[withdrawn]
    other_interests = change >= 0.7
    shuffled = contacts[col.INTERESTS].to_numpy()[rng.permutation(len(contacts))]
    dup.loc[other_interests, col.INTERESTS] = shuffled[: int(other_interests.sum())]
    return dup
