"""REES46 multi-category store clickstream -> product events, with store sessions and products.

Input: one or more comma CSV files (``2019-Oct.csv`` and its cuts) with columns
``event_time,event_type,product_id,category_id,category_code,brand,price,user_id,user_session``.

Each line is one event (nothing is dropped):

* ``event_type``: ``view`` -> ``product_view``, ``cart`` -> ``add_to_cart``,
  ``remove_from_cart`` -> ``remove_from_cart``, ``purchase`` -> ``purchase``; any other value
  is written as it is (staging quarantines it as ``unknown_event_type``; counted);
* ``event_time``: the text ``YYYY-MM-DD HH:MM:SS UTC`` is UTC already;
* ``customer_id`` = ``user_id``; ``session_id`` = ``user_session`` (the store's own session,
  kept for comparison with ours); a line without ``user_id`` gets ``anonymous_id`` =
  ``session:<user_session>``;
* ``unit_price`` = ``price`` on every line (the price shown); currency USD (the store's
  prices as published; no currency is stated upstream). ``quantity`` is not in the source:
  left empty, which staging reads as 1 (one line per product bought). A purchase with price
  0 is written as it is (staging: ``invalid_price``; counted as ``zero_price_purchase``);
* ``order_id`` on purchases only: there is no order id upstream, and the purchase lines of
  one session form one order, so ``order_id`` = ``<user_id>:<user_session>``;
* ``event_id`` = ``rees46:<file stem>:<line number>`` (zero-padded): several events share a
  second, and staging breaks time ties by ``event_id``, so ids in file order keep the
  store's order (view before cart before purchase); ``loaded_at`` = the next midnight.

Also written: ``products`` (id; ``category_path`` from the dotted ``category_code``,
``electronics.smartphone`` -> ``electronics > smartphone``; brand; price = most frequent
price; each the most frequent value over the product's lines).
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
    count_true,
    data_suffix,
    iso_text,
    make_result,
    modal_value,
    next_midnight,
    number_text,
    parse_number,
    read_text_file,
)

NAME = "rees46"
CURRENCY = "USD"
EVENT_COLUMNS = (
    "event_time", "event_type", "product_id", "category_id", "category_code", "brand", "price", "user_id",
    "user_session",
)
EVENT_TYPES = {
    "view": "product_view", "cart": "add_to_cart", "remove_from_cart": "remove_from_cart",
    "purchase": "purchase",
}


def read(paths: Sequence[Path]) -> pd.DataFrame:
    """The event lines of all files as text columns :data:`EVENT_COLUMNS`, plus ``part``
    (file stem) and ``line`` (1-based line number within the file, header excluded)."""
    frames = []
    for path in paths:
        frame = read_text_file(path)
        frame = canonical_columns(frame, {c: c for c in EVENT_COLUMNS}, EVENT_COLUMNS, str(path))
        stem = path.name[: -len(data_suffix(path))] if data_suffix(path) else path.name
        frames.append(frame.assign(part=stem, line=np.arange(1, len(frame) + 1)))
    return pd.concat(frames, ignore_index=True)


def to_raw(lines: pd.DataFrame) -> IngestResult:
    """Map clickstream lines to raw ``events`` and ``products``."""
    text = lines[list(EVENT_COLUMNS)].apply(lambda c: c.astype("string").str.strip())
    stamp = text["event_time"].str.replace(r"\s*UTC$", "", regex=True)
    when = pd.to_datetime(stamp, format="ISO8601", utc=True, errors="coerce").dt.tz_localize(None)
    source_type = text["event_type"].str.lower()
    event_type = source_type.map(EVENT_TYPES).fillna(text["event_type"])
    price = parse_number(text["price"])
    is_purchase = event_type == "purchase"
    width = max(8, len(str(len(lines))))
    events = pd.DataFrame({
        "event_id": NAME + ":" + lines["part"].astype("string") + ":"
        + lines["line"].astype("string").str.zfill(width),
        "event_time": iso_text(when),
        "loaded_at": next_midnight(when),
        "event_type": event_type,
        "customer_id": text["user_id"],
        "anonymous_id": ("session:" + text["user_session"]).where(text["user_id"].isna()),
        "session_id": text["user_session"],
        "product_id": text["product_id"],
        "order_id": (text["user_id"] + ":" + text["user_session"]).where(is_purchase),
        "unit_price": number_text(price).fillna(text["price"]),
        "currency": CURRENCY,
    })
    special = count_true(
        anonymous=text["user_id"].isna(),
        unknown_event_type=~source_type.isin(list(EVENT_TYPES)),
        zero_price_purchase=is_purchase & (price == 0),
        zero_price_other=~is_purchase & (price == 0),
        missing_category_code=text["category_code"].isna(),
        missing_brand=text["brand"].isna(),
        unparseable_event_time=when.isna(),
    )
    return make_result(
        NAME, {"events": events, "products": _products(text.assign(price=price))},
        rows_read=lines["part"].value_counts(sort=False).to_dict(), special_cases=special,
    )


def category_path(code: pd.Series) -> pd.Series:
    """``electronics.audio.headphone`` -> ``electronics > audio > headphone``."""
    return code.str.split(".").str.join(" > ")


def _products(lines: pd.DataFrame) -> pd.DataFrame:
    # Numeric ids in numeric order (shorter first), the rest by text.
    ids = sorted(lines["product_id"].dropna().unique(), key=lambda v: (len(v), v))
    ids = pd.Index(ids, name="product_id")

    def modal(column: str) -> np.ndarray:
        return modal_value(lines, "product_id", column).reindex(ids).to_numpy()

    return pd.DataFrame({
        "product_id": ids,
        "category_path": category_path(pd.Series(modal("category_code"), dtype="string")).to_numpy(),
        "brand": modal("brand"),
        "price": number_text(pd.Series(modal("price"), dtype="float64")).to_numpy(),
    })


SOURCE = Source(
    name=NAME,
    description="REES46 multi-category store clickstream (CSV): views, carts, purchases, store sessions",
    read=read,
    to_raw=to_raw,
)
