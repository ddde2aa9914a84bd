"""Human events: each visit expanded into a browse -> cart -> checkout -> purchase funnel, plus
returns days later and anonymous browsing before the first login on a device.

Everything here is numeric (indexes, epoch seconds); :mod:`segrec.generate.render` turns it
into the text columns of the raw contract.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from segrec.contract import EVENT_TYPES
from segrec.generate.catalog import sample_products, staple_products
from segrec.generate.common import DAY, Window, rank_within_groups
from segrec.generate.customers import COUNTRY_CURRENCY
from segrec.generate.personas import MAX_ORDER_LINES, persona_matrix
from segrec.generate.reference import CURRENCY_RATES, ZERO_DECIMAL_CURRENCIES

PAGE_VIEW, PRODUCT_VIEW, SEARCH, ADD_TO_CART, REMOVE_FROM_CART, BEGIN_CHECKOUT, PURCHASE, RETURN = (
    EVENT_TYPES.index(name) for name in (
        "page_view", "product_view", "search", "add_to_cart", "remove_from_cart", "begin_checkout",
        "purchase", "return"))

# A visit is a fixed sequence of slots; the browse slots (block 1) are shuffled together.
SLOT_TYPES = np.array([PAGE_VIEW, PAGE_VIEW, SEARCH, PRODUCT_VIEW, ADD_TO_CART, REMOVE_FROM_CART,
                       BEGIN_CHECKOUT, PURCHASE])
SLOT_BLOCKS = np.array([0, 1, 1, 1, 2, 3, 4, 5])
MAX_EXTRA_PAGES, MAX_SEARCHES, MAX_PRODUCT_VIEWS, MAX_EXTRA_UNITS = 6, 4, 12, 5
REMOVE_RATE = 0.15
CHECKOUT_ABANDON_RATE = 0.30
ORDER_LEVEL_SHARE = 0.01
RETURN_SHARE = 0.03
RETURN_DAYS = (2, 20)
N_STAPLES = 4
# Seconds between events of a visit: at least 10 s, at most 4 min; paying takes over a minute,
# so an order's purchase rows (which share one timestamp) sit alone in their clock minute.
MIN_GAP, MAX_GAP, PAYMENT_GAP = 10, 240, 61


def plan_visits(visits: pd.DataFrame, lift: np.ndarray, rng: np.random.Generator) -> pd.DataFrame:
    """Slot counts per visit (one column per slot of SLOT_TYPES) and the order it places.

    ``lift`` is the relative conversion lift of each visit (experiments)."""
    persona = visits["persona"].to_numpy()
    n = len(visits)

    def rate(field: str) -> np.ndarray:
        return persona_matrix(field)[persona]

    converted = rng.random(n) < rate("conversion") * (1.0 + lift)
    lines = np.where(converted, np.clip(1 + rng.poisson(rate("basket_lines") - 1.0), 1, MAX_ORDER_LINES), 0)
    cart_only = ~converted & (rng.random(n) < rate("cart_abandon"))
    removed = ((converted | cart_only) & (rng.random(n) < REMOVE_RATE)).astype(np.int64)
    adds = np.where(converted, lines + removed, np.where(cart_only, 1 + removed, 0))
    checkout = converted | (cart_only & (rng.random(n) < CHECKOUT_ABANDON_RATE))
    order_level = converted & (rng.random(n) < ORDER_LEVEL_SHARE)
    product_views = np.maximum(np.minimum(rng.poisson(rate("product_views")), MAX_PRODUCT_VIEWS),
                               np.maximum(adds, 1))
    counts = np.column_stack([
        np.ones(n, dtype=np.int64),
        np.minimum(rng.poisson(rate("extra_pages")), MAX_EXTRA_PAGES),
        np.minimum(rng.poisson(rate("searches")), MAX_SEARCHES),
        product_views, adds, removed, checkout.astype(np.int64),
        np.where(order_level, 1, lines),
    ])
    plan = pd.DataFrame(counts, columns=[f"slot{i}" for i in range(len(SLOT_TYPES))])
    plan["lines"] = lines
    plan["order_level"] = order_level
    return plan


def _gaps(event_type: np.ndarray, visit: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Seconds since the previous event of the same visit (0 for a visit's first event)."""
    n = len(event_type)
    gap = np.clip(np.rint(MIN_GAP + rng.lognormal(np.log(35.0), 0.8, n)), MIN_GAP, MAX_GAP).astype(np.int64)
    first_of_visit = np.r_[True, visit[1:] != visit[:-1]]
    purchase = event_type == PURCHASE
    first_purchase = purchase & ~np.r_[False, purchase[:-1] & (visit[1:] == visit[:-1])]
    gap[first_purchase] = rng.integers(PAYMENT_GAP, MAX_GAP + 1, int(first_purchase.sum()))
    gap[purchase & ~first_purchase] = 0
    gap[first_of_visit] = 0
    return gap


