"""Injected dirt with known reason codes (docs/cleaning-rules.md).

Each kind goes on its own set of otherwise clean human rows ("base rows", one kind per row), so
the expected reason of every row is unambiguous under the rules' precedence. Rows of customers
who asked to be deleted, the first logged-in row of every device (it decides identity
stitching) and returns are never dirtied.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from segrec.generate.common import DAY, HOUR, hourly_load_time, sample_without_replacement
from segrec.generate.events import (
    ADD_TO_CART,
    PRODUCT_VIEW,
    PURCHASE,
    REMOVE_FROM_CART,
    RETURN,
)
from segrec.generate.render import replace_at, time_text


@dataclass(frozen=True)
class DirtKind:
    """One kind of dirt: which rows it may hit, how often, and what it writes."""

    kind: str
    reason: str | None  # expected reason_code; None: the row stays clean
    pool: str  # "line" (product order lines), "product" (product events), "browse" (non-order), "any"
    rate: float  # share of the pool's rows
    columns: tuple[str, ...] = ()  # raw columns overwritten with `values`
    values: tuple[str | None, ...] = ()  # cycled over the chosen rows so every variant appears


# Small pools first, so the big-pool kinds cannot use up the rows the small ones need.
DIRT_KINDS: tuple[DirtKind, ...] = (
    DirtKind("invalid_quantity", "invalid_quantity", "line", 0.02, ("quantity",), ("0", "-2", "two")),
    DirtKind("invalid_price", "invalid_price", "line", 0.02, ("unit_price",), ("0", "-9.99", "abc", None)),
    DirtKind("unknown_currency", "unknown_currency", "line", 0.015, ("currency",), ("XXX", "BTC", "??")),
    DirtKind("missing_product", "missing_product", "product", 0.006, ("product_id",), (None, "")),
    DirtKind("missing_event_id", "missing_event_id", "browse", 0.003, ("event_id",), (None, "", "  ")),
    DirtKind("invalid_event_time", "invalid_event_time", "browse", 0.004, ("event_time",),
             ("not a date", "2026-13-45T99:00:00", "")),
    DirtKind("future_event_time", "future_event_time", "browse", 0.003),
    DirtKind("unknown_event_type", "unknown_event_type", "browse", 0.004, ("event_type",),
             ("hover", "scroll", "wishlist_add", "")),
    DirtKind("missing_identity", "missing_identity", "browse", 0.003, ("customer_id", "anonymous_id"),
             (None, "")),
    DirtKind("exact_duplicate", "duplicate_event", "any", 0.012),
    DirtKind("replay", "duplicate_event", "any", 0.006),
    DirtKind("late_event", None, "any", 0.01),
)
MIN_ROWS_PER_KIND = 3
LATE_DAYS = (2, 10)
REPLAY_DAYS = (1, 3)
FUTURE_DAYS = (2, 30)
FUTURE_YEARS = (1, 5)


def _pools(event_type: np.ndarray, product: np.ndarray) -> dict[str, np.ndarray]:
    return {
        "line": (event_type == PURCHASE) & (product >= 0),
        "product": np.isin(event_type, [PRODUCT_VIEW, ADD_TO_CART, REMOVE_FROM_CART]),
        "browse": ~np.isin(event_type, [PURCHASE, RETURN]),
        "any": event_type != RETURN,
    }


def choose_dirt(
    event_type: np.ndarray, product: np.ndarray, eligible: np.ndarray, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Sorted base-row positions per dirt kind, disjoint across kinds, all within ``eligible``."""
    pools = _pools(event_type, product)
    free = eligible.copy()
    chosen = {}
    for spec in DIRT_KINDS:
        pool = pools[spec.pool] & eligible
        k = max(MIN_ROWS_PER_KIND, len(spec.values), int(round(spec.rate * pool.sum())))
        rows = sample_without_replacement(rng, np.flatnonzero(pool & free), k)
        free[rows] = False
        chosen[spec.kind] = rows
    return chosen


def late_load_times(event_time: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Loads that pick events up LATE_DAYS after they happened (late-arriving data)."""
    delay = rng.integers(LATE_DAYS[0] * DAY, LATE_DAYS[1] * DAY - HOUR, len(event_time))
    return hourly_load_time(event_time + delay)


def replay_load_times(loaded_at: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A later hourly load, REPLAY_DAYS after the first one, that re-sends the same rows."""
    days = rng.integers(REPLAY_DAYS[0], REPLAY_DAYS[1] + 1, len(loaded_at))
    return hourly_load_time(loaded_at + days * DAY)


def apply_dirt(
    columns: dict[str, pa.Array], chosen: dict[str, np.ndarray], loaded_at: np.ndarray,
    rng: np.random.Generator,
) -> dict[str, pa.Array]:
    """Overwrite the raw text of the chosen base rows (copies and load times are handled by the
    caller: they add rows or change numbers rather than text)."""
    columns = dict(columns)
    for spec in DIRT_KINDS:
        rows = chosen[spec.kind]
        if spec.values:
            cycle = np.array(spec.values, dtype=object)[np.arange(len(rows)) % len(spec.values)]
            values = pa.array(cycle, pa.string())
            for column in spec.columns:
                columns[column] = replace_at(columns[column], rows, values)
    future = chosen["future_event_time"]
    in_years = rng.random(len(future)) < 0.5
    ahead = np.where(in_years, rng.integers(FUTURE_YEARS[0], FUTURE_YEARS[1] + 1, len(future)) * 365 * DAY,
                     rng.integers(FUTURE_DAYS[0] * DAY, FUTURE_DAYS[1] * DAY, len(future)))
    columns["event_time"] = replace_at(columns["event_time"], future, time_text(loaded_at[future] + ahead))
    return columns
