"""Customer personas: the known segment structure the generated behaviour comes from.

Each persona is a bundle of behavioural rates. They are deliberately far apart in several
independent directions (categories, brand tier, device, time of day, frequency, conversion)
so clustering on behavioural features can recover them (issue 4 asks ARI >= 0.8).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from segrec.generate.reference import BRAND_TIERS, CHANNELS, COUNTRY_CODES, DEVICE_TYPES, TOP_CATEGORIES

DAYPARTS: tuple[str, ...] = ("morning", "afternoon", "evening", "night")
# Local-time hour where each daypart starts; a daypart lasts six hours.
DAYPART_START_HOUR: tuple[int, ...] = (6, 12, 18, 0)


@dataclass(frozen=True)
class Persona:
    """Behavioural parameters of one persona (rates are per customer unless stated)."""

    persona: str
    share: float
    visits_per_day: float
    visit_pattern: str  # "uniform", "recent" (intensity grows towards the end) or "gift" (two dates)
    weekend_weight: float  # relative weight of a weekend day against a weekday
    daypart: tuple[float, ...]  # probabilities over DAYPARTS (local time)
    device: tuple[float, ...]  # probabilities over reference.DEVICE_TYPES
    countries: tuple[float, ...]  # weights over reference.COUNTRY_CODES
    big_city_only: bool
    categories: tuple[float, ...]  # weights over reference.TOP_CATEGORIES
    tiers: tuple[float, ...]  # weights over reference.BRAND_TIERS
    new_arrival_weight: float  # multiplier on products launched in the last 30 days
    staple_share: float  # share of product views from the customer's own few staples
    channels: tuple[float, ...]  # probabilities over reference.CHANNELS
    extra_pages: float  # mean page views per visit beyond the landing page
    searches: float  # mean searches per visit
    product_views: float  # mean product views per visit
    conversion: float  # probability that a visit ends in a purchase
    cart_abandon: float  # probability that a non-buying visit adds to cart
    basket_lines: float  # mean order lines per order (capped at MAX_ORDER_LINES)
    extra_quantity: float  # mean units per line beyond the first
    email_open: float
    email_click: float  # probability of a click given an open
    promo_redeem: float
    age_mean: float
    age_sd: float


def _normalized(weights: tuple[float, ...]) -> np.ndarray:
    array = np.asarray(weights, dtype=float)
    return array / array.sum()


PERSONAS: tuple[Persona, ...] = (
    Persona(
        "luxury_seeker", share=0.12, visits_per_day=0.026, visit_pattern="uniform", weekend_weight=1.4,
        daypart=(0.35, 0.45, 0.18, 0.02), device=(0.10, 0.60, 0.30),
        countries=(3, 3, 1, 3, 0.5, 3, 0.5, 0.5, 0.3, 1, 0.5, 3), big_city_only=False,
        categories=(4, 3, 1, 0.5, 0.05, 0.5, 0.5, 0.1), tiers=(10, 1, 0.02), new_arrival_weight=1.5,
        staple_share=0.0, channels=(0.30, 0.10, 0.10, 0.05, 0.40, 0.05),
        extra_pages=2.0, searches=0.5, product_views=5.0, conversion=0.22, cart_abandon=0.25,
        basket_lines=1.5, extra_quantity=0.05, email_open=0.35, email_click=0.15, promo_redeem=0.03,
        age_mean=48, age_sd=10,
    ),
    Persona(
        "bargain_hunter", share=0.22, visits_per_day=0.035, visit_pattern="uniform", weekend_weight=1.2,
        daypart=(0.20, 0.35, 0.35, 0.10), device=(0.50, 0.42, 0.08),
        countries=(3, 2, 2, 1, 3, 2, 1, 0.5, 4, 1, 1, 0.5), big_city_only=False,
        categories=(1, 1, 1, 3, 1, 1, 0.3, 3), tiers=(0.02, 1, 8), new_arrival_weight=0.5,
        staple_share=0.0, channels=(0.15, 0.25, 0.35, 0.15, 0.05, 0.05),
        extra_pages=2.0, searches=2.0, product_views=4.0, conversion=0.20, cart_abandon=0.40,
        basket_lines=3.0, extra_quantity=0.4, email_open=0.55, email_click=0.40, promo_redeem=0.65,
        age_mean=38, age_sd=12,
    ),
    Persona(
        "trend_browser", share=0.18, visits_per_day=0.044, visit_pattern="uniform", weekend_weight=1.0,
        daypart=(0.05, 0.15, 0.35, 0.45), device=(0.85, 0.05, 0.10),
        countries=(3, 2, 1, 1, 1, 1, 1, 2, 2, 1, 2, 1), big_city_only=False,
        categories=(5, 3, 1.5, 0.5, 0.05, 1, 0.2, 0.1), tiers=(0.5, 3, 1.5), new_arrival_weight=10.0,
        staple_share=0.0, channels=(0.15, 0.05, 0.05, 0.60, 0.10, 0.05),
        extra_pages=2.0, searches=0.8, product_views=7.0, conversion=0.025, cart_abandon=0.30,
        basket_lines=1.2, extra_quantity=0.05, email_open=0.30, email_click=0.20, promo_redeem=0.12,
        age_mean=24, age_sd=5,
    ),
    Persona(
        "frequent_replenisher", share=0.20, visits_per_day=0.048, visit_pattern="uniform",
        weekend_weight=0.5, daypart=(0.65, 0.22, 0.11, 0.02), device=(0.45, 0.45, 0.10),
        countries=(3, 2, 3, 2, 1, 1, 2, 2, 0.5, 2, 1, 1), big_city_only=False,
        categories=(0.1, 0.1, 2, 1.5, 6, 0.05, 0.05, 0.3), tiers=(0.2, 2, 2), new_arrival_weight=0.5,
        staple_share=0.85, channels=(0.10, 0.05, 0.25, 0.02, 0.55, 0.03),
        extra_pages=0.5, searches=1.0, product_views=2.0, conversion=0.55, cart_abandon=0.20,
        basket_lines=1.6, extra_quantity=0.8, email_open=0.45, email_click=0.25, promo_redeem=0.30,
        age_mean=42, age_sd=10,
    ),
    Persona(
        "urban_mobile_high_value", share=0.14, visits_per_day=0.04, visit_pattern="recent",
        weekend_weight=1.3, daypart=(0.03, 0.07, 0.85, 0.05), device=(0.95, 0.03, 0.02),
        countries=(4, 3, 2, 2, 1, 1, 1, 1, 2, 1, 1, 2), big_city_only=True,
        categories=(1.5, 2.5, 0.5, 0.5, 0.2, 5, 0.3, 0.1), tiers=(0.7, 3, 0.5), new_arrival_weight=2.0,
        staple_share=0.0, channels=(0.20, 0.15, 0.10, 0.30, 0.20, 0.05),
        extra_pages=1.0, searches=0.7, product_views=3.0, conversion=0.35, cart_abandon=0.25,
        basket_lines=1.8, extra_quantity=0.1, email_open=0.25, email_click=0.20, promo_redeem=0.15,
        age_mean=31, age_sd=6,
    ),
    Persona(
        "occasional_gifter", share=0.14, visits_per_day=0.013, visit_pattern="gift", weekend_weight=1.6,
        daypart=(0.25, 0.50, 0.23, 0.02), device=(0.35, 0.50, 0.15),
        countries=(3, 3, 2, 1, 1, 1, 1, 1, 1, 2, 2, 1), big_city_only=False,
        categories=(0.5, 0.5, 1, 0.5, 0.3, 0.5, 8, 1.5), tiers=(1, 3, 1), new_arrival_weight=1.0,
        staple_share=0.0, channels=(0.35, 0.30, 0.10, 0.10, 0.05, 0.10),
        extra_pages=1.5, searches=1.5, product_views=4.0, conversion=0.45, cart_abandon=0.20,
        basket_lines=2.0, extra_quantity=0.3, email_open=0.15, email_click=0.10, promo_redeem=0.25,
        age_mean=45, age_sd=14,
    ),
)
PERSONA_IDS: tuple[str, ...] = tuple(p.persona for p in PERSONAS)
MAX_ORDER_LINES = 5


def check_personas(personas: tuple[Persona, ...]) -> None:
    """Raise ValueError if a persona table is inconsistent (shares, vector lengths)."""
    shares = np.array([p.share for p in personas])
    if abs(shares.sum() - 1.0) > 1e-9 or shares.min() < 0.08:
        raise ValueError("persona shares must sum to 1 and each be at least 0.08")
    lengths = {"daypart": len(DAYPARTS), "device": len(DEVICE_TYPES), "countries": len(COUNTRY_CODES),
               "categories": len(TOP_CATEGORIES), "tiers": len(BRAND_TIERS), "channels": len(CHANNELS)}
    for p in personas:
        for field, expected in lengths.items():
            if len(getattr(p, field)) != expected:
                raise ValueError(f"persona {p.persona}: {field} needs {expected} values")


check_personas(PERSONAS)


def persona_names(index: np.ndarray) -> np.ndarray:
    """Persona ids for persona indexes."""
    return np.array(PERSONA_IDS, dtype=object)[index]


def persona_matrix(field: str) -> np.ndarray:
    """One persona field for all personas: shape (n_personas,) or (n_personas, k), normalized
    to probabilities when the field is a tuple of weights."""
    values = [getattr(p, field) for p in PERSONAS]
    if isinstance(values[0], tuple):
        return np.vstack([_normalized(v) for v in values])
    return np.asarray(values, dtype=float)


def assign_personas(n_customers: int, rng: np.random.Generator) -> np.ndarray:
    """Persona index per customer with exact shares (largest-remainder rounding), shuffled."""
    shares = persona_matrix("share")
    exact = shares * n_customers
    counts = np.floor(exact).astype(np.int64)
    remainder = n_customers - counts.sum()
    # Stable ordering of remainders keeps the rounding deterministic on ties.
    counts[np.argsort(-(exact - counts), kind="stable")[:remainder]] += 1
    return rng.permutation(np.repeat(np.arange(len(PERSONAS)), counts))
