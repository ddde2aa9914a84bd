"""The product catalog and how personas pick products from it."""

from __future__ import annotations

import numpy as np
import pandas as pd

from segrec.generate.common import DAY, Window
from segrec.generate.personas import PERSONAS, persona_matrix
from segrec.generate.reference import (
    BRAND_TIERS,
    BRANDS,
    CATEGORY_BASE_PRICE,
    COLORLESS_CATEGORIES,
    COLORS,
    CONSUMABLE_SUBCATEGORIES,
    MODEL_WORDS,
    TAXONOMY,
    TIER_PRICE_FACTOR,
    TOP_CATEGORIES,
)

NEW_ARRIVAL_DAYS = 30
NEW_ARRIVAL_SHARE = 0.08
INACTIVE_SHARE = 0.05
MAX_PRODUCTS = 20_000
MIN_PRODUCTS = 300
# Catalog tier mix per top category (luxury, mid, budget): groceries are rarely luxury.
_TIER_MIX: dict[str, tuple[float, float, float]] = {
    "Grocery": (0.1, 0.5, 0.4), "Kids": (0.1, 0.5, 0.4), "Home": (0.2, 0.45, 0.35),
}
_DEFAULT_TIER_MIX = (0.3, 0.4, 0.3)


def catalog_size(n_customers: int) -> int:
    """About one product per ten customers, within [MIN_PRODUCTS, MAX_PRODUCTS]."""
    return int(min(MAX_PRODUCTS, max(MIN_PRODUCTS, n_customers // 10)))


def make_catalog(n_products: int, window: Window, rng: np.random.Generator) -> pd.DataFrame:
    """The catalog with typed columns, one row per product in ``product_id`` order.

    Besides the raw columns it keeps what the generator needs: ``top`` and ``tier`` indexes,
    ``consumable``, ``popularity``, ``launched`` and ``deactivated`` (epoch seconds; products
    still active have ``deactivated`` at the end of time).
    """
    leaves = [(top, sub, leaf) for top, subs in TAXONOMY.items() for sub, names in subs.items()
              for leaf in names]
    leaf_top = np.array([TOP_CATEGORIES.index(top) for top, _, _ in leaves])
    # Top categories about equally large, leaves uniform inside their top category.
    top = rng.integers(0, len(TOP_CATEGORIES), n_products)
    leaf = np.empty(n_products, dtype=np.int64)
    for t in range(len(TOP_CATEGORIES)):
        mine = np.flatnonzero(top == t)
        leaf[mine] = rng.choice(np.flatnonzero(leaf_top == t), size=len(mine))
    tier_mix = np.array([_TIER_MIX.get(name, _DEFAULT_TIER_MIX) for name in TOP_CATEGORIES])
    tier = (rng.random(n_products)[:, None] >= np.cumsum(tier_mix, axis=1)[top]).sum(axis=1)
    tier = np.minimum(tier, len(BRAND_TIERS) - 1)

    top_names = np.array(TOP_CATEGORIES, dtype=object)[top]
    sub_names = np.array([s for _, s, _ in leaves], dtype=object)[leaf]
    leaf_names = np.array([lf for _, _, lf in leaves], dtype=object)[leaf]
    brand = np.empty(n_products, dtype=object)
    for t, tier_name in enumerate(BRAND_TIERS):
        mine = np.flatnonzero(tier == t)
        brand[mine] = np.array(BRANDS[tier_name], dtype=object)[rng.integers(0, len(BRANDS[tier_name]),
                                                                             len(mine))]
    color = np.array(COLORS, dtype=object)[rng.integers(0, len(COLORS), n_products)]
    color[np.isin(top_names, list(COLORLESS_CATEGORIES))] = None
    model = np.array(MODEL_WORDS, dtype=object)[rng.integers(0, len(MODEL_WORDS), n_products)]

    base = np.array([CATEGORY_BASE_PRICE[name] for name in TOP_CATEGORIES])[top]
    factor = np.array([TIER_PRICE_FACTOR[name] for name in BRAND_TIERS])[tier]
    price = np.floor(np.maximum(1.0, base * factor * rng.lognormal(0.0, 0.3, n_products))) + 0.99
    cost = np.round(price * rng.uniform(0.35, 0.7, n_products), 2)

    is_new = rng.random(n_products) < NEW_ARRIVAL_SHARE
    # Older products launched up to two years before the window, so most are always listed.
    age_days = np.where(is_new, rng.uniform(0, NEW_ARRIVAL_DAYS, n_products),
                        rng.uniform(NEW_ARRIVAL_DAYS + 1, window.days + 2 * 365, n_products))
    launched = (window.end - age_days * DAY).astype(np.int64)
    is_active = rng.random(n_products) >= INACTIVE_SHARE
    # Inactive products were delisted inside the window, so older events still show them.
    first = np.maximum(launched, window.start)
    deactivated = np.where(is_active, np.iinfo(np.int64).max,
                           first + (rng.random(n_products) * (window.end - first)).astype(np.int64))
    consumable = np.array([(t, s) in CONSUMABLE_SUBCATEGORIES for t, s in zip(top_names, sub_names,
                                                                                 strict=True)])
    # A shared long-tail popularity: a few products are much more viewed than most.
    popularity = 1.0 / (rng.permutation(n_products) + 10.0) ** 0.8

    return pd.DataFrame({
        "product_id": format_product_ids(np.arange(n_products)),
        "name": brand + " " + model + " " + leaf_names,
        "category_path": top_names + " > " + sub_names + " > " + leaf_names,
        "brand": brand,
        "color": color,
        "price": price,
        "cost": cost,
        "launched_at": pd.to_datetime(launched, unit="s"),
        "is_active": is_active,
        "top": top,
        "tier": tier,
        "consumable": consumable,
        "is_new": is_new,
        "popularity": popularity,
        "launched": launched,
        "deactivated": deactivated,
    })


def format_product_ids(index: np.ndarray) -> np.ndarray:
    """``P00042`` style ids for product indexes."""
    return np.char.add("P", np.char.zfill(index.astype(str), 5)).astype(object)


def product_weights(catalog: pd.DataFrame, persona_index: int) -> np.ndarray:
    """Unnormalized probability of each product being viewed by a persona."""
    categories = persona_matrix("categories")[persona_index]
    tiers = persona_matrix("tiers")[persona_index]
    new_weight = np.where(catalog["is_new"].to_numpy(), PERSONAS[persona_index].new_arrival_weight, 1.0)
    return (categories[catalog["top"].to_numpy()] * tiers[catalog["tier"].to_numpy()]
            * catalog["popularity"].to_numpy() * new_weight)


def always_available(catalog: pd.DataFrame, window: Window) -> np.ndarray:
    """Products launched before the window and never delisted: valid at any event time."""
    return ((catalog["launched"].to_numpy() <= window.start)
            & (catalog["deactivated"].to_numpy() == np.iinfo(np.int64).max))


def sample_products(
    catalog: pd.DataFrame, window: Window, persona: np.ndarray, times: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """A product index per row for rows of the given personas at the given times.

    Rows whose draw was not listed at that time (not launched yet, already delisted) are
    drawn again among the always-available products, so no event shows an unlisted product.
    """
    launched = catalog["launched"].to_numpy()
    deactivated = catalog["deactivated"].to_numpy()
    fallback_mask = always_available(catalog, window)
    products = np.empty(len(persona), dtype=np.int64)
    for p in range(len(PERSONAS)):
        rows = np.flatnonzero(persona == p)
        if not len(rows):
            continue
        weights = product_weights(catalog, p)
        drawn = rng.choice(len(catalog), size=len(rows), p=weights / weights.sum())
        unlisted = (times[rows] < launched[drawn]) | (times[rows] >= deactivated[drawn])
        fallback = np.where(fallback_mask, weights, 0.0)
        drawn[unlisted] = rng.choice(len(catalog), size=int(unlisted.sum()), p=fallback / fallback.sum())
        products[rows] = drawn
    return products


def staple_products(
    catalog: pd.DataFrame, window: Window, persona: np.ndarray, n_staples: int, rng: np.random.Generator
) -> np.ndarray:
    """``n_staples`` always-available consumables per customer (rows follow ``persona``), drawn
    with the persona's preferences: the items a replenisher keeps re-ordering."""
    staples = np.zeros((len(persona), n_staples), dtype=np.int64)
    eligible = always_available(catalog, window) & catalog["consumable"].to_numpy()
    for p in range(len(PERSONAS)):
        rows = np.flatnonzero(persona == p)
        if not len(rows):
            continue
        weights = np.where(eligible, product_weights(catalog, p), 0.0)
        staples[rows] = rng.choice(len(catalog), size=(len(rows), n_staples), p=weights / weights.sum())
    return staples
