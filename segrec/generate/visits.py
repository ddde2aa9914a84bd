"""Visits (source sessions): when each customer comes, on which device, through which channel."""

from __future__ import annotations

import numpy as np
import pandas as pd

from segrec.generate.common import DAY, HOUR, Window, draw_rows, rank_within_groups
from segrec.generate.customers import UTC_OFFSET_HOURS
from segrec.generate.personas import DAYPART_START_HOUR, PERSONAS, persona_matrix
from segrec.generate.reference import CHANNELS, PAID_SEARCH_CAMPAIGNS

# Visits are capped in length (events and gaps are bounded) and their starts kept this far
# apart, so two visits of one customer are always separated by far more than 30 minutes.
MAX_VISIT_SECONDS = int(2.5 * HOUR)
MIN_VISIT_SPACING = 4 * HOUR
GIFT_DATES = 2
GIFT_SPREAD_DAYS = 1.5
CAMPAIGN_WEEKDAY = 1  # Tuesday
CAMPAIGN_HOUR = 9


def email_campaigns(window: Window) -> tuple[np.ndarray, np.ndarray]:
    """Weekly email campaigns: their send times (epoch seconds) and ids ``EM-YYYYMMDD``."""
    first_day = window.start // DAY
    weekday = (np.arange(first_day, first_day + 7) + 3) % 7  # 1970-01-01 was a Thursday
    start_day = first_day + int(np.flatnonzero(weekday == CAMPAIGN_WEEKDAY)[0])
    days = np.arange(start_day, window.end // DAY, 7)
    times = days * DAY + CAMPAIGN_HOUR * HOUR
    dates = np.datetime_as_string(days.astype("datetime64[D]")).astype(object)
    ids = np.array(["EM-" + d.replace("-", "") for d in dates], dtype=object)  # one per week
    return times.astype(np.int64), ids


def campaign_vocabulary(window: Window) -> tuple[str, ...]:
    """Every campaign value events can carry: the email campaigns, then the paid-search ones."""
    return tuple(email_campaigns(window)[1]) + PAID_SEARCH_CAMPAIGNS


def _visit_days(
    customer: np.ndarray, persona: np.ndarray, window: Window, rng: np.random.Generator
) -> np.ndarray:
    """Day index (0 = first day of the window) of each visit, by the persona's pattern."""
    calendar = np.arange(window.start // DAY, window.end // DAY)
    weekend = ((calendar + 3) % 7) >= 5
    day = np.zeros(len(customer), dtype=np.int64)
    for p, spec in enumerate(PERSONAS):
        weights = np.where(weekend, spec.weekend_weight, 1.0)
        if spec.visit_pattern == "recent":
            weights = weights * np.linspace(0.15, 1.0, window.days) ** 2
        rows = np.flatnonzero(persona == p)
        if spec.visit_pattern == "gift":
            # A few visits around a couple of occasions per customer (weekend-weighted dates).
            centers = rng.choice(window.days, size=(customer.max() + 1, GIFT_DATES), p=weights / weights.sum())
            chosen = centers[customer[rows], rng.integers(0, GIFT_DATES, len(rows))]
            jitter = np.rint(rng.normal(0.0, GIFT_SPREAD_DAYS, len(rows))).astype(np.int64)
            day[rows] = np.clip(chosen + jitter, 0, window.days - 1)
        else:
            day[rows] = rng.choice(window.days, size=len(rows), p=weights / weights.sum())
    return day


def make_visits(
    customers: pd.DataFrame, devices: pd.DataFrame, window: Window, rng: np.random.Generator
) -> pd.DataFrame:
    """One row per visit, sorted by customer and start: ``customer``, ``persona``, ``device``
    (index into ``devices``), ``start`` (epoch seconds UTC), ``channel`` and ``campaign``
    (indexes into reference.CHANNELS and :func:`campaign_vocabulary`, -1 for none)."""
    persona_of = customers["persona"].to_numpy()
    n_visits = 1 + rng.poisson(persona_matrix("visits_per_day")[persona_of] * window.days)
    customer = np.repeat(np.arange(len(customers)), n_visits)
    persona = persona_of[customer]

    day = _visit_days(customer, persona, window, rng)
    daypart = draw_rows(rng, persona_matrix("daypart"), persona)
    local_seconds = np.array(DAYPART_START_HOUR)[daypart] * HOUR + rng.integers(0, 6 * HOUR, len(customer))
    offset = UTC_OFFSET_HOURS[customers["country"].to_numpy()[customer]] * HOUR
    wanted = window.start + day * DAY + local_seconds - offset
    wanted = np.clip(wanted, window.start, window.end - MAX_VISIT_SECONDS - 1)

    order = np.lexsort((wanted, customer))
    customer, persona, wanted = customer[order], persona[order], wanted[order]
    # Push visits apart: start_i = max(wanted_i, start_{i-1} + spacing), solved without a loop
    # as rank * spacing + running max of (wanted - rank * spacing) within the customer.
    shift = rank_within_groups(customer) * MIN_VISIT_SPACING
    running = pd.Series(wanted - shift).groupby(customer).cummax().to_numpy()
    start = running + shift
    keep = start <= window.end - MAX_VISIT_SECONDS - 1  # the first visit always stays
    customer, persona, start = customer[keep], persona[keep], start[keep]

    first_device = np.r_[0, np.cumsum(customers["n_devices"].to_numpy())[:-1]]
    device = first_device[customer] + (rng.random(len(customer))
                                       * customers["n_devices"].to_numpy()[customer]).astype(np.int64)
    channel = draw_rows(rng, persona_matrix("channels"), persona)
    campaign = np.full(len(customer), -1, dtype=np.int64)
    send_times, send_ids = email_campaigns(window)
    by_email = channel == CHANNELS.index("email")
    campaign[by_email] = np.searchsorted(send_times, start[by_email], side="right") - 1
    by_paid = channel == CHANNELS.index("paid_search")
    campaign[by_paid] = len(send_ids) + rng.integers(0, len(PAID_SEARCH_CAMPAIGNS), int(by_paid.sum()))
    return pd.DataFrame({"customer": customer, "persona": persona, "device": device, "start": start,
                         "channel": channel, "campaign": campaign})
