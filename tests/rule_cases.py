"""Rules with their members worked out by hand on the tiny base (tests/tiny_base.py), shared
by the engine tests: the pandas and DuckDB engines (tests/rules/engines/test_evaluate.py)
and the parity tests on PostgreSQL and Spark (tests/engines/test_*_parity.py)."""

from __future__ import annotations

#: The saved segment the cases' ``segment("Clients groupe A")`` reads: (rule, name).
SEGMENT_A = ('loyalty_tier in ("gold", "silver")', "Clients groupe A")

# The nine examples of the rule-engine issue, plus one per operator, with the members
# worked out by hand from tests/conftest.py.
CASES = [
    ('region = "Île-de-France" and device = "Android" and count(purchase, last 30 days) >= 3', {4}),
    ('city = "Lyon" and device = "Android" and count(visit, last 30 days) >= 5', {1}),
    ("sum(purchase.items, last 180 days) >= 6", {1}),
    ('count(purchase where brand = "Nike", last 365 days) >= 2 or '
     'count(click where brand = "Nike", last 90 days) >= 3', {1, 4}),
    ("performed(add_to_cart not followed by purchase within 24 hours, last 7 days)", {2, 6}),
    ('language = "nl" and segment("Clients groupe A")', {6}),
    ('interests has any ("sport", "outdoor") and not (consent = "withdrawn")', {1, 6}),
    ("signup_date within last 90 days and birth_date is not missing", {1}),
    ("last_purchase_date more than 365 days ago", {5}),
    ('city != "Lyon"', {3, 4, 5, 6}),
    ('not (city = "Lyon")', {3, 4, 5, 6, 7}),
    ("city is missing", {7}),
    ('postal_code starts with "75"', {3, 4}),
    ('city contains "RUX"', {6}),
    ('city ends with "ON"', {1, 2}),
    ('loyalty_tier in ("gold")', {1, 6}),
    ('loyalty_tier not in ("gold")', {3, 4}),
    ("signup_date between 2026-01-01 and 2026-09-15", {1, 6}),
    ("signup_date before 2024-01-01", {5, 7}),
    ("signup_date after 2026-09-15", {3}),
    ("birth_date anniversary within next 7 days", {1, 4}),
    ("avg(purchase.amount, last 365 days) > 40", {1, 2, 3, 6}),
    ("last(purchase) within last 7 days", {1, 3, 6}),
    ("count(purchase, last 30 days) < 1", {2, 5, 7}),
    ("count(purchase, between 2026-10-20 and 2026-10-25) >= 1", {1, 4}),
    ("score in top 30%", {5, 6}),
    ("score >= 30 and score < 60", {3, 4, 5}),
    ("score between 20 and 40", {2, 3, 4}),
    ('interests has all ("sport", "outdoor")', {1}),
    ('interests has none ("sport", "outdoor")', {2, 5}),
    ('interests has "kids"', {5}),
    ('count(purchase where brand in ("Nike", "Adidas") and amount > 25, last 365 days) >= 2',
     {1}),
    ('max(purchase.amount) >= 200', {2, 5}),
]