def _units(persona: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Units bought per order line: 1 plus a capped Poisson extra at the persona's rate."""
    return 1 + np.minimum(rng.poisson(persona_matrix("extra_quantity")[persona]), MAX_EXTRA_UNITS)


def _local_price(usd: np.ndarray, country: np.ndarray) -> np.ndarray:
    """USD prices converted to the currency of each row's country, rounded to its minor unit."""
    currency = np.array(COUNTRY_CURRENCY)[country]
    rate = np.array([CURRENCY_RATES[c] for c in COUNTRY_CURRENCY])[country]
    decimals_zero = np.isin(currency, list(ZERO_DECIMAL_CURRENCIES))
    local = usd / rate
    return np.where(decimals_zero, np.round(local, 0), np.round(local, 2))


def _lay_out(plan: pd.DataFrame, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Visit index and event type of every event, grouped by visit in funnel order."""
    counts = plan[[f"slot{i}" for i in range(len(SLOT_TYPES))]].to_numpy()
    n_visits = len(plan)
    visit = np.repeat(np.repeat(np.arange(n_visits), len(SLOT_TYPES)), counts.ravel())
    slot = np.repeat(np.tile(np.arange(len(SLOT_TYPES)), n_visits), counts.ravel())
    # Rows are already grouped by visit and block; shuffling within a block is one sort of a
    # packed key (visit | block | random), much faster than a three-key lexsort.
    key = (visit << 34) | (SLOT_BLOCKS[slot] << 31) | rng.integers(0, 1 << 31, len(visit))
    order = np.argsort(key, kind="stable")
    return visit[order], SLOT_TYPES[slot[order]]


def _products(
    event_type: np.ndarray, visit: np.ndarray, event_time: np.ndarray, persona: np.ndarray,
    customer: np.ndarray, customers: pd.DataFrame, catalog: pd.DataFrame, window: Window,
    rng: np.random.Generator,
) -> np.ndarray:
    """The product of every event (-1 for none).

    Views follow the persona's taste (replenishers mostly revisit their staples); the k-th
    cart add of a visit is its k-th viewed product, a removal drops the last add, and order
    line k is add k."""
    n_visits = int(visit.max()) + 1 if len(visit) else 0
    product = np.full(len(visit), -1, dtype=np.int64)
    views = np.flatnonzero(event_type == PRODUCT_VIEW)
    product[views] = sample_products(catalog, window, persona[views], event_time[views], rng)
    from_staples = views[rng.random(len(views)) < persona_matrix("staple_share")[persona[views]]]
    if len(from_staples):
        staples = staple_products(catalog, window, customers["persona"].to_numpy(), N_STAPLES, rng)
        product[from_staples] = staples[customer[from_staples], rng.integers(0, N_STAPLES, len(from_staples))]

    first_view = np.searchsorted(visit[views], np.arange(n_visits))
    adds = np.flatnonzero(event_type == ADD_TO_CART)
    product[adds] = product[views[first_view[visit[adds]] + rank_within_groups(visit[adds])]]
    first_add = np.searchsorted(visit[adds], np.arange(n_visits))
    last_add = np.r_[first_add[1:], len(adds)] - 1
    removes = np.flatnonzero(event_type == REMOVE_FROM_CART)
    product[removes] = product[adds[last_add[visit[removes]]]]
    purchases = np.flatnonzero(event_type == PURCHASE)
    product[purchases] = product[adds[first_add[visit[purchases]] + rank_within_groups(visit[purchases])]]
    return product


def expand_visits(
    visits: pd.DataFrame, plan: pd.DataFrame, customers: pd.DataFrame, catalog: pd.DataFrame,
    window: Window, rng: np.random.Generator,
) -> pd.DataFrame:
    """All human events of the visits (no returns yet), in visit order then time order.

    Columns: ``visit``, ``customer``, ``device``, ``event_type`` (index into EVENT_TYPES),
    ``event_time`` (epoch seconds), ``product`` (-1 none), ``order`` (-1 none), ``quantity``
    (0 none) and ``unit_price`` (NaN none, customer currency).
    """
    visit, event_type = _lay_out(plan, rng)
    elapsed = np.cumsum(_gaps(event_type, visit, rng))
    first_row = np.searchsorted(visit, np.arange(len(visits)))
    event_time = visits["start"].to_numpy()[visit] + elapsed - elapsed[first_row][visit]
    customer = visits["customer"].to_numpy()[visit]
    persona = visits["persona"].to_numpy()[visit]
    product = _products(event_type, visit, event_time, persona, customer, customers, catalog, window, rng)

    purchases = np.flatnonzero(event_type == PURCHASE)
    country = customers["country"].to_numpy()[customer]
    usd = catalog["price"].to_numpy()
    quantity = np.zeros(len(visit), dtype=np.int64)
    unit_price = np.full(len(visit), np.nan)
    quantity[purchases] = _units(persona[purchases], rng)
    unit_price[purchases] = _local_price(usd[product[purchases]], country[purchases])

    # Order-level orders: one row, no product, carrying the total of the lines it stands for.
    order_level = plan["order_level"].to_numpy()
    level_rows = purchases[order_level[visit[purchases]]]
    if len(level_rows):
        adds = np.flatnonzero(event_type == ADD_TO_CART)
        lines = plan["lines"].to_numpy()
        hidden = adds[order_level[visit[adds]] & (rank_within_groups(visit[adds]) < lines[visit[adds]])]
        value = _units(persona[hidden], rng) * _local_price(usd[product[hidden]], country[hidden])
        total = np.bincount(visit[hidden], weights=value, minlength=len(visits))
        product[level_rows] = -1
        quantity[level_rows] = 1
        unit_price[level_rows] = np.round(total[visit[level_rows]], 2)

    # Orders are numbered in the order they were placed.
    converted = np.flatnonzero(plan["lines"].to_numpy() > 0)
    order_number = np.full(len(visits), -1, dtype=np.int64)
    placed = converted[np.argsort(visits["start"].to_numpy()[converted], kind="stable")]
    order_number[placed] = np.arange(len(converted))
    order_id = np.full(len(visit), -1, dtype=np.int64)
    order_id[purchases] = order_number[visit[purchases]]

    return pd.DataFrame({
        "visit": visit, "customer": customer, "device": visits["device"].to_numpy()[visit],
        "event_type": event_type, "event_time": event_time, "product": product, "order": order_id,
        "quantity": quantity, "unit_price": unit_price,
    })


def make_returns(events: pd.DataFrame, window: Window, rng: np.random.Generator) -> pd.DataFrame:
    """A return row for about RETURN_SHARE of product order lines, days after the purchase.

    Returns are booked by the shop, not sent from a device: they carry the customer only."""
    lines = np.flatnonzero((events["event_type"].to_numpy() == PURCHASE) & (events["product"].to_numpy() >= 0))
    chosen = lines[rng.random(len(lines)) < RETURN_SHARE]
    delay = rng.integers(RETURN_DAYS[0] * DAY, RETURN_DAYS[1] * DAY, len(chosen))
    returned = events.iloc[chosen].copy()
    returned["event_time"] = returned["event_time"].to_numpy() + delay
    returned = returned[returned["event_time"].to_numpy() < window.end]
    returned["event_type"] = RETURN
    returned["visit"] = -1
    returned["device"] = -1
    return returned.reset_index(drop=True)


def anonymous_before_login(
    events: pd.DataFrame, visits: pd.DataFrame, customers: pd.DataFrame, rng: np.random.Generator
) -> np.ndarray:
    """Whether each event is logged in (carries ``customer_id``).

    Customers flagged ``anonymous_first`` browse without logging in on the device of their first
    visit until a cut point inside that first visit or at the start of the next visit on that
    device; at least one event of every device is logged in, so every device gets stitched.
    """
    device = events["device"].to_numpy()
    logged_in = np.ones(len(events), dtype=bool)
    first_visit = np.searchsorted(visits["customer"].to_numpy(), np.arange(len(customers)))
    has_visit = first_visit < len(visits)
    anonymous_first = customers["anonymous_first"].to_numpy() & has_visit
    first_device = np.full(len(customers), -1, dtype=np.int64)
    first_device[has_visit] = visits["device"].to_numpy()[first_visit[has_visit]]
    target = np.zeros(device.max() + 2, dtype=bool)  # which devices browse anonymously first
    target[first_device[anonymous_first]] = True

    rows = np.flatnonzero((device >= 0) & target[np.maximum(device, 0)])
    rows = rows[np.lexsort((events["event_time"].to_numpy()[rows], device[rows]))]
    rank = rank_within_groups(device[rows])
    per_device = np.bincount(device[rows], minlength=len(target))
    visit = events["visit"].to_numpy()
    visit_sizes = np.bincount(visit[visit >= 0], minlength=len(visits))
    first_visit_size = np.zeros(len(target), dtype=np.int64)
    first_visit_size[first_device[anonymous_first]] = visit_sizes[first_visit[anonymous_first]]
    limit = np.minimum(first_visit_size, per_device - 1)
    cut = 1 + (rng.random(len(target)) * np.maximum(limit, 0)).astype(np.int64)
    cut = np.where(limit >= 1, cut, 0)
    # Never log in halfway through an order: a cut inside a block of purchase rows moves to
    # the block's first row.
    purchase = events["event_type"].to_numpy()[rows] == PURCHASE
    continues = purchase & np.r_[False, purchase[:-1] & (device[rows][1:] == device[rows][:-1])]
    block_start = np.maximum.accumulate(np.where(continues, 0, np.arange(len(rows))))
    device_start = np.searchsorted(device[rows], np.arange(len(target)))
    at_cut = np.minimum(device_start + cut, len(rows) - 1)
    cut = np.where(cut > 0, rank[block_start[at_cut]], 0) if len(rows) else cut
    logged_in[rows] = rank >= cut[device[rows]]
    return logged_in
