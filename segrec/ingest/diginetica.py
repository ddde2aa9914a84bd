"""DIGINETICA (CIKM Cup 2016) item views -> ``product_view`` events with source sessions.

Input: one or more semicolon-separated files ``session_id;user_id;item_id;timeframe;eventdate``
(the camel-case header of the full ``train-item-views.csv`` is accepted too).

Each line is one ``product_view`` event (nothing is dropped):

* ``session_id`` = the source session, kept so our sessionization can be compared with it;
* ``customer_id`` = ``user_id``; ``NA`` means anonymous. ``anonymous_id`` =
  ``session:<session_id>`` on every line of a session with at most one known user, so an
  anonymous session stays one actor and, where a user logs in during the session, identity
  stitching joins the anonymous views before the login to that user. Lines of a session
  shared by several known users carry ``anonymous_id`` only when they have no user
  (stitching would otherwise merge the users; counted as ``multi_user_session``).
* ``event_time``: the source has no wall clock, only ``eventdate`` (a day) and
  ``timeframe`` (milliseconds since the session started). A session is placed at the
  earliest start consistent with the dates of all its lines, never before midnight of its
  first date: ``start = max(first date, max over lines of (eventdate - timeframe))``;
  ``event_time = start + timeframe`` (millisecond text). Within a session order and gaps
  are exact; the position of a session within its day is not known, so sessions of one
  user on one day may overlap in time. Lines after midnight in a session that started the
  day before are counted as ``session_spanning_midnight``; lines out of time order in the
  file (an earlier timeframe after a later one) as ``out_of_order``; the output is sorted by
  session and time. A missing or unparseable date or timeframe gives an empty
  ``event_time`` (staging: ``invalid_event_time``; counted as ``unparseable_time``).
* ``event_id`` = md5 of the line content and its occurrence number (repeated views of an
  item at different times are separate events); ``loaded_at`` = the next midnight (UTC).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from segrec.ingest.common import (
    IngestResult,
    Source,
    canonical_columns,
    content_ids,
    count_true,
    iso_text,
    make_result,
    next_midnight,
    parse_number,
    read_text_file,
)

NAME = "diginetica"
VIEW_COLUMNS = ("session_id", "user_id", "item_id", "timeframe", "eventdate")
COLUMN_ALIASES = {
    "session_id": "session_id", "sessionId": "session_id", "user_id": "user_id", "userId": "user_id",
    "item_id": "item_id", "itemId": "item_id", "timeframe": "timeframe", "eventdate": "eventdate",
}


def read(paths: Sequence[Path]) -> pd.DataFrame:
    """The view lines of all files, as text columns :data:`VIEW_COLUMNS` plus ``part``."""
    frames = [
        canonical_columns(read_text_file(p, sep=";", na_values=("NA",)), COLUMN_ALIASES, VIEW_COLUMNS, str(p))
        .assign(part=p.name)
        for p in paths
    ]
    return pd.concat(frames, ignore_index=True).astype("string")


def session_start(session: pd.Series, day: pd.Series, offset: pd.Series) -> pd.Series:
    """Per line, the start of its session: the earliest start consistent with every line's
    date (``start + offset`` falls on the line's day), and not before the first date."""
    bounds = pd.DataFrame({"first": day, "latest": day - offset})
    by_session = bounds.groupby(session.to_numpy(), dropna=False)
    first = by_session["first"].transform("min")
    latest = by_session["latest"].transform("max")
    return pd.concat([first, latest], axis=1).max(axis=1)


def to_raw(views: pd.DataFrame) -> IngestResult:
    """Map item-view lines to raw ``events`` (``product_view`` with source session ids)."""
    views = views.apply(lambda c: c.str.strip()).reset_index(drop=True)
    day = pd.to_datetime(views["eventdate"], format="%Y-%m-%d", errors="coerce")
    offset = pd.to_timedelta(parse_number(views["timeframe"]), unit="ms")
    start = session_start(views["session_id"], day, offset)
    event_time = start + offset

    users = views.groupby("session_id", dropna=False)["user_id"].transform("nunique")
    anonymous_id = ("session:" + views["session_id"]).where((users <= 1) | views["user_id"].isna())
    events = pd.DataFrame({
        "event_id": content_ids(views, VIEW_COLUMNS, NAME, within=views["part"]),
        "event_time": iso_text(event_time),
        "loaded_at": next_midnight(event_time),
        "event_type": "product_view",
        "customer_id": views["user_id"],
        "anonymous_id": anonymous_id,
        "session_id": views["session_id"],
        "product_id": views["item_id"],
    })
    # Output sorted by session (numerically where the ids are numbers) and time.
    order = np.lexsort((
        offset.to_numpy(), views["session_id"].fillna("").to_numpy(),
        parse_number(views["session_id"]).to_numpy(),
    ))
    previous = offset.groupby(views["session_id"], dropna=False).cummax().groupby(views["session_id"]).shift()
    special = count_true(
        anonymous=views["user_id"].isna(),
        multi_user_session=users > 1,
        session_spanning_midnight=event_time.dt.normalize() > start.dt.normalize(),
        out_of_order=offset < previous,
        unparseable_time=event_time.isna(),
    )
    return make_result(
        NAME, {"events": events.iloc[order].reset_index(drop=True)},
        rows_read=views["part"].value_counts(sort=False).to_dict(), special_cases=special,
    )


SOURCE = Source(
    name=NAME,
    description="DIGINETICA CIKM Cup 2016 item views (semicolon CSV): product views with source sessions",
    read=read,
    to_raw=to_raw,
)
