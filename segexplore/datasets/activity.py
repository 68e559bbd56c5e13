"""What the generated contacts do: the campaign calendar and seasonality (Black Friday,
Christmas, January sales, summer dip), and the simulated journeys of opens, clicks, visits,
add-to-carts and purchases that follow the contacts' latent traits."""

from __future__ import annotations

import numpy as np

from segexplore.datasets.tables import (
    _BRANDS,
    _CATEGORY_PRICE,
    _DAY,
    _HOUR_WEIGHTS,
    _P,
    BRANDS,
    CATEGORIES,
    _choice,
)

#: Organic journeys per intensity-day relative to opens per campaign weight; tuned so
#: opens are ~40 % of events and page visits ~45 %, as in ESP + web analytics exports.
_ORGANIC_SCALE = 0.032


#: A journey holds 1 + Geometric sessions (mean 1 / _JOURNEY_P); the purchase decision is
#: mostly taken in its last session, so recent visits predict a purchase soon after.
_JOURNEY_P = 0.55


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
