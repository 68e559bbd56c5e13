"""Who the generated contacts are: personas, names and emails, geography, signup and consent,
interests and the latent traits (brand and category affinity) their activity follows."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from segexplore.datasets.tables import (
    _BE_DOMAINS,
    _BRANDS,
    _CATEGORY_TAGS,
    _CITIES,
    _DEVICE_PROFILES,
    _FLA,
    _FR_DOMAINS,
    _FR_FEMALE,
    _FR_LAST,
    _FR_MALE,
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

#: Oldest signup, in days before ``as_of``.
SIGNUP_DAYS = 6 * 365


def _choice_per_row(rng: np.random.Generator, probabilities: np.ndarray) -> np.ndarray:
    """Draw one index per row of a (rows, k) probability matrix (rows need not sum to 1)."""
    cum = np.cumsum(probabilities, axis=1)
    u = rng.random(len(cum)) * cum[:, -1]
    return (u[:, None] >= cum).sum(axis=1).clip(0, probabilities.shape[1] - 1)


def _zipf_weights(n: int) -> np.ndarray:
    # Common first and last names dominate, as in real registries.
    return 1.0 / (np.arange(n) + 4.0)


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
