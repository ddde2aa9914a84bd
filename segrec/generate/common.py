"""Small vectorized helpers shared by the generator modules: seeded random streams, the time
window, ranks within groups, per-row categorical draws and hourly load times."""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import numpy as np

DAY = 86_400
HOUR = 3_600
MINUTE = 60


def component_rng(random_state: int, component: str) -> np.random.Generator:
    """An independent random stream per generator component, so changing how one table is
    drawn never shifts the numbers of another (crc32 is stable across runs and platforms)."""
    return np.random.default_rng([random_state, zlib.crc32(component.encode())])


@dataclass(frozen=True)
class Window:
    """The simulated period in UTC epoch seconds: ``days`` whole days ending with ``end_date``."""

    start: int
    end: int  # exclusive: midnight after end_date
    days: int
    end_date: date

    @classmethod
    def ending(cls, end_date: date, days: int) -> Window:
        end = int(datetime.combine(end_date + timedelta(days=1), datetime.min.time(), UTC).timestamp())
        return cls(start=end - days * DAY, end=end, days=days, end_date=end_date)


def rank_within_groups(groups: np.ndarray) -> np.ndarray:
    """0, 1, 2, ... within each run of equal values of an already grouped (sorted) array."""
    n = len(groups)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    starts = np.flatnonzero(np.r_[True, groups[1:] != groups[:-1]])
    lengths = np.diff(np.r_[starts, n])
    return np.arange(n) - np.repeat(starts, lengths)


def draw_rows(rng: np.random.Generator, probabilities: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """For each entry of ``rows`` draw a column index from ``probabilities[row]``."""
    cumulative = np.cumsum(probabilities, axis=1)
    cumulative[:, -1] = 1.0  # guard against rounding leaving the last bin short
    u = rng.random(len(rows))
    return (u[:, None] >= cumulative[rows]).sum(axis=1)


def hourly_load_time(event_time: np.ndarray) -> np.ndarray:
    """The hourly batch load that picks up an event: the next full hour plus a few minutes
    that depend only on the hour, so every row of one load shares its ``loaded_at``."""
    hour = -(-event_time // HOUR)  # ceil
    return hour * HOUR + (3 + hour % 7) * MINUTE + hour % 50


def sample_without_replacement(rng: np.random.Generator, candidates: np.ndarray, k: int) -> np.ndarray:
    """``k`` distinct entries of ``candidates`` (all of them if there are fewer), sorted."""
    k = min(k, len(candidates))
    return np.sort(rng.choice(candidates, size=k, replace=False)) if k else candidates[:0]
