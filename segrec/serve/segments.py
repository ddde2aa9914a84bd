"""A visitor's segment now: the published one, or, with live events since the build, the
nearest kept centroid of their updated features (segrec.segmentation.online), the online
version of what the warehouse does between refits."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import pandas as pd

from segrec.segmentation.online import LiveEvent, update_features
from segrec.serve.store import ServingBuild


def live_segment(
    build: ServingBuild,
    customer_key: str | None,
    events: Sequence[LiveEvent],
    now: datetime,
    *,
    new_arrival_days: int,
    session_gap: timedelta,
) -> dict | None:
    """``{segment_id, segment_name, confidence}`` of a visitor with live ``events`` (a customer
    the build knows, by ``customer_key``, or a new visitor, None), or None without events or
    without a segment model in the build."""
    if build.segment_model is None:
        return None
    known = build.segment_features.features(customer_key)
    as_of = build.segment_features.as_of if known else None
    # events the build already holds (posted before it was published) are in its features
    events = [e for e in events if as_of is None or e.event_time > as_of]
    if not events:
        return None
    features = update_features(
        known, events, build.product_facts, as_of=as_of,
        now=max(pd.Timestamp(now), max(e.event_time for e in events)), new_arrival_days=new_arrival_days,
        session_gap=pd.Timedelta(session_gap),
    )
    segment_id, confidence = build.segment_model.assign(features)
    names = {row["segment_id"]: row.get("segment_name") for row in build.segment_profiles}
    return {"segment_id": segment_id, "segment_name": names.get(segment_id), "confidence": confidence}
