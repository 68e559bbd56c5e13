"""Seeded, vectorised generator of a realistic French/Belgian email contact base.

:func:`generate_base` builds the three canonical tables (``contacts``, ``events``,
``orders``) with structure worth segmenting: latent personas (loyal buyers, lapsed
customers, cart abandoners, window shoppers, newsletter-only openers, never engaged),
heavy-tailed engagement, brand affinity, seasonality (Black Friday, Christmas, January
sales, summer dip) and purchases that follow recent clicks and visits.
:func:`make_raw` and :func:`write_raw` turn a base into messy exports as real tools
produce them; :func:`write_sample` writes the bundled copy found by :func:`sample_path`.

Everything is numpy-vectorised (loops only run over a handful of personas, profiles or
calendar days), so a million contacts and ~20 million events take seconds.

This module owns the simulation and the public entry points. The reference tables it
draws from (cities, names, brands, categories, personas...) live in
:mod:`segexplore.datasets.tables`, and the helpers that make the exports messy (with
the raw file headers) in :mod:`segexplore.datasets.raw`; their public names are
re-exported here.
"""

from __future__ import annotations

import importlib.resources
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from segexplore.datasets.raw import (
    _MISSING_RATES,
    RAW_CONTACT_HEADERS,
    RAW_ORDER_HEADERS,
    _duplicates,
    _few,
    _invalid_email,
    _mixed_dates,
)
from segexplore.datasets.tables import (
    _BE_DOMAINS,
    _BRANDS,
    _CATEGORY_PRICE,
    _CATEGORY_TAGS,
    _CITIES,
    _DEVICE_PROFILES,
    _FLA,
    _FR_DOMAINS,
    _FR_FEMALE,
    _FR_LAST,
    _FR_MALE,
    _HOUR_WEIGHTS,
    _LANGUAGE_PROFILES,
    _LAPSED,
    _NL_FEMALE,
    _NL_LAST,
    _NL_MALE,
    _P,
    _PERSONAS,
    BRANDS,
    CATEGORIES,
    DEVICES,
    INTEREST_TAGS,
    LANGUAGES,
    LOYALTY_TIERS,
    SIGNUP_SOURCES,
    _choice,
)
from segexplore.model import columns as col

__all__ = [
    "RAW_CONTACT_HEADERS",
    "RAW_ORDER_HEADERS",
    "generate_base",
    "make_raw",
    "sample_path",
    "write_raw",
    "write_sample",
]

#: Days of event history before ``as_of`` (three years, so lapsed buyers and several
#: Black Fridays are visible).
HISTORY_DAYS = 3 * 365 + 1
#: Oldest signup, in days before ``as_of``.
SIGNUP_DAYS = 6 * 365
_DAY = 86_400
#: Organic journeys per intensity-day relative to opens per campaign weight; tuned so
#: opens are ~40 % of events and page visits ~45 %, as in ESP + web analytics exports.
_ORGANIC_SCALE = 0.032
#: A journey holds 1 + Geometric sessions (mean 1 / _JOURNEY_P); the purchase decision is
#: mostly taken in its last session, so recent visits predict a purchase soon after.
_JOURNEY_P = 0.55


# ---------------------------------------------------------------------------------
# Small vectorised helpers
# ---------------------------------------------------------------------------------
def _choice_per_row(rng: np.random.Generator, probabilities: np.ndarray) -> np.ndarray:
    """Draw one index per row of a (rows, k) probability matrix (rows need not sum to 1)."""
    cum = np.cumsum(probabilities, axis=1)
    u = rng.random(len(cum)) * cum[:, -1]
    return (u[:, None] >= cum).sum(axis=1).clip(0, probabilities.shape[1] - 1)


def _zipf_weights(n: int) -> np.ndarray:
    # Common first and last names dominate, as in real registries.
    return 1.0 / (np.arange(n) + 4.0)


