"""Recognise columns under their common names: map a file's headers to canonical columns.

Headers are compared by :func:`header_key` against :data:`ALIASES`, then the analyst's own
mapping applies; :func:`map_columns` says what it renamed and which required columns are
missing, with the closest header. What each column then holds (its role) is
:mod:`segexplore.model.roles`.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping

import numpy as np
import pandas as pd

from segexplore.errors import SchemaError, closest_name
from segexplore.model.columns import normalise_name

__all__ = ["ALIASES", "REQUIRED", "header_key", "map_columns"]

#: Names of an order's discount (an amount taken off) and coupon code, in orders or in
#: purchase events (what discount_share_365d reads).
_DISCOUNT_ALIASES = ("discount", "remise", "discount_amount", "montant_remise", "rabais",
                    "reduction")
_COUPON_ALIASES = ("coupon", "coupon_code", "code_promo", "promo_code", "voucher",
                  "code_reduction", "code_remise")

#: Common names of each canonical column, per table. Headers are compared by
#: :func:`header_key`: without accents, case, punctuation, spaces or little words, so
#: ``"N° de commande"`` matches ``n_commande`` and ``"Adresse e-mail"`` ``adresse_email``.
ALIASES: dict[str, dict[str, tuple[str, ...]]] = {
    "contacts": {
        "contact_id": ("contact_id", "id", "customer_id", "client_id", "user_id", "id_client",
                       "identifiant", "contact", "customer", "numero_client", "n_client",
                       "no_client", "num_client", "ref_client", "reference_client",
                       "customer_number", "customer_no"),
        "email": ("email", "e_mail", "mail", "email_address", "adresse_email", "adresse_mail",
                  "courriel"),
        "first_name": ("first_name", "firstname", "prenom", "given_name"),
        "last_name": ("last_name", "lastname", "nom", "surname", "family_name", "nom_de_famille"),
        "gender": ("gender", "sexe", "civilite", "sex", "genre"),
        "birth_date": ("birth_date", "birthdate", "date_of_birth", "dob", "date_naissance",
                       "date_de_naissance", "birthday", "naissance"),
        "postal_code": ("postal_code", "zip", "zipcode", "zip_code", "code_postal", "cp",
                        "postcode", "post_code"),
        "city": ("city", "ville", "town", "commune", "localite"),
        "department": ("department", "departement", "province"),
        "region": ("region",),
        "country": ("country", "pays", "country_code", "land"),
        "language": ("language", "langue", "lang", "locale", "taal"),
        "device": ("device", "preferred_device", "appareil", "device_type"),
        "signup_date": ("signup_date", "created_at", "date_inscription", "date_d_inscription",
                        "subscribed_at", "optin_date", "signup", "inscription"),
        "signup_source": ("signup_source", "source", "optin_source", "origine", "opt_in_source"),
        "consent": ("consent", "consent_status", "optin", "opt_in", "consentement", "subscribed",
                    "newsletter", "statut_consentement"),
        "consent_date": ("consent_date", "date_consentement", "consent_updated_at",
                         "date_du_consentement"),
        "interests": ("interests", "interets", "centres_d_interet", "centres_interet", "tags",
                      "interest"),
        "loyalty_tier": ("loyalty_tier", "niveau_fidelite", "tier", "fidelite"),
    },
    "events": {
        "contact_id": ("contact_id", "customer_id", "client_id", "user_id", "id_client",
                       "contact", "numero_client", "n_client", "no_client", "num_client",
                       "ref_client", "reference_client", "customer_number", "customer_no"),
        "email": ("email", "e_mail", "mail", "email_address", "courriel"),
        "timestamp": ("timestamp", "ts", "date", "occurred_at", "event_time", "datetime",
                      "time", "created_at", "event_date", "horodatage"),
        "event_type": ("event_type", "type", "event", "action", "event_name", "type_evenement"),
        "campaign_id": ("campaign_id", "campaign", "campagne", "campaign_name"),
        "brand": ("brand", "marque"),
        "category": ("category", "categorie", "product_category", "categorie_produit"),
        "amount": ("amount", "montant", "value", "revenue", "price", "prix"),
        "items": ("items", "quantity", "qty", "quantite", "nb_items", "n_items", "articles",
                  "nb_articles"),
        "discount": _DISCOUNT_ALIASES,
        "coupon": _COUPON_ALIASES,
    },
    "orders": {
        "order_id": ("order_id", "id", "commande_id", "order_number", "numero_commande",
                     "id_commande", "order", "commande", "n_commande", "no_commande",
                     "num_commande", "reference_commande", "ref_commande", "order_no",
                     "order_ref", "order_reference"),
        "contact_id": ("contact_id", "customer_id", "client_id", "user_id", "id_client",
                       "contact", "numero_client", "n_client", "no_client", "num_client",
                       "ref_client", "reference_client", "customer_number", "customer_no"),
        "email": ("email", "e_mail", "mail", "email_address", "courriel"),
        "timestamp": ("timestamp", "order_date", "date", "created_at", "ordered_at",
                      "date_commande", "ts", "datetime", "occurred_at"),
        "amount": ("amount", "total", "montant", "order_total", "revenue", "montant_ttc",
                   "value", "price"),
        "items": ("items", "quantity", "qty", "quantite", "nb_items", "n_items", "articles",
                  "nb_articles"),
        "brand": ("brand", "marque"),
        "category": ("category", "categorie", "product_category"),
        "discount": _DISCOUNT_ALIASES,
        "coupon": _COUPON_ALIASES,
    },
}

#: Columns each table needs; a tuple means "one of these".
REQUIRED: dict[str, tuple[tuple[str, ...], ...]] = {
    "contacts": (("email", "contact_id"),),
    "events": (("contact_id", "email"), ("timestamp",), ("event_type",)),
    "orders": (("contact_id", "email"), ("timestamp",), ("amount",)),
}

#: Little words left out when headers are matched ("Date de naissance", "N° de commande").
_LITTLE_WORDS = frozenset({"de", "du", "des", "d", "la", "le", "les", "l", "of", "the"})


def header_key(name: object) -> str:
    """What two headers must share to mean the same column: :func:`normalise_name`
    without separators or little words, so spelling variants of one alias all match.

    Examples
    --------
    >>> header_key("Date de naissance") == header_key("date_naissance")
    True
    >>> header_key("E-mail"), header_key("Réf. commande"), header_key("N° de commande")
    ('email', 'refcommande', 'ncommande')
    """
    words = normalise_name(name).split("_")
    return "".join(word for word in words if word not in _LITTLE_WORDS)


def map_columns(
    frame: pd.DataFrame, table: str, mapping: Mapping[str, str] | None = None,
    *, source: str = "", notes: list[str] | None = None,
) -> tuple[dict[str, str], list[str]]:
    """Find the canonical name of each column of ``frame``.

    Headers match an alias by :func:`header_key` (accents, case, punctuation and little
    words ignored). When several columns match one canonical name (``E-mail`` and
    ``email``), the one named exactly so wins, else the first alias, else the first
    column; if their values differ, that is a problem (the analyst chooses with
    ``mapping``), else a note. A column that would collide with a renamed one (``email``
    when ``mapping`` maps ``E-mail`` to ``email``) is renamed ``email_unused``.

    Parameters
    ----------
    frame : DataFrame
        The table as read.
    table : {"contacts", "events", "orders"}
    mapping : dict, optional
        The analyst's own ``{column in the file: canonical name}``; it wins over aliases.
    source : str
        File name used in messages.
    notes : list of str, optional
        Sentences on what was chosen are appended here (two columns for one name...).

    Returns
    -------
    renames : dict
        ``{original column: canonical name}`` for the columns that were recognised.
    problems : list of str
        One sentence per required column that is missing, naming the columns that exist
        and the closest match.
    """
    mapping = dict(mapping or {})
    existing = [str(c) for c in frame.columns]
    unknown = [c for c in mapping if c not in existing]
    if unknown:
        hints = ", ".join(
            f"{c!r}" + (f" (did you mean {closest_name(c, existing)!r}?)"
                        if closest_name(c, existing) else "")
            for c in unknown
        )
        raise SchemaError(
            f"{source or table}: the column mapping names {hints}, which is not a column; "
            f"columns are {existing}."
        )
    renames: dict[str, str] = dict(mapping)
    taken = set(renames.values())
    problems: list[str] = []
    where = source or table
    by_key: dict[str, list[str]] = {}
    for column in existing:
        if column not in renames and header_key(column):
            by_key.setdefault(header_key(column), []).append(column)
    for canonical, aliases in ALIASES[table].items():
        if canonical in taken:
            continue
        candidates = [column for alias in dict.fromkeys(header_key(a) for a in aliases)
                      for column in by_key.get(alias, []) if column not in renames]
        candidates = list(dict.fromkeys(candidates))
        if not candidates:
            continue
        candidates.sort(key=lambda column: column != canonical)  # stable: exact name first
        renames[candidates[0]] = canonical
        taken.add(canonical)
        for other in candidates[1:]:
            _two_columns_one_name(frame, candidates[0], other, canonical, where,
                                  problems, notes)
    # A column left with the name another column now takes would make two of them.
    for column in existing:
        if column not in renames and column in taken:
            unused = _free_name(f"{column}_unused", existing, renames)
            renames[column] = unused
            if notes is not None:
                notes.append(f"{where}: column {column!r} renamed {unused!r}: the column "
                             f"mapping gives its name to another column")
    # An events/orders table keyed by email needs no contact_id.
    for options in REQUIRED[table]:
        if not taken.intersection(options):
            wanted = " or ".join(repr(o) for o in options)
            guess = _closest_column(options, table, [c for c in existing if c not in renames])
            hint = f" The closest is {guess!r}: pass columns={{{guess!r}: {options[0]!r}}}." \
                if guess else ""
            problems.append(
                f"{source or table}: required column {wanted} is missing; "
                f"columns are {existing}.{hint}"
            )
    return renames, problems


def _two_columns_one_name(frame: pd.DataFrame, chosen: str, other: str, canonical: str,
                          where: str, problems: list[str], notes: list[str] | None) -> None:
    """Report a second column matching ``canonical``: a note if it holds the same values,
    else a problem saying how to choose (picking one silently could miscount)."""
    first = frame[chosen].astype("string").str.strip()
    second = frame[other].astype("string").str.strip()
    differ = ~((first == second).fillna(False) | (first.isna() & second.isna()))
    n_differ = int(differ.sum())
    if not n_differ:
        if notes is not None:
            notes.append(f"{where}: columns {chosen!r} and {other!r} both mean {canonical} and "
                         f"hold the same values: {chosen!r} used, {other!r} kept as it is")
        return
    at = int(np.argmax(differ.to_numpy()))
    example = f"{frame[chosen].iloc[at]!r} vs {frame[other].iloc[at]!r}"
    problems.append(
        f"{where}: columns {chosen!r} and {other!r} both mean {canonical} but differ on "
        f"{n_differ:,} row{'s' if n_differ > 1 else ''} (e.g. {example}); say which to use, "
        f"e.g. columns={{{other!r}: {canonical!r}}} (the other is then kept under its own "
        f"name, or as {canonical + '_unused'!r} if it is named {canonical!r})")


def _free_name(name: str, existing: list[str], renames: Mapping[str, str]) -> str:
    """``name``, or ``name_2``, ``name_3``... if a column already has it."""
    used = set(existing) | set(renames.values())
    candidate, n = name, 1
    while candidate in used:
        n += 1
        candidate = f"{name}_{n}"
    return candidate


def _closest_column(options: tuple[str, ...], table: str, existing: list[str]) -> str | None:
    """The existing column most like any common name of ``options`` (for "did you mean")."""
    best, best_score = None, 0.0
    for column in existing:
        name = normalise_name(column)
        for option in options:
            for alias in ALIASES[table].get(option, (option,)):
                score = difflib.SequenceMatcher(None, name, alias).ratio()
                if score > best_score:
                    best, best_score = column, score
    return best if best_score >= 0.6 else None


