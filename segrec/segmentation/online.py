"""Segments of live visitors: the online version of what the warehouse does between refits.

Between refits the warehouse assigns every customer to the nearest kept centroid from the
features of now (:mod:`segrec.segmentation.pipeline`). The service does the same for a visitor
with live events: the visitor's features as of the build (mart ``customer_segment_features``; none
for a visitor the build has not seen) are updated by the events since (:func:`update_features`),
put into the run's scaled space (:func:`segrec.segmentation.validation.scale_values` with the
run's recorded scaling) and assigned to the nearest centroid (:class:`CentroidModel`, from mart
``segment_centroids``).

The features and their definitions are those of the macro ``customer_features_as_of``. What
live events change, and how:

- shares: old share x old count plus the live hits, over the new count. Dayparts over events,
  devices and ``conversion_rate`` over sessions (live events form sessions by the
  ``session_gap``), price bands and new arrivals over product events, ``group_share__*`` over
  product events of products with a group. The counts are the ``count__*`` features
  (:data:`COUNT_FEATURES`), published for this.
- order features from live purchases and returns (an order is an order_id, else one event):
  ``frequency``, ``monetary``, ``recency_days``, ``tenure_days``, ``avg_order_value``,
  ``avg_order_lines``, ``avg_line_value``, ``orders_per_month``, ``ipt_mean_days`` and
  ``ipt_cv`` (gap statistics recovered from the published mean and coefficient of variation),
  ``return_share``.
- ``distinct_products`` adds the products a visitor bought live: the build's purchase history
  is not in the service, so a re-bought product counts again until the next build.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from segrec.errors import SegrecError
from segrec.segmentation.explain import assignment_confidence
from segrec.segmentation.metrics import nearest_centroid
from segrec.segmentation.validation import DAYPARTS, SCALING_COLUMNS, scale_values

COUNT_FEATURES: tuple[str, ...] = (
    "count__events", "count__sessions", "count__product_events", "count__priced_product_events",
    "count__group_events", "count__bought_lines",
)
DAYPART_SHARES: tuple[str, ...] = tuple(name.removeprefix("share_") for name, _, _ in DAYPARTS)
DEVICE_SHARES: tuple[str, ...] = ("mobile", "desktop", "tablet")
# The event types the product shares count (customer_features_as_of's product events).
SHARE_EVENT_TYPES: frozenset[str] = frozenset({"product_view", "add_to_cart", "purchase"})
GROUP_PREFIX = "group_share__"
DAY = pd.Timedelta(days=1)
SESSION_GAP = pd.Timedelta(minutes=30)  # the default of var session_inactivity_minutes


@dataclass(frozen=True)
class LiveEvent:
    """One accepted live event as the features need it: canonical ``event_type`` and
    ``device_type``, ``event_time`` in UTC (naive), ``daypart`` of the visitor's local time,
    ``revenue`` in the base currency (negative for a returned line; None without a price)."""

    event_time: pd.Timestamp
    event_type: str
    event_id: str
    product_id: str | None = None
    order_id: str | None = None
    device_type: str | None = None
    daypart: str | None = None
    revenue: float | None = None


@dataclass(frozen=True)
class ProductFacts:
    """What the product shares need of a product (dim_products, product_groups)."""

    price_band: str | None = None
    launched_at: pd.Timestamp | None = None
    group_feature: str | None = None


def daypart_of(hour: int) -> str:
    """The daypart of a local hour (0-23): night, morning, afternoon or evening (macro daypart)."""
    return next(name.removeprefix("share_") for name, start, end in DAYPARTS if start <= hour < end)


def _known(value: float | None) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def _value(features: Mapping[str, float | None], name: str, default: float = 0.0) -> float:
    value = features.get(name)
    return float(value) if _known(value) else default


def _share(old: float | None, old_count: float, hits: float, new_count: float) -> float | None:
    """The share over old_count + new_count events; unchanged (None stays None) without any."""
    total = old_count + new_count
    if total <= 0:
        return old
    return ((float(old) * old_count if _known(old) and old_count > 0 else 0.0) + hits) / total


def live_sessions(events: Sequence[LiveEvent], session_gap: pd.Timedelta) -> list[list[LiveEvent]]:
    """``events`` (time order) split where two events are more than ``session_gap`` apart."""
    sessions: list[list[LiveEvent]] = []
    for event in events:
        if sessions and event.event_time - sessions[-1][-1].event_time <= session_gap:
            sessions[-1].append(event)
        else:
            sessions.append([event])
    return sessions


def _update_shares(f: dict, events: Sequence[LiveEvent], products: Mapping[str, ProductFacts],
                   new_arrival_days: int, session_gap: pd.Timedelta) -> None:
    n_events = _value(f, "count__events")
    dayparts = Counter(e.daypart for e in events)
    for part in DAYPART_SHARES:
        f[f"share_{part}"] = _share(f.get(f"share_{part}"), n_events, dayparts[part], len(events))
    f["count__events"] = n_events + len(events)

    sessions = live_sessions(events, session_gap)
    n_sessions = _value(f, "count__sessions")
    devices = Counter(session[0].device_type for session in sessions)
    for device in DEVICE_SHARES:
        f[f"share_{device}"] = _share(f.get(f"share_{device}"), n_sessions, devices[device], len(sessions))
    converted = sum(any(e.event_type == "purchase" for e in session) for session in sessions)
    f["conversion_rate"] = _share(f.get("conversion_rate"), n_sessions, converted, len(sessions))
    f["count__sessions"] = n_sessions + len(sessions)

    product_events = [(e, products[e.product_id]) for e in events
                      if e.event_type in SHARE_EVENT_TYPES and e.product_id in products]
    n_product, n_priced = _value(f, "count__product_events"), _value(f, "count__priced_product_events")
    priced = [facts.price_band for _, facts in product_events if facts.price_band is not None]
    for band in ("premium", "budget"):
        f[f"{band}_share"] = _share(f.get(f"{band}_share"), n_priced, priced.count(band), len(priced))
    window = pd.Timedelta(days=new_arrival_days)
    new_arrivals = sum(facts.launched_at is not None and e.event_time - window < facts.launched_at <= e.event_time
                       for e, facts in product_events)
    f["new_arrival_share"] = _share(f.get("new_arrival_share"), n_product, new_arrivals, len(product_events))
    f["count__product_events"], f["count__priced_product_events"] = n_product + len(product_events), \
        n_priced + len(priced)

    groups = Counter(facts.group_feature for _, facts in product_events if facts.group_feature is not None)
    n_group = _value(f, "count__group_events")
    live_group = sum(groups.values())
    if live_group:
        for name in {*groups, *(k for k in f if k.startswith(GROUP_PREFIX))}:
            # a group the customer never touched is 0 (wide_features)
            f[name] = _share(_value(f, name), n_group, groups[name], live_group)
        f["count__group_events"] = n_group + live_group


def _gap_moments(n_gaps: int, mean: float | None, cv: float | None) -> tuple[float, float]:
    """(sum, sum of squares) of ``n_gaps`` gaps with that mean and coefficient of variation
    (sample standard deviation over the mean), as customer_features_as_of reports them."""
    if n_gaps <= 0 or not _known(mean):
        return 0.0, 0.0
    variance = (float(cv) * float(mean)) ** 2 if _known(cv) and n_gaps >= 2 else 0.0
    return n_gaps * float(mean), (n_gaps - 1) * variance + n_gaps * float(mean) ** 2


def _update_orders(f: dict, events: Sequence[LiveEvent], as_of: pd.Timestamp | None, now: pd.Timestamp) -> None:
    frequency = int(_value(f, "frequency"))
    # the build's first and last order (else first event) as moments: as_of minus the days
    last = as_of - _value(f, "recency_days") * DAY if as_of is not None and _known(f.get("recency_days")) else None
    first = as_of - _value(f, "tenure_days") * DAY if as_of is not None and _known(f.get("tenure_days")) else None
    if first is None:  # a visitor the build has not seen: since their first live event
        first = last = events[0].event_time

    orders: dict[str, list[LiveEvent]] = {}
    for e in events:
        if e.event_type == "purchase":
            orders.setdefault(e.order_id or e.event_id, []).append(e)
    order_times = sorted(min(e.event_time for e in lines) for lines in orders.values())
    values = [sum(e.revenue or 0.0 for e in lines) for lines in orders.values()]
    bought_lines = [e for e in events if e.event_type == "purchase" and (e.revenue or 0.0) > 0]
    returns = [e for e in events if e.event_type == "return" and (e.revenue or 0.0) < 0]

    n_bought = _value(f, "count__bought_lines")
    bought = _value(f, "avg_line_value") * n_bought
    returned = _value(f, "return_share") * bought
    bought += sum(e.revenue for e in bought_lines)
    returned -= sum(e.revenue for e in returns)
    n_bought += len(bought_lines)
    f["count__bought_lines"] = n_bought
    order_lines = [e for e in events if e.event_type in ("purchase", "return")]
    f["monetary"] = _value(f, "monetary") + sum(e.revenue or 0.0 for e in order_lines)
    if bought > 0:
        f["avg_line_value"] = bought / n_bought
        f["return_share"] = min(max(returned / bought, 0.0), 1.0)
    f["distinct_products"] = _value(f, "distinct_products") + len({e.product_id for e in bought_lines if e.product_id})

    if order_times:
        total_value = _value(f, "avg_order_value") * frequency + sum(values)
        total_lines = _value(f, "avg_order_lines") * frequency + sum(len(lines) for lines in orders.values())
        gap_sum, gap_squares = _gap_moments(frequency - 1, f.get("ipt_mean_days"), f.get("ipt_cv"))
        previous = last if frequency > 0 else None
        for moment in order_times:
            if previous is not None:
                gap = (moment - previous) / DAY
                gap_sum, gap_squares = gap_sum + gap, gap_squares + gap * gap
            previous = moment
        if frequency == 0:
            first = order_times[0]
        frequency += len(order_times)
        last = order_times[-1]
        f["frequency"] = float(frequency)
        f["avg_order_value"], f["avg_order_lines"] = total_value / frequency, total_lines / frequency
        n_gaps = frequency - 1
        if n_gaps >= 1:
            mean = gap_sum / n_gaps
            f["ipt_mean_days"] = mean
            if n_gaps >= 2:
                variance = max((gap_squares - n_gaps * mean * mean) / (n_gaps - 1), 0.0)
                f["ipt_cv"] = math.sqrt(variance) / mean if mean > 0 else None
    elif frequency == 0:
        f["frequency"] = 0.0
    f["recency_days"] = (now - last) / DAY
    f["tenure_days"] = (now - first) / DAY
    f["orders_per_month"] = frequency * 30.0 / max(f["tenure_days"], 30.0)


def update_features(
    features: Mapping[str, float | None],
    events: Sequence[LiveEvent],
    products: Mapping[str, ProductFacts],
    *,
    as_of: pd.Timestamp | None,
    now: pd.Timestamp,
    new_arrival_days: int = 30,
    session_gap: pd.Timedelta = SESSION_GAP,
) -> dict[str, float | None]:
    """A visitor's features of ``now``: ``features`` (as of ``as_of``, the build's moment; empty
    and None for a visitor the build has not seen) updated by the live ``events`` since (see the
    module's docstring). Without events the features are returned as they are."""
    out = dict(features)
    if not events:
        return out
    events = sorted(events, key=lambda e: (e.event_time, e.event_id))
    if now < events[-1].event_time:
        raise SegrecError(f"update_features: now {now} is before the last live event {events[-1].event_time}")
    _update_shares(out, events, products, new_arrival_days, session_gap)
    _update_orders(out, events, as_of, now)
    return out


@dataclass(frozen=True)
class CentroidModel:
    """The kept model of a segmentation run in its scaled space: ``scaling`` (index = features,
    :data:`SCALING_COLUMNS`), ``centroids`` (one row per segment, columns = the same features).
    Built from the rows of mart ``segment_centroids`` by :meth:`from_rows`."""

    run_id: str
    model_version: str
    scaling: pd.DataFrame
    centroids: pd.DataFrame

    @classmethod
    def from_rows(cls, rows: pd.DataFrame) -> CentroidModel:
        """From ``segment_centroids`` rows (run_id, model_version, segment_id, feature,
        centroid_value and the scaling columns) of one run."""
        if rows.empty:
            raise SegrecError("CentroidModel: no centroids (the run recorded no scaling)")
        if rows["run_id"].nunique() != 1:
            raise SegrecError(f"CentroidModel: rows of {rows['run_id'].nunique()} runs, expected one")
        features = list(dict.fromkeys(rows.sort_values("feature_position")["feature"]))
        scaling = rows.drop_duplicates("feature").set_index("feature").loc[features, list(SCALING_COLUMNS)]
        centroids = rows.pivot(index="segment_id", columns="feature", values="centroid_value")[features]
        if centroids.isna().any(axis=None):
            raise SegrecError("CentroidModel: a segment lacks a feature's centroid value")
        return cls(str(rows["run_id"].iloc[0]), str(rows["model_version"].iloc[0]),
                   scaling.astype({"is_log": bool}), centroids.sort_index())

    def assign(self, features: Mapping[str, float | None]) -> tuple[int, float]:
        """(segment_id, confidence) of one visitor's raw ``features``: a missing product-group
        share is 0 (nothing bought there), any other missing feature its impute value."""
        raw = np.array([[_value(features, name, 0.0 if name.startswith(GROUP_PREFIX) else np.nan)
                         for name in self.scaling.index]])
        X = scale_values(raw, self.scaling)
        centroids = self.centroids.to_numpy()
        position = int(nearest_centroid(X, centroids)[0])
        confidence = float(assignment_confidence(X, centroids, [position])[0])
        return int(self.centroids.index[position]), confidence
