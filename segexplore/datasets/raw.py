"""Messy exports of a generated base: :func:`make_raw` plants the mess, :func:`write_raw`
writes the files.

This module owns the headers of the raw export files (:data:`RAW_CONTACT_HEADERS`,
:data:`RAW_ORDER_HEADERS`), the missing-value rates and the helpers that damage clean
tables the way real CRM, ESP and shop exports are damaged: dates as text in mixed
formats, e-mails retyped with other case and spaces or broken outright, and contacts who
signed up twice.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from segexplore.datasets.tables import _CITIES, _DAY, _choice
from segexplore.model import columns as col

__all__ = ["RAW_CONTACT_HEADERS", "RAW_ORDER_HEADERS", "make_raw", "write_raw"]

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


def make_raw(tables: dict[str, pd.DataFrame], *, seed: int = 0) -> dict[str, pd.DataFrame]:
    """Messy copies of a generated base, as real CRM / ESP / shop exports look.

    Planted problems: ~3 % duplicate contacts (new ``contact_id``, same e-mail up to
    case and spaces, some with a newer city, a withdrawn consent or other interests;
    activity after the duplicate's signup is recorded under the new id), ~1 % invalid
    e-mails, scattered missing values, French postal codes that lost their leading zero,
    dates as text in mixed formats, a few events of unknown contacts, a few orders with
    negative amounts (refunds) or dates in the future. Contacts gain the custom numeric
    field ``lifetime_value`` (sum of the contact's orders).

    Parameters
    ----------
    tables : dict of str to DataFrame
        Output of :func:`generate_base`.
    seed : int
        Seed of the mess (independent of the base's seed).

    Returns
    -------
    dict of str to DataFrame
        ``"contacts"``, ``"events"``, ``"orders"`` with canonical column names, text
        columns instead of categories and dates as text, ready for :func:`write_raw`.

    Examples
    --------
    >>> from segexplore.datasets.generate import generate_base
    >>> raw = make_raw(generate_base(300, seed=2), seed=2)
    >>> emails = raw["contacts"]["email"].str.strip().str.lower()
    >>> bool(emails.duplicated().any())
    True
    """
    rng = np.random.default_rng([seed, 7])
    contacts, events, orders = (tables[name].copy() for name in ("contacts", "events", "orders"))
    latest = pd.Series([events[col.TIMESTAMP].max(), contacts["signup_date"].max(),
                        contacts[col.CONSENT_DATE].max()]).max()  # skips NaT of empty tables
    as_of = latest.normalize() + pd.Timedelta(days=1)
    for frame in (contacts, events, orders):  # exports carry plain text, not categories
        for name in frame.columns:
            if isinstance(frame[name].dtype, pd.CategoricalDtype):
                frame[name] = frame[name].astype("str")
    spend = orders.groupby(col.CONTACT_ID)[col.AMOUNT].sum()
    contacts["lifetime_value"] = contacts[col.CONTACT_ID].map(spend).fillna(0.0).round(2)

    dup = _duplicates(rng, contacts, as_of)
    # Activity after the re-signup is recorded under the new id.
    new_id = pd.Series(dup[col.CONTACT_ID].to_numpy(), index=dup["original_id"].to_numpy())
    since = pd.Series(dup["signup_date"].to_numpy(), index=new_id.index)
    for frame in (events, orders):
        owner = frame[col.CONTACT_ID]
        switch = owner.isin(new_id.index) & (frame[col.TIMESTAMP] >= owner.map(since))
        frame.loc[switch, col.CONTACT_ID] = owner[switch].map(new_id)
    others = np.setdiff1d(np.arange(len(contacts)),
                          np.flatnonzero(contacts[col.CONTACT_ID].isin(new_id.index)))
    invalid = rng.choice(others, min(len(others), _few(len(contacts), 0.01, 1)), replace=False)
    if len(invalid):
        broken = _invalid_email(contacts[col.EMAIL].iloc[invalid])
        contacts.loc[invalid, col.EMAIL] = broken.to_numpy()
    contacts = pd.concat([contacts, dup.drop(columns="original_id")], ignore_index=True)
    for name, rate in _MISSING_RATES.items():
        contacts.loc[rng.random(len(contacts)) < rate, name] = None
    # Spreadsheets read French postal codes as numbers: "01000" became "1000".
    postal = contacts["postal_code"]
    lost_zero = ((contacts["country"] == "FR") & postal.str.startswith("0").fillna(False)
                 & (rng.random(len(contacts)) < 0.7))
    contacts.loc[lost_zero, "postal_code"] = postal[lost_zero].str.slice(1)
    for name in ("birth_date", "signup_date", col.CONSENT_DATE):
        shares = (0.85, 0.15, 0.0) if name == "birth_date" else (0.7, 0.2, 0.1)
        contacts[name] = _mixed_dates(rng, contacts[name], shares)

    # Events: a few of unknown contacts; timestamps mostly ISO, some day-first.
    unknown = rng.choice(len(events), _few(len(events), 0.0005), replace=False)
    events.loc[unknown, col.CONTACT_ID] = (contacts[col.CONTACT_ID].max() + 1000
                                           + rng.integers(1, 10**6, len(unknown)))
    events[col.TIMESTAMP] = _mixed_dates(rng, events[col.TIMESTAMP], (0.0, 0.9, 0.1),
                                         with_seconds=True)

    # Orders: refunds as negative amounts, typos that put dates in the future.
    refunds = rng.choice(len(orders), _few(len(orders), 0.003, 2), replace=False)
    orders.loc[refunds, col.AMOUNT] = -orders[col.AMOUNT].iloc[refunds]
    future = rng.choice(len(orders), _few(len(orders), 0.002, 2), replace=False)
    orders.loc[future, col.TIMESTAMP] = as_of + pd.to_timedelta(
        rng.integers(1, 400 * _DAY, len(future)), unit="s")
    orders[col.TIMESTAMP] = _mixed_dates(rng, orders[col.TIMESTAMP], (0.0, 0.2, 0.8),
                                         with_seconds=True)
    return {"contacts": contacts, "events": events, "orders": orders}


def write_raw(raw_tables: dict[str, pd.DataFrame], directory) -> dict[str, Path]:
    """Write raw exports as the tools that produce them do.

    - ``contacts_raw.csv``: cp1252 (Windows "Latin-1"), ``;`` separated, decimal commas,
      CRLF line ends, French headers (:data:`RAW_CONTACT_HEADERS`);
    - ``events_raw.csv``: UTF-8, ``,`` separated, canonical headers;
    - ``orders_raw.csv``: UTF-8 with BOM (Excel), ``;`` separated, decimal commas,
      French headers (:data:`RAW_ORDER_HEADERS`).

    Examples
    --------
    >>> import tempfile
    >>> from segexplore.datasets.generate import generate_base
    >>> raw = make_raw(generate_base(200, seed=3))
    >>> paths = write_raw(raw, tempfile.mkdtemp())
    >>> sorted(paths)
    ['contacts', 'events', 'orders']
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = {name: directory / f"{name}_raw.csv" for name in ("contacts", "events", "orders")}
    raw_tables["contacts"].rename(columns=RAW_CONTACT_HEADERS).to_csv(
        paths["contacts"], sep=";", decimal=",", float_format="%.2f", index=False,
        encoding="cp1252", lineterminator="\r\n")
    raw_tables["events"].to_csv(paths["events"], sep=",", index=False, encoding="utf-8")
    raw_tables["orders"].rename(columns=RAW_ORDER_HEADERS).to_csv(
        paths["orders"], sep=";", decimal=",", float_format="%.2f", index=False,
        encoding="utf-8-sig")
    return paths
