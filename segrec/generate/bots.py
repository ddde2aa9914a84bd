"""Bot traffic: anonymous devices that never log in. Crawlers announce themselves in the user
agent and browse slowly; scrapers use an ordinary browser agent but fire bursts of 40+ events
inside one clock minute."""

from __future__ import annotations

import numpy as np
import pandas as pd

from segrec.generate.catalog import always_available
from segrec.generate.common import MINUTE, Window, rank_within_groups
from segrec.generate.customers import DEVICE_TYPE_SPELLINGS, HUMAN_USER_AGENTS
from segrec.generate.events import PAGE_VIEW, PRODUCT_VIEW
from segrec.generate.reference import BOT_USER_AGENTS, CHANNELS, COUNTRY_CODES, DEVICE_TYPES, USER_AGENTS

BOTS_PER_CUSTOMER = 0.002  # of each kind, at least MIN_BOTS
MIN_BOTS = 3
CRAWL_EVENTS = (40, 120)  # events per crawler run
CRAWL_GAP = (20, 90)  # seconds between crawler requests
BURSTS = (2, 4)  # bursts per scraper
BURST_EVENTS = (41, 60)  # events per burst, one second apart, inside one clock minute
UA_BOT, RATE_BOT = 1, 2  # actor kinds (0 is human)


def bot_counts(n_customers: int) -> tuple[int, int]:
    """Number of crawler (user-agent) bots and of rate (burst) bots."""
    n = max(MIN_BOTS, int(round(n_customers * BOTS_PER_CUSTOMER)))
    return n, n


def make_bots(
    n_customers: int, catalog: pd.DataFrame, window: Window, first_device: int, first_visit: int,
    rng: np.random.Generator,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Bot events, bot devices and bot runs (visits).

    Devices are numbered from ``first_device`` and runs from ``first_visit`` so they follow the
    human ones. Events have the columns of the human events plus ``actor`` (UA_BOT or RATE_BOT)
    and ``country``.
    """
    n_crawlers, n_scrapers = bot_counts(n_customers)
    crawl_sizes = rng.integers(CRAWL_EVENTS[0], CRAWL_EVENTS[1] + 1, n_crawlers)
    bursts = rng.integers(BURSTS[0], BURSTS[1] + 1, n_scrapers)
    burst_sizes = rng.integers(BURST_EVENTS[0], BURST_EVENTS[1] + 1, int(bursts.sum()))

    # Crawlers: one slow run each.
    crawl_run = np.repeat(np.arange(n_crawlers), crawl_sizes)
    crawl_gap = rng.integers(CRAWL_GAP[0], CRAWL_GAP[1] + 1, len(crawl_run))
    longest = int(crawl_sizes.max()) * CRAWL_GAP[1]
    crawl_start = rng.integers(window.start, window.end - longest, n_crawlers)
    elapsed = np.cumsum(crawl_gap)
    run_first = np.searchsorted(crawl_run, np.arange(n_crawlers))
    crawl_time = crawl_start[crawl_run] + elapsed - elapsed[run_first][crawl_run]

    # Scrapers: bursts one second apart, all inside one clock minute.
    burst_device = np.repeat(np.arange(n_scrapers), bursts)
    minute = rng.integers(window.start // MINUTE, window.end // MINUTE - 1, len(burst_sizes)) * MINUTE
    first_second = (rng.random(len(burst_sizes)) * (MINUTE - burst_sizes + 1)).astype(np.int64)
    burst_of = np.repeat(np.arange(len(burst_sizes)), burst_sizes)
    burst_time = minute[burst_of] + first_second[burst_of] + rank_within_groups(burst_of)

    n_events = len(crawl_run) + len(burst_of)
    device = np.r_[crawl_run, n_crawlers + burst_device[burst_of]] + first_device
    run = np.r_[crawl_run, n_crawlers + burst_of] + first_visit
    event_type = np.where(rng.random(n_events) < 0.4, PAGE_VIEW, PRODUCT_VIEW)
    listed = np.flatnonzero(always_available(catalog, window))
    product = np.where(event_type == PRODUCT_VIEW, listed[rng.integers(0, len(listed), n_events)], -1)
    n_devices = n_crawlers + n_scrapers
    country = rng.integers(0, len(COUNTRY_CODES), n_devices)
    events = pd.DataFrame({
        "visit": run, "customer": -1, "device": device, "event_type": event_type,
        "event_time": np.r_[crawl_time, burst_time], "product": product, "order": -1, "quantity": 0,
        "unit_price": np.nan,
        "actor": np.r_[np.full(len(crawl_run), UA_BOT), np.full(len(burst_of), RATE_BOT)],
        "country": country[device - first_device], "city": -1,
    })

    desktop_agents = [HUMAN_USER_AGENTS.index(ua) for ua in USER_AGENTS["desktop"]]
    user_agent = np.r_[len(HUMAN_USER_AGENTS) + np.arange(n_crawlers) % len(BOT_USER_AGENTS),
                       np.array(desktop_agents)[rng.integers(0, len(desktop_agents), n_scrapers)]]
    devices = pd.DataFrame({
        "customer": -1, "device_type": DEVICE_TYPES.index("desktop"),
        "user_agent": user_agent,
        "device_type_raw": np.where(rng.random(n_devices) < 0.5, DEVICE_TYPE_SPELLINGS.index("desktop"), -1),
        "country": country, "city": -1,
    })
    n_runs = n_crawlers + len(burst_sizes)
    run_start = np.r_[crawl_start, minute + first_second]
    runs = pd.DataFrame({"customer": -1, "persona": -1, "device": first_device + np.r_[
        np.arange(n_crawlers), n_crawlers + burst_device], "start": run_start,
        "channel": rng.choice([CHANNELS.index("direct"), CHANNELS.index("organic")], n_runs),
        "campaign": -1})
    return events, devices, runs