def _within_group_cumsum(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Cumulative sum of ``values`` restarting at each group of ``counts`` rows."""
    total = np.cumsum(values)
    counts = counts[counts > 0]
    starts = np.cumsum(counts) - counts
    before = total[starts] - values[starts]
    return total - np.repeat(before, counts)


def _group_position(counts: np.ndarray) -> np.ndarray:
    """0-based position of each row within its group of ``counts`` rows."""
    return _within_group_cumsum(np.ones(int(counts.sum()), dtype=np.int64), counts) - 1


def _draw_in_windows(rng: np.random.Generator, cum: np.ndarray, lo: np.ndarray,
                     hi: np.ndarray) -> np.ndarray:
    """Index ``i`` in ``[lo, hi)`` per row, with probability ~ ``cum[i+1] - cum[i]``."""
    target = cum[lo] + rng.random(len(lo)) * (cum[hi] - cum[lo])
    return np.clip(np.searchsorted(cum, target, side="right") - 1, lo, np.maximum(hi - 1, lo))


def _slug(text: str) -> str:
    """ASCII e-mail-safe form of a name: "Hélène" -> "helene", "D'Hondt" -> "dhondt"."""
    text = text.replace("œ", "oe").replace("Œ", "Oe")
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(c for c in ascii_text.lower() if c.isalnum() or c == "-")


def _as_str(values: np.ndarray | pa.Array) -> pd.Series:
    return pd.Series(values, dtype="str")


def _categorical(codes: np.ndarray, categories) -> pd.Categorical:
    dtype = np.int8 if len(categories) < 127 else np.int16
    return pd.Categorical.from_codes(codes.astype(dtype, copy=False),
                                     categories=list(categories))


# ---------------------------------------------------------------------------------
# Calendar: daily shopping intensity and the campaign plan
# ---------------------------------------------------------------------------------
def _nth_weekday(year: int, month: int, weekday: int, nth: int) -> np.datetime64:
    """``nth`` (1-based, -1 = last) given weekday (Mon = 0) of a month."""
    first = np.datetime64(f"{year}-{month:02d}-01")
    if nth > 0:
        return first + ((weekday - (first.astype(int) + 3) % 7) % 7) + 7 * (nth - 1)
    last = (first.astype("datetime64[M]") + 1).astype("datetime64[D]") - 1
    return last - ((last.astype(int) + 3) % 7 - weekday) % 7


def _black_friday(year: int) -> np.datetime64:
    """The day after the 4th Thursday of November."""
    return _nth_weekday(year, 11, 3, 4) + 1


def _special_days(years) -> dict[np.datetime64, float]:
    """Retail peaks: Black Friday, Cyber Monday, Christmas, sales, Mother's Day."""
    days: dict[np.datetime64, float] = {}
    for year in years:
        black_friday = _black_friday(year)
        days[black_friday] = 2.5
        days[black_friday + 3] = 1.8                       # Cyber Monday
        days[np.datetime64(f"{year}-12-18")] = 1.6         # last-minute Christmas
        days[_nth_weekday(year, 1, 2, 2)] = 2.0            # winter sales (2nd Wednesday)
        days[_nth_weekday(year, 6, 2, -1)] = 1.5           # summer sales (last Wednesday)
        days[_nth_weekday(year, 5, 6, -1) - 6] = 1.3       # Mother's Day (last Sunday)
    return days


def _daily_intensity(days: np.ndarray) -> np.ndarray:
    """Relative shopping activity of each calendar day (seasonality + growth)."""
    month = days.astype("datetime64[M]").astype(int) % 12 + 1
    day_of_month = (days - days.astype("datetime64[M]")).astype(int) + 1
    weekday = (days.astype(int) + 3) % 7
    month_factor = np.array([0, 1.35, 0.9, 1.0, 1.0, 1.0, 1.05, 0.85, 0.75, 0.95, 1.0,
                             1.55, 1.75])[month]
    intensity = month_factor * np.array([1.0, 0.95, 0.95, 1.0, 1.05, 1.15, 1.2])[weekday]
    intensity = np.where((month == 12) & (day_of_month > 24), 0.9, intensity)
    years = np.unique(days.astype("datetime64[Y]").astype(int) + 1970)
    for year in years:
        black_friday = _black_friday(int(year))
        week = (days >= black_friday - 1) & (days <= black_friday + 3)
        intensity = np.where(week, intensity * 2.5, intensity)
        sales = _nth_weekday(int(year), 1, 2, 2)
        intensity = np.where((days >= sales) & (days < sales + 14), intensity * 1.4, intensity)
    growth = 1.0 + 0.15 * (days - days[0]).astype(float) / 365.0  # the shop grows
    return intensity * growth


def _campaign_plan(rng: np.random.Generator, origin: np.datetime64, n_days: int):
    """Sent campaigns: (send second from origin, weight, "CMP-YYYY-MM-X" ids)."""
    days = origin + np.arange(n_days)
    special = _special_days(range(int(str(days[0])[:4]), int(str(days[-1])[:4]) + 1))
    sends: list[int] = []
    weights: list[float] = []
    ids: list[str] = []
    per_month: dict[str, int] = {}
    for d, day in enumerate(days):  # ~1,100 calendar days, not rows
        month = int(str(day)[5:7])
        weekday = (int(day.astype(int)) + 3) % 7
        slots: list[tuple[int, float]] = []
        if weekday == 1 and (month != 8 or d % 14 < 7):
            slots.append((10, 1.0))
        if weekday == 3 and month != 8:
            slots.append((18, 1.0))
        if weekday == 6 and month in (11, 12):
            slots.append((11, 1.1))
        if day in special:
            slots.append((8, special[day]))
        for hour, weight in slots:
            key = str(day)[:7]
            per_month[key] = per_month.get(key, 0) + 1
            sends.append(d * _DAY + hour * 3600)
            season = {11: 1.3, 12: 1.3, 1: 1.2, 7: 0.8, 8: 0.8}.get(month, 1.0)
            weights.append(weight * season)
            ids.append(f"CMP-{key}-{chr(64 + per_month[key])}")
    attractiveness = rng.lognormal(0.0, 0.25, len(sends))
    return np.array(sends, dtype=np.int64), np.array(weights) * attractiveness, ids


# ---------------------------------------------------------------------------------
# Contacts
# ---------------------------------------------------------------------------------
@dataclass
class _Latent:
    """Hidden per-contact parameters the event simulation needs."""

    persona: np.ndarray
    brand: np.ndarray           # preferred brand index
    category: np.ndarray        # preferred category index
    email_start: np.ndarray     # window bounds in days from the history origin
    email_end: np.ndarray
    shop_start: np.ndarray
    shop_end: np.ndarray
    email_activity: np.ndarray  # heavy-tailed multipliers (lognormal, mean 1)
    shop_activity: np.ndarray
    buy_prob: np.ndarray


def _names(rng, n, language, gender, region):
    """First and last names (Flemish names mostly in Flanders / Dutch speakers)."""
    nl_share = np.where(language == 1, 0.92, np.where(region == _FLA, 0.4, 0.03))
    flemish = rng.random(n) < nl_share
    first_vocab = _FR_FEMALE + _FR_MALE + _NL_FEMALE + _NL_MALE
    offsets = np.cumsum([0, len(_FR_FEMALE), len(_FR_MALE), len(_NL_FEMALE)])
    pools = (_FR_FEMALE, _FR_MALE, _NL_FEMALE, _NL_MALE)
    # Gender X takes a name from either list.
    female = np.where(gender == 2, rng.random(n) < 0.5, gender == 0)
    pool = flemish * 2 + (~female)
    first = np.empty(n, dtype=np.int64)
    for k, names in enumerate(pools):
        rows = np.flatnonzero(pool == k)
        first[rows] = offsets[k] + _choice(rng, _zipf_weights(len(names)), len(rows))
    last = np.where(flemish,
                    len(_FR_LAST) + _choice(rng, _zipf_weights(len(_NL_LAST)), n),
                    _choice(rng, _zipf_weights(len(_FR_LAST)), n))
    return first_vocab, first, _FR_LAST + _NL_LAST, last


def _emails(rng, first_vocab, first, last_vocab, last, birth_year, country):
    """Unique lower-case addresses: firstname.lastname + digits @ a local provider."""
    n = len(first)
    first_slug = pa.array([_slug(x) for x in first_vocab]).take(pa.array(first))
    last_slug = pa.array([_slug(x) for x in last_vocab]).take(pa.array(last))
    initial = pc.utf8_slice_codeunits(first_slug, 0, 1)
    pattern = _choice(rng, [30, 25, 15, 10, 5, 10, 5], n)
    head = pc.if_else(pa.array(pattern == 3), initial,
                      pc.if_else(pa.array(pattern == 6), last_slug, first_slug))
    tail = pc.if_else(pa.array(pattern == 6), first_slug, last_slug)
    sep = pa.array(np.array([".", ".", "", ".", "_", ".", "."], dtype=object)[pattern])
    # Digits come from a small vocabulary: "" | zero-padded 00..99 | plain 0..2099.
    digit_vocab = pa.array([""] + [f"{i:02d}" for i in range(100)]
                           + [str(i) for i in range(2100)])
    nn = rng.integers(1, 100, n)
    padded_or_not = np.where(rng.random(n) < 0.5, 1 + nn, 101 + nn)
    digit_index = np.select([pattern == 1, pattern == 2, pattern == 5],
                            [padded_or_not, 1 + birth_year % 100, 101 + birth_year], 0)
    digits = digit_vocab.take(pa.array(digit_index))
    domains = [np.array(list(table), dtype=object)[_choice(rng, list(table.values()), n)]
               for table in (_FR_DOMAINS, _BE_DOMAINS)]
    domain = np.where(country == 0, domains[0], domains[1])
    local = pc.binary_join_element_wise(head, sep, tail, digits, "")
    emails = pd.Series(local, dtype="str") + "@" + pd.Series(domain, dtype="str")
    # Homonyms collide: give later copies an extra number until every address is unique.
    for _ in range(20):
        duplicated = emails.duplicated().to_numpy()
        if not duplicated.any():
            break
        rows = np.flatnonzero(duplicated)
        parts = emails.iloc[rows].str.split("@", n=1, expand=True)
        extra = pd.Series(rng.integers(2, 1000, len(rows)).astype(str), index=parts.index)
        emails.iloc[rows] = (parts[0] + extra + "@" + parts[1]).to_numpy()
    return emails


def _interests(rng, n, preferred_category):
    """Multi-valued "|"-joined tags from the preferred category plus random extras."""
    bits = np.zeros(n, dtype=np.int64)
    tag_bit = {tag: 1 << i for i, tag in enumerate(INTEREST_TAGS)}
    for c, category in enumerate(CATEGORIES):
        mask = np.zeros(n, dtype=np.int64)
        for tag in _CATEGORY_TAGS[category]:
            mask |= tag_bit[tag]
        bits |= np.where((preferred_category == c) & (rng.random(n) < 0.8), mask, 0)
    for i in range(len(INTEREST_TAGS)):
        bits |= np.where(rng.random(n) < 0.1, 1 << i, 0)
    lookup = np.array(["|".join(t for i, t in enumerate(INTEREST_TAGS) if b >> i & 1)
                       for b in range(1 << len(INTEREST_TAGS))], dtype=object)
    text = lookup[bits]
    state = rng.random(n)
    text[state < 0.15] = None          # never answered the preference centre
    text[(state >= 0.15) & (state < 0.2)] = ""
    return pd.Series(text, dtype="str")


def _geography(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """City by population, a postal code of that city, country, language and device."""
    city = _choice(rng, [c[5] for c in _CITIES], n)
    code_counts = np.array([len(c[1]) for c in _CITIES])
    code_offsets = np.cumsum(code_counts) - code_counts
    all_codes = np.array([code for c in _CITIES for code in c[1]], dtype=object)
    postal = all_codes[code_offsets[city] + (rng.random(n) * code_counts[city]).astype(int)]
    language = np.empty(n, dtype=np.int64)
    language_profile = np.array([c[7] for c in _CITIES])[city]
    for profile, probabilities in _LANGUAGE_PROFILES.items():
        rows = np.flatnonzero(language_profile == profile)
        language[rows] = _choice(rng, probabilities, len(rows))
    return {"city": city, "postal": postal, "language": language,
            "country": np.array([0 if c[4] == "FR" else 1 for c in _CITIES])[city],
            "region": np.array([c[3] for c in _CITIES], dtype=object)[city],
            "device_profile": np.array([c[6] for c in _CITIES])[city]}


def _signup_and_consent(rng: np.random.Generator, persona: np.ndarray, horizon: int):
    """Signup day, signup source, consent status and consent day (days from origin)."""
    n = len(persona)
    # The base grows, so recent signups are more frequent; lapsed buyers are old ones.
    tau = 900.0
    min_age = np.where(persona == _LAPSED, 500, 1)
    span = SIGNUP_DAYS - min_age
    days_ago = min_age + np.floor(
        -tau * np.log1p(-rng.random(n) * (1 - np.exp(-span / tau)))).astype(int)
    signup = horizon - days_ago  # may be < 0: signed up before the event history
    source = np.empty(n, dtype=np.int64)
    consent = np.empty(n, dtype=np.int64)
    for k, p in enumerate(_PERSONAS):
        rows = np.flatnonzero(persona == k)
        source[rows] = _choice(rng, p.sources, len(rows))
        consent[rows] = _choice(rng, p.consent, len(rows))
    # Given: at signup or after a double opt-in; withdrawn: strictly after signup.
    confirm_delay = np.where(rng.random(n) < 0.7, 0, rng.integers(1, 4, n))
    given_day = np.minimum(signup + confirm_delay, np.maximum(signup, horizon - 1))
    withdrawn_day = signup + 1 + np.floor(rng.random(n) * (horizon - signup - 1)).astype(int)
    consent_day = np.select([consent == 0, consent == 1], [given_day, signup], withdrawn_day)
    return signup, source, consent, consent_day


def _preferences(rng: np.random.Generator, gender: np.ndarray):
    """Preferred brand (beauty brands lean female), then a category of that brand."""
    brand_weights = np.array([_BRANDS[b][0] for b in BRANDS])
    beauty = np.array(["beauty" in _BRANDS[b][1] for b in BRANDS])
    brand = np.empty(len(gender), dtype=np.int64)
    for g, beauty_factor in enumerate((2.2, 0.25, 1.0)):
        rows = np.flatnonzero(gender == g)
        weights = brand_weights * np.where(beauty, beauty_factor, 1.0)
        brand[rows] = _choice(rng, weights, len(rows))
    brand_category = np.array([[_BRANDS[b][1].get(c, 0.0) for c in CATEGORIES] for b in BRANDS])
    return brand, _choice_per_row(rng, brand_category[brand])


def _latent(rng, persona, brand, category, signup, consent, consent_day, horizon) -> _Latent:
    """Activity windows (days from origin) and heavy-tailed activity multipliers."""
    n = len(persona)
    start = np.maximum(signup, 0)
    # Emails start once consent is given, stop at withdrawal; pending contacts get none.
    email_start = np.maximum(start, np.where(consent == 0, consent_day, start))
    email_end = np.select([consent == 0, consent == 1], [horizon, start], consent_day)
    email_end = np.clip(email_end, email_start, horizon)
    # Lapsed buyers stop shopping more than 400 days before as_of.
    lapse_day = start + 60 + np.floor(rng.random(n) * (horizon - 460 - start)).astype(int)
    shop_end = np.where(persona == _LAPSED, np.clip(lapse_day, start, horizon - 400), horizon)
    # Correlated heavy tails: engaged readers tend to be engaged shoppers.
    sigma = 1.1
    z_email = rng.standard_normal(n)
    z_shop = 0.6 * z_email + 0.8 * rng.standard_normal(n)
    return _Latent(
        persona=persona, brand=brand, category=category,
        email_start=email_start, email_end=email_end, shop_start=start,
        shop_end=np.maximum(shop_end, start),
        email_activity=np.exp(sigma * z_email - sigma**2 / 2),
        shop_activity=np.exp(sigma * z_shop - sigma**2 / 2),
        buy_prob=np.clip(_P["buy_prob"][persona] * rng.lognormal(0, 0.3, n), 0, 0.95),
    )


def _make_contacts(rng: np.random.Generator, n: int, as_of: np.datetime64,
                   origin: np.datetime64) -> tuple[pd.DataFrame, _Latent]:
    """The contacts table (loyalty tier still empty) and the hidden parameters."""
    persona = _choice(rng, _P["share"], n)
    geo = _geography(rng, n)
    gender = _choice(rng, [0.53, 0.455, 0.015], n)  # F, M, X
    age_years = np.clip(rng.normal(41.0, 13.0, n) - 3.0 * (gender == 2), 18, 85)
    birth = as_of - (age_years * 365.25).astype("timedelta64[D]")
    birth_year = birth.astype("datetime64[Y]").astype(int) + 1970
    # Device: regional profile; older contacts read on a desktop more often.
    device_p = np.array([_DEVICE_PROFILES[p] for p in geo["device_profile"]])
    device_p[:, 2] *= np.where(age_years > 60, 2.5, 1.0)
    device = _choice_per_row(rng, device_p)
    first_vocab, first, last_vocab, last = _names(rng, n, geo["language"], gender, geo["region"])
    email = _emails(rng, first_vocab, first, last_vocab, last, birth_year, geo["country"])
    horizon = int((as_of - origin).astype(int))
    signup, source, consent, consent_day = _signup_and_consent(rng, persona, horizon)
    brand, category = _preferences(rng, gender)
    latent = _latent(rng, persona, brand, category, signup, consent, consent_day, horizon)

    def day_to_date(day_index: np.ndarray) -> np.ndarray:
        return (origin + day_index.astype("timedelta64[D]")).astype("datetime64[us]")

    birth_dates = birth.astype("datetime64[us]")
    birth_dates[rng.random(n) < 0.1] = np.datetime64("NaT")  # optional form field
    departments = sorted({c[2] for c in _CITIES})
    region_names = sorted({c[3] for c in _CITIES})
    city = geo["city"]
    contacts = pd.DataFrame({
        col.CONTACT_ID: np.arange(1, n + 1, dtype=np.int64),
        col.EMAIL: email,
        "first_name": _as_str(np.array(first_vocab, dtype=object)[first]),
        "last_name": _as_str(np.array(last_vocab, dtype=object)[last]),
        "gender": _categorical(gender, ("F", "M", "X")),
        "birth_date": birth_dates,
        "postal_code": _as_str(geo["postal"]),
        "city": _categorical(city, [c[0] for c in _CITIES]),
        "department": _categorical(
            np.array([departments.index(c[2]) for c in _CITIES])[city], departments),
        "region": _categorical(
            np.array([region_names.index(c[3]) for c in _CITIES])[city], region_names),
        "country": _categorical(geo["country"], ("FR", "BE")),
        "language": _categorical(geo["language"], LANGUAGES),
        "device": _categorical(device, DEVICES),
        "signup_date": day_to_date(signup),
        "signup_source": _categorical(source, SIGNUP_SOURCES),
        col.CONSENT: _categorical(consent, col.CONSENT_VALUES),
        col.CONSENT_DATE: day_to_date(consent_day),
        col.INTERESTS: _interests(rng, n, category),
        "loyalty_tier": _categorical(np.full(n, -1), LOYALTY_TIERS),  # set from orders later
    })
    return contacts, latent


# ---------------------------------------------------------------------------------
# Events and orders
# ---------------------------------------------------------------------------------
def _brand_category_pairs():
    """Flat (brand, category) pairs whose edges ``b + cumulative share`` allow one
    searchsorted to draw a category conditional on each row's brand."""
    pair_category, edges = [], []
    for b, name in enumerate(BRANDS):
        shares = _BRANDS[name][1]
        total = sum(shares.values())
        running = 0.0
        for category, share in shares.items():
            running += share / total
            pair_category.append(CATEGORIES.index(category))
            edges.append(b + running)
        edges[-1] = b + 1.0  # exact, so rounding never leaks into the next brand
    return np.array(pair_category), np.array(edges)


def _products(rng, contact, latent, n_rows):
    """Brand and category of ``n_rows`` product events of the given contacts."""
    persona = latent.persona[contact]
    popularity = [_BRANDS[b][0] for b in BRANDS]
    preferred = rng.random(n_rows) < _P["affinity"][persona]
    brand = np.where(preferred, latent.brand[contact], _choice(rng, popularity, n_rows))
    pair_category, edges = _brand_category_pairs()
    pair = np.searchsorted(edges, brand + rng.random(n_rows), side="right")
    category = pair_category[np.minimum(pair, len(edges) - 1)]
    # On the favourite brand, the favourite category dominates too.
    favourite = preferred & (rng.random(n_rows) < 0.6)
    category = np.where(favourite, latent.category[contact], category)
    return brand, category


def _calibrate(latent, campaign_cum, campaign_send, intensity_cum, target_events):
    """Global rate multiplier so the expected number of events is ``target_events``."""
    p = latent.persona
    e_lo = np.searchsorted(campaign_send, latent.email_start * _DAY)
    e_hi = np.searchsorted(campaign_send, latent.email_end * _DAY)
    s_lo = np.searchsorted(campaign_send, np.maximum(latent.email_start, latent.shop_start) * _DAY)
    s_hi = np.searchsorted(campaign_send, np.minimum(latent.email_end, latent.shop_end) * _DAY)
    email_weight = campaign_cum[e_hi] - campaign_cum[e_lo]
    shop_email_weight = np.where(
        s_hi > s_lo, campaign_cum[s_hi] - campaign_cum[np.minimum(s_lo, s_hi)], 0.0)
    opens = _P["open_rate"][p] * latent.email_activity
    clicks = opens * _P["click_prob"][p]
    journeys = (clicks * _P["click_journey_prob"][p] * shop_email_weight
                + _ORGANIC_SCALE * _P["organic_rate"][p] * latent.shop_activity
                * (intensity_cum[latent.shop_end] - intensity_cum[latent.shop_start]))
    last = _JOURNEY_P  # share of sessions that end a journey
    carts = _P["cart_prob"][p] * (1.5 * last + 0.5 * (1 - last))
    buys = _P["cart_prob"][p] * latent.buy_prob * (1.5 * last + 0.5 * 0.35 * (1 - last))
    per_journey = (1 + _P["depth"][p] + carts + buys) / _JOURNEY_P
    expected = (opens + clicks) * email_weight + journeys * per_journey
    total = expected.sum()
    return target_events / total if total > 0 else 0.0


def _simulate_events(rng, latent, horizon, campaign_send, campaign_weight, intensity,
                     target_events):
    """Simulate opens, clicks and shopping journeys; return unsorted per-event arrays.

    ``contact`` (0-based index), ``second`` (from the history origin) and ``type`` cover
    every row, in blocks: opens, clicks, visits, carts, purchases. ``campaign`` covers the
    email rows, ``brand`` / ``category`` the product rows, ``amount`` / ``items`` the
    purchases. Rows at or after ``end_second`` (as_of) must still be dropped.
    """
    p = latent.persona
    campaign_cum = np.concatenate([[0.0], np.cumsum(campaign_weight)])
    intensity_cum = np.concatenate([[0.0], np.cumsum(intensity)])
    k = _calibrate(latent, campaign_cum, campaign_send, intensity_cum, target_events)
    end_second = horizon * _DAY

    # Opens: Poisson per contact over the campaigns received, then a reading delay.
    lo = np.searchsorted(campaign_send, latent.email_start * _DAY)
    hi = np.searchsorted(campaign_send, latent.email_end * _DAY)
    n_opens = rng.poisson(k * _P["open_rate"][p] * latent.email_activity
                          * (campaign_cum[hi] - campaign_cum[lo]))
    open_contact = np.repeat(np.arange(len(p), dtype=np.int32), n_opens)
    campaign = _draw_in_windows(rng, campaign_cum, lo[open_contact], hi[open_contact])
    delay = np.minimum(rng.lognormal(np.log(9000), 1.3, len(campaign)), 7 * _DAY)
    open_t = campaign_send[campaign] + delay.astype(np.int64)
    email_end = latent.email_end[open_contact] * _DAY
    keep = open_t < email_end
    open_contact, campaign, open_t, email_end = (
        a[keep] for a in (open_contact, campaign, open_t, email_end))

    # Clicks follow some opens within a minute or two.
    clicked = rng.random(len(open_t)) < _P["click_prob"][p[open_contact]]
    click_contact, click_campaign = open_contact[clicked], campaign[clicked]
    click_t = open_t[clicked] + 5 + rng.lognormal(np.log(40), 0.8, clicked.sum()).astype(np.int64)
    keep = click_t < email_end[clicked]
    click_contact, click_campaign, click_t = (
        a[keep] for a in (click_contact, click_campaign, click_t))

    # Shopping journeys: started by a click (inside the shop window) or organically.
    starts_journey = ((rng.random(len(click_t)) < _P["click_journey_prob"][p[click_contact]])
                      & (click_t >= latent.shop_start[click_contact] * _DAY)
                      & (click_t < latent.shop_end[click_contact] * _DAY))
    n_organic = rng.poisson(k * _ORGANIC_SCALE * _P["organic_rate"][p] * latent.shop_activity
                            * (intensity_cum[latent.shop_end] - intensity_cum[latent.shop_start]))
    organic_contact = np.repeat(np.arange(len(p), dtype=np.int32), n_organic)
    day = _draw_in_windows(rng, intensity_cum, latent.shop_start[organic_contact],
                           latent.shop_end[organic_contact])
    hour = _choice(rng, _HOUR_WEIGHTS, len(day))
    organic_t = day * _DAY + hour * 3600 + rng.integers(0, 3600, len(day))
    journey_contact = np.concatenate([click_contact[starts_journey], organic_contact])
    journey_t = np.concatenate([click_t[starts_journey] + 20, organic_t])

    # Sessions of a journey are a day or two apart; the last one is where people decide.
    n_sessions = rng.geometric(_JOURNEY_P, len(journey_t))
    gaps = 3600 + rng.exponential(1.5 * _DAY, int(n_sessions.sum())).astype(np.int64)
    position = _group_position(n_sessions)
    gaps[position == 0] = 0
    session_contact = np.repeat(journey_contact, n_sessions)
    session_t = np.repeat(journey_t, n_sessions) + _within_group_cumsum(gaps, n_sessions)
    session_last = position == np.repeat(n_sessions - 1, n_sessions)
    keep = session_t < latent.shop_end[session_contact] * _DAY
    session_contact, session_t, session_last = (
        a[keep] for a in (session_contact, session_t, session_last))

    # Page visits inside each session, about a minute apart.
    n_visits = 1 + rng.poisson(_P["depth"][p[session_contact]])
    visit_contact = np.repeat(session_contact, n_visits)
    steps = 20 + rng.exponential(75, len(visit_contact)).astype(np.int64)
    steps[_group_position(n_visits) == 0] = 0
    visit_t = np.repeat(session_t, n_visits) + _within_group_cumsum(steps, n_visits)
    visit_brand, visit_category = _products(rng, visit_contact, latent, len(visit_contact))

    # Add to cart the last product seen; buy it minutes later (or abandon the cart).
    last_visit = np.cumsum(n_visits) - 1
    cart_p = _P["cart_prob"][p[session_contact]] * np.where(session_last, 1.5, 0.5)
    carted = rng.random(len(session_t)) < np.minimum(cart_p, 0.95)
    cart_visit = last_visit[carted]
    cart_contact = visit_contact[cart_visit]
    cart_t = visit_t[cart_visit] + 15 + rng.exponential(60, len(cart_visit)).astype(np.int64)
    buy_p = latent.buy_prob[cart_contact] * np.where(session_last[carted], 1.0, 0.35)
    bought = rng.random(len(cart_t)) < buy_p
    buy_contact, buy_visit = cart_contact[bought], cart_visit[bought]
    buy_t = cart_t[bought] + 60 + rng.exponential(300, bought.sum()).astype(np.int64)
    buy_category = visit_category[buy_visit]
    small_items = np.isin(buy_category, [CATEGORIES.index("beauty"), CATEGORIES.index("kids")])
    items = 1 + rng.poisson(np.where(small_items, 0.9, 0.4))
    price = np.array([_CATEGORY_PRICE[c] for c in CATEGORIES])[buy_category]
    amount = np.round(rng.lognormal(np.log(price), 0.5) * items**0.85, 2)

    # Rows are stored block by block (opens, clicks, visits, carts, purchases); the
    # attributes only some blocks have are kept once, for those blocks only.
    return {
        "contact": np.concatenate(
            [open_contact, click_contact, visit_contact, cart_contact, buy_contact]),
        "second": np.concatenate([open_t, click_t, visit_t, cart_t, buy_t]),
        "type": np.repeat(np.arange(5, dtype=np.int8),
                          [len(open_t), len(click_t), len(visit_t), len(cart_t), len(buy_t)]),
        "campaign": np.concatenate([campaign, click_campaign]).astype(np.int16),
        "brand": np.concatenate([visit_brand, visit_brand[cart_visit],
                                 visit_brand[buy_visit]]).astype(np.int16),
        "category": np.concatenate([visit_category, visit_category[cart_visit],
                                    buy_category]).astype(np.int16),
        "amount": amount,
        "items": items.astype(np.int64),
        "end_second": end_second,
    }


def _time_order(second: np.ndarray, end: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows with ``second < end`` sorted by (second, row): their indices and seconds."""
    kept = np.flatnonzero(second < end)
    row_bits = max(len(second).bit_length(), 1)
    if int(end).bit_length() + row_bits <= 62:
        # Sorting packed (second, row) keys is ~10x faster than a stable argsort, and as
        # the keys are unique the order does not depend on the sort algorithm.
        key = (second[kept] << row_bits) | kept
        key.sort()
        return key & ((1 << row_bits) - 1), key >> row_bits
    order = kept[np.argsort(second[kept], kind="stable")]
    return order, second[order]


def _spread(order: np.ndarray, start: int, values: np.ndarray, fill) -> np.ndarray:
    """Column over sorted rows from ``values`` of raw rows ``start..``; ``fill`` elsewhere."""
    out = np.full(len(order), fill, dtype=values.dtype)
    inside = (order >= start) & (order < start + len(values))
    out[inside] = values[order[inside] - start]
    return out


def _loyalty_tiers(rng, latent, orders_contact, orders_amount):
    """Members get a tier from their spend (non-buyers stay bronze); others none (-1)."""
    n = len(latent.persona)
    member = rng.random(n) < _P["member_prob"][latent.persona]
    spend = np.bincount(orders_contact, weights=orders_amount, minlength=n)
    spenders = np.flatnonzero(member & (spend > 0))
    rank = np.zeros(n)
    rank[spenders[np.argsort(spend[spenders], kind="stable")]] = (
        np.arange(len(spenders)) / max(len(spenders), 1))
    tier = np.select([rank >= 0.7, rank >= 0.3], [2, 1], 0)
    return np.where(member, tier, -1)


def generate_base(n_contacts: int = 20_000, *, seed: int = 0, as_of="2026-10-31",
                  events_per_contact: float = 20.0) -> dict[str, pd.DataFrame]:
    """Generate a realistic, seeded French/Belgian contact base.

    Parameters
    ----------
    n_contacts : int
        Number of contacts (ids ``1..n_contacts``).
    seed : int
        Seed of the random generator: the same seed gives identical frames.
    as_of : str, date or Timestamp
        End of the observation window (midnight of that day): every event, order and
        date is before it. Events cover the three years before ``as_of``.
    events_per_contact : float
        Target mean number of events per contact (the actual mean is within a few %).

    Returns
    -------
    dict of str to DataFrame
        ``"contacts"``, ``"events"`` and ``"orders"`` with the canonical columns of
        :mod:`segexplore.model.columns`. Events and orders are sorted by timestamp;
        purchase events mirror the orders row for row.

    Examples
    --------
    >>> tables = generate_base(500, seed=1)
    >>> sorted(tables)
    ['contacts', 'events', 'orders']
    >>> tables["contacts"]["contact_id"].is_unique
    True
    >>> bool((tables["events"]["timestamp"] < pd.Timestamp("2026-10-31")).all())
    True
    """
    if int(n_contacts) != n_contacts or n_contacts < 1:
        raise ValueError(f"n_contacts must be a positive integer, got {n_contacts!r}")
    if not events_per_contact >= 0:
        raise ValueError(f"events_per_contact must be >= 0, got {events_per_contact!r}")
    n = int(n_contacts)
    rng = np.random.default_rng(seed)
    as_of_day = pd.Timestamp(as_of).to_datetime64().astype("datetime64[D]")
    origin = as_of_day - HISTORY_DAYS
    contacts, latent = _make_contacts(rng, n, as_of_day, origin)
    campaign_send, campaign_weight, campaign_ids = _campaign_plan(rng, origin, HISTORY_DAYS)
    intensity = _daily_intensity(origin + np.arange(HISTORY_DAYS))
    raw = _simulate_events(rng, latent, HISTORY_DAYS, campaign_send, campaign_weight,
                           intensity, events_per_contact * n)

    # Sessions started just before as_of may spill over it: cut, then sort by time.
    order, second = _time_order(raw["second"], raw["end_second"])
    n_email, n_purchase = len(raw["campaign"]), len(raw["amount"])
    first_purchase = len(raw["second"]) - n_purchase
    origin_second = int(origin.astype("datetime64[s]").astype(np.int64))
    timestamp = ((second + origin_second) * 1_000_000).view("datetime64[us]")
    contact = raw["contact"][order]
    event_type = raw["type"][order]
    amount = _spread(order, first_purchase, raw["amount"], np.nan)
    items = _spread(order, first_purchase, raw["items"], 0)
    brand = _spread(order, n_email, raw["brand"], -1)
    category = _spread(order, n_email, raw["category"], -1)
    events = pd.DataFrame({
        col.CONTACT_ID: np.add(contact, 1, dtype=np.int64),
        col.TIMESTAMP: timestamp,
        col.EVENT_TYPE: _categorical(event_type, col.EVENT_TYPES),
        "campaign_id": _categorical(_spread(order, 0, raw["campaign"], -1), campaign_ids),
        "brand": _categorical(brand, BRANDS),
        "category": _categorical(category, CATEGORIES),
        col.AMOUNT: amount,
        col.ITEMS: pd.arrays.IntegerArray(items, event_type != 4),
    }, copy=False)
    purchase = np.flatnonzero(event_type == 4)
    orders = pd.DataFrame({
        col.ORDER_ID: np.arange(1, len(purchase) + 1, dtype=np.int64),
        col.CONTACT_ID: np.add(contact[purchase], 1, dtype=np.int64),
        col.TIMESTAMP: timestamp[purchase],
        col.AMOUNT: amount[purchase],
        col.ITEMS: items[purchase],
        "brand": _categorical(brand[purchase], BRANDS),
        "category": _categorical(category[purchase], CATEGORIES),
    }, copy=False)
    tier = _loyalty_tiers(rng, latent, contact[purchase], orders[col.AMOUNT].to_numpy())
    contacts["loyalty_tier"] = _categorical(tier, LOYALTY_TIERS)
    return {"contacts": contacts, "events": events, "orders": orders}


# ---------------------------------------------------------------------------------
# Messy exports
# ---------------------------------------------------------------------------------
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


# ---------------------------------------------------------------------------------
# Bundled sample
# ---------------------------------------------------------------------------------
def write_sample(directory, n_contacts: int = 20_000, seed: int = 0, *, as_of="2026-10-31",
                 events_per_contact: float = 20.0, file_format: str = "parquet",
                 raw_directory=None, raw_contacts: int = 5_000,
                 raw_events_per_contact: float = 12.0) -> dict[str, Path]:
    """Generate a base and write ``contacts``, ``events`` and ``orders`` files.

    Parameters
    ----------
    directory : path
        Where to write ``contacts.parquet``, ``events.parquet``, ``orders.parquet``
        (zstd) or, with ``file_format="csv"``, the same names in ``.csv`` (UTF-8, ISO dates).
    n_contacts, seed, as_of, events_per_contact
        Passed to :func:`generate_base`.
    file_format : {"parquet", "csv"}
    raw_directory : path, optional
        Also write messy exports (:func:`make_raw`, :func:`write_raw`) of a separate,
        smaller base of ``raw_contacts`` contacts there (the files stay commit-sized).

    Returns
    -------
    dict of str to Path
        Every file written, keyed ``"contacts"``, ``"events"``, ``"orders"`` and, with
        ``raw_directory``, ``"contacts_raw"``, ``"events_raw"``, ``"orders_raw"``.

    Examples
    --------
    >>> import tempfile
    >>> paths = write_sample(tempfile.mkdtemp(), n_contacts=200)
    >>> pd.read_parquet(paths["contacts"]).shape[0]
    200
    """
    if file_format not in ("parquet", "csv"):
        raise ValueError(f"file_format must be 'parquet' or 'csv', got {file_format!r}")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tables = generate_base(n_contacts, seed=seed, as_of=as_of,
                           events_per_contact=events_per_contact)
    paths: dict[str, Path] = {}
    for name, frame in tables.items():
        path = directory / f"{name}.{file_format}"
        if file_format == "parquet":
            frame.to_parquet(path, compression="zstd", index=False)
        else:
            frame.to_csv(path, index=False, encoding="utf-8")
        paths[name] = path
    if raw_directory is not None:
        raw_base = generate_base(raw_contacts, seed=seed, as_of=as_of,
                                 events_per_contact=raw_events_per_contact)
        raw_paths = write_raw(make_raw(raw_base, seed=seed), raw_directory)
        paths.update({f"{name}_raw": path for name, path in raw_paths.items()})
    return paths


def sample_path() -> Path:
    """Directory of the bundled sample (``contacts.parquet``, ``events.parquet``,
    ``orders.parquet``), found with :mod:`importlib.resources` so it works installed.

    Examples
    --------
    >>> (sample_path() / "contacts.parquet").name
    'contacts.parquet'
    """
    folder = importlib.resources.files("segexplore").joinpath("data")
    try:
        return Path(folder)  # a real directory for regular and editable installs
    except TypeError:  # e.g. a namespace package: fall back to this file's location
        return Path(__file__).resolve().parent.parent / "data"
