"""The optional raw tables: email events, promotion responses, experiment assignments,
recommendation impressions and privacy requests, all driven by the personas' rates."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from segrec.generate.catalog import always_available, sample_products
from segrec.generate.common import DAY, HOUR, Window
from segrec.generate.experiments import EXPERIMENTS
from segrec.generate.personas import persona_matrix
from segrec.generate.reference import PROMOTIONS, STRATEGY_CTR
from segrec.generate.render import id_text, masked_text, time_text, to_frame, vocabulary_text
from segrec.generate.visits import email_campaigns

EMAIL_SEND_SHARE = 0.85  # of consenting customers per campaign
UNSUBSCRIBE_RATE = 0.01  # per opened email
MEAN_OPEN_DELAY = 6 * HOUR
OFFERS_PER_30_DAYS = 1.0
IMPRESSION_VISIT_SHARE = 0.3
IMPRESSIONS_PER_WIDGET = 4
POPULAR_PRODUCTS = 50
EMAIL_EVENT_TYPES: tuple[str, ...] = ("sent", "open", "click", "unsubscribe")
STRATEGIES: tuple[str, ...] = tuple(STRATEGY_CTR)


def _customer_text(customer: np.ndarray) -> pa.Array:
    return id_text("C", customer + 1, 7)


def email_events(customers: pd.DataFrame, window: Window, rng: np.random.Generator) -> pd.DataFrame:
    """Weekly campaigns to consenting customers: sent, then open/click/unsubscribe at persona rates.

    Nobody receives a campaign after unsubscribing."""
    send_times, campaign_ids = email_campaigns(window)
    recipients = np.flatnonzero(customers["consent"].to_numpy())
    shape = (len(recipients), len(send_times))
    persona = customers["persona"].to_numpy()[recipients]
    sent = rng.random(shape) < EMAIL_SEND_SHARE
    opened = sent & (rng.random(shape) < persona_matrix("email_open")[persona][:, None])
    clicked = opened & (rng.random(shape) < persona_matrix("email_click")[persona][:, None])
    unsubscribed = opened & (rng.random(shape) < UNSUBSCRIBE_RATE)
    earlier_unsubscribe = (np.cumsum(unsubscribed, axis=1) - unsubscribed) > 0
    sent_at = send_times[None, :] + rng.integers(0, 2 * HOUR, shape)
    open_at = sent_at + rng.exponential(MEAN_OPEN_DELAY, shape).astype(np.int64) + 1
    click_at = open_at + rng.integers(5, 600, shape)
    unsubscribe_at = open_at + rng.integers(10, 300, shape)

    parts = []
    for code, (mask, when) in enumerate(((sent, sent_at), (opened, open_at), (clicked, click_at),
                                         (unsubscribed, unsubscribe_at))):
        row, campaign = np.nonzero(mask & ~earlier_unsubscribe & (when < window.end))
        parts.append((recipients[row], campaign, np.full(len(row), code), when[row, campaign]))
    customer, campaign, event_type, event_time = (np.concatenate(c) for c in zip(*parts, strict=True))
    order = np.lexsort((event_type, customer, event_time))
    return to_frame({
        "customer_id": _customer_text(customer[order]),
        "campaign_id": vocabulary_text(campaign[order], tuple(campaign_ids)),
        "event_type": vocabulary_text(event_type[order], EMAIL_EVENT_TYPES),
        "event_time": time_text(event_time[order]),
    })


def promotion_responses(customers: pd.DataFrame, window: Window, rng: np.random.Generator) -> pd.DataFrame:
    """Offers of the promotion catalog; ``redeemed_at`` only for redeemed offers (persona rates)."""
    n_offers = rng.poisson(OFFERS_PER_30_DAYS * window.days / 30, len(customers))
    customer = np.repeat(np.arange(len(customers)), n_offers)
    promotion = rng.integers(0, len(PROMOTIONS), len(customer))
    offered_at = rng.integers(window.start, window.end, len(customer))
    redeemed_at = offered_at + rng.integers(HOUR, 7 * DAY, len(customer))
    redeemed = (rng.random(len(customer)) < persona_matrix("promo_redeem")[customers["persona"].to_numpy()[
        customer]]) & (redeemed_at < window.end)
    order = np.lexsort((customer, offered_at))
    customer, promotion, offered_at = customer[order], promotion[order], offered_at[order]
    redeemed, redeemed_at = redeemed[order], redeemed_at[order]
    return to_frame({
        "customer_id": _customer_text(customer),
        "promotion_id": vocabulary_text(promotion, tuple(PROMOTIONS)),
        "promotion_type": vocabulary_text(promotion, tuple(PROMOTIONS.values())),
        "offered_at": time_text(offered_at),
        "redeemed_at": masked_text(time_text(redeemed_at), ~redeemed),
    })


def experiment_assignments(assignments: pd.DataFrame) -> pd.DataFrame:
    """The raw assignments table, ordered by experiment then assignment time."""
    frame = assignments.sort_values(["experiment_id", "assigned_at", "customer"], kind="stable")
    return to_frame({
        "experiment_id": pa.array(frame["experiment_id"].to_numpy(dtype=object), pa.string()),
        "customer_id": _customer_text(frame["customer"].to_numpy()),
        "variant": pa.array(frame["variant"].to_numpy(dtype=object), pa.string()),
        "assigned_at": time_text(frame["assigned_at"].to_numpy()),
    })


def recommendation_impressions(
    visits: pd.DataFrame, assignments: pd.DataFrame, catalog: pd.DataFrame, n_customers: int,
    window: Window, rng: np.random.Generator,
) -> pd.DataFrame:
    """Recommendation widgets shown in some visits, clicked at each strategy's CTR.

    Customers in `rec_strategy_test` see their variant's strategy from their assignment on;
    everyone else sees `als` or `popularity`."""
    shown_visits = np.flatnonzero(rng.random(len(visits)) < IMPRESSION_VISIT_SHARE)
    visit = np.repeat(shown_visits, IMPRESSIONS_PER_WIDGET)
    customer = visits["customer"].to_numpy()[visit]
    shown_at = visits["start"].to_numpy()[visit] + np.repeat(rng.integers(10, 60, len(shown_visits)),
                                                             IMPRESSIONS_PER_WIDGET)
    # A widget shows one strategy; outside the test it is als or popularity, half each.
    strategy = np.repeat(np.where(rng.random(len(shown_visits)) < 0.5, STRATEGIES.index("als"),
                                  STRATEGIES.index("popularity")), IMPRESSIONS_PER_WIDGET)
    test = EXPERIMENTS[0]
    mine = assignments[assignments["experiment_id"] == test.experiment_id]
    assigned_at = np.full(n_customers, np.iinfo(np.int64).max)
    assigned_at[mine["customer"].to_numpy()] = mine["assigned_at"].to_numpy()
    variant = np.full(n_customers, -1)
    variant[mine["customer"].to_numpy()] = np.where(mine["variant"].to_numpy() == test.treatment,
                                                    STRATEGIES.index(test.treatment),
                                                    STRATEGIES.index(test.control))
    in_test = shown_at >= assigned_at[customer]
    strategy[in_test] = variant[customer[in_test]]

    product = sample_products(catalog, window, visits["persona"].to_numpy()[visit], shown_at, rng)
    listed = np.flatnonzero(always_available(catalog, window))
    popular = listed[np.argsort(-catalog["popularity"].to_numpy()[listed], kind="stable")[:POPULAR_PRODUCTS]]
    by_popularity = strategy == STRATEGIES.index("popularity")
    product[by_popularity] = popular[rng.integers(0, len(popular), int(by_popularity.sum()))]

    ctr = np.array([STRATEGY_CTR[s] for s in STRATEGIES])[strategy]
    clicked = rng.random(len(visit)) < ctr
    clicked_at = shown_at + rng.integers(3, 90, len(visit))
    return to_frame({
        "customer_id": _customer_text(customer),
        "product_id": id_text("P", product, 5),
        "strategy": vocabulary_text(strategy, STRATEGIES),
        "shown_at": time_text(shown_at),
        "clicked_at": masked_text(time_text(clicked_at), ~clicked),
    })


def privacy_requests(
    deleted: np.ndarray, opted_out: np.ndarray, last_seen: np.ndarray, window: Window,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """Delete requests (after the customer's last event) and opt-outs (any time)."""
    delete_at = last_seen[deleted] + rng.integers(HOUR, 3 * DAY, len(deleted))
    opt_out_at = rng.integers(window.start, window.end, len(opted_out))
    customer = np.r_[deleted, opted_out]
    request = np.r_[np.zeros(len(deleted), dtype=np.int64), np.ones(len(opted_out), dtype=np.int64)]
    when = np.r_[delete_at, opt_out_at]
    order = np.lexsort((customer, when))
    return to_frame({
        "customer_id": _customer_text(customer[order]),
        "request_type": vocabulary_text(request[order], ("delete", "opt_out")),
        "requested_at": time_text(when[order]),
    })
