"""A tiny hand-made base whose segment memberships are worked out by hand (see conftest)."""

from __future__ import annotations

import pandas as pd

AS_OF = pd.Timestamp("2026-10-31")
NOW = pd.Timestamp("2026-11-01")


def events_frame() -> pd.DataFrame:
    rows = [
        # contact 1: three purchases in the last 30 days (6 items), six visits, a Nike click
        (1, "2026-10-10 10:00", "purchase", "Nike", 100.0, 2),
        (1, "2026-10-20 10:00", "purchase", "Nike", 50.0, 1),
        (1, "2026-10-25 10:00", "purchase", "Adidas", 30.0, 3),
        *[(1, f"2026-10-{d:02d} 09:00", "visit", None, None, None) for d in (5, 9, 14, 20, 26, 30)],
        (1, "2026-10-01 08:00", "click", "Nike", None, None),
        # contact 2: Nike buyer a while ago, an abandoned cart
        (2, "2025-06-01 10:00", "purchase", "Nike", 200.0, 4),
        (2, "2026-01-15 10:00", "purchase", "Nike", 80.0, 3),
        (2, "2026-10-28 10:00", "add_to_cart", "Nike", None, None),
        # contact 3: a cart followed by a purchase within 24 hours, five visits
        (3, "2026-10-26 12:00", "add_to_cart", "Salomon", None, None),
        (3, "2026-10-27 10:00", "purchase", "Salomon", 45.0, 1),
        *[(3, f"2026-10-{d:02d} 18:00", "visit", None, None, None) for d in (2, 8, 15, 22, 29)],
        # contact 4: three Nike clicks in 90 days, three purchases in 30 days, a cart too recent
        (4, "2026-09-10 08:00", "click", "Nike", None, None),
        (4, "2026-10-01 08:00", "click", "Nike", None, None),
        (4, "2026-10-15 08:00", "click", "Nike", None, None),
        (4, "2026-10-02 12:00", "purchase", "Adidas", 20.0, 1),
        (4, "2026-10-12 12:00", "purchase", "Adidas", 20.0, 1),
        (4, "2026-10-22 12:00", "purchase", "Adidas", 20.0, 1),
        (4, "2026-10-30 12:00", "add_to_cart", "Adidas", None, None),
        # contact 5: lapsed buyer
        (5, "2024-01-01 10:00", "purchase", "Petit Bateau", 500.0, 1),
        (5, "2026-10-30 20:00", "visit", None, None, None),
        # contact 6: purchase 25 hours after the cart -> still abandoned
        (6, "2026-10-29 09:00", "add_to_cart", "Nike", None, None),
        (6, "2026-10-30 10:00", "purchase", "Nike", 60.0, 2),
        # the last event sets the default as_of
        (7, "2026-10-31 00:00", "open", None, None, None),
    ]
    return pd.DataFrame(rows, columns=["contact_id", "timestamp", "event_type", "brand",
                                       "amount", "items"])


def contacts_frame() -> pd.DataFrame:
    return pd.DataFrame({
        "contact_id": [1, 2, 3, 4, 5, 6, 7],
        "email": [f"{c}@x.fr" for c in "abcdefg"],
        "city": ["Lyon", "Lyon", "Paris", "Paris", "Gent", "Bruxelles", None],
        "device": ["Android", "iOS", "Android", "Android", "Desktop", "Android", "iOS"],
        "region": ["Auvergne-Rhône-Alpes", "Auvergne-Rhône-Alpes", "Île-de-France",
                   "Île-de-France", "Flandre", "Bruxelles-Capitale", None],
        "language": ["fr", "fr", "fr", "en", "nl", "nl", "fr"],
        "birth_date": ["1990-11-03", "1985-02-10", None, "2000-11-06", "1970-06-30",
                       "1992-02-29", "1960-01-01"],
        "signup_date": ["2026-09-15", "2024-01-01", "2026-10-20", "2025-05-05", "2023-03-03",
                        "2026-08-01", "2020-01-01"],
        "consent": ["given", "given", "withdrawn", "pending", "given", "given", "given"],
        "interests": ["sport|outdoor", "running", "outdoor", None, "home|kids", "Sport", None],
        "loyalty_tier": ["gold", None, "silver", "bronze", None, "gold", None],
        "postal_code": ["69001", "69002", "75001", "75011", "9000", "1000", None],
        "country": ["FR", "FR", "FR", "FR", "BE", "BE", "FR"],
        "score": [10.0, 20.0, 30.0, 40.0, 50.0, 60.0, None],
    })
