"""CDNOW (Fader & Hardie): order-level purchases for RFM and customer value, no products.

Input: one file, any of the published layouts (a directory is refused when it holds the
master file twice, and the 1/10 sample is a subset of the master, so never pass both):

* ``CDNOW_master.csv(.gz)``: comma CSV with ``customer_id,date,...,number_of_cds,dollar_value``;
* ``CDNOW_master.txt(.gz)``: whitespace-aligned, with or without the header line
  ``customer_id date number_of_cds dollar_value``;
* ``CDNOW_sample.txt(.gz)``: whitespace-aligned, no header, five columns: master customer
  id, sample customer id, date, number of CDs, dollar value. The master id is used, so a
  customer has the same id in both files.

Each line is one ``purchase`` event (nothing is dropped):

* ``customer_id`` as in the file (zero-padded text, ``00001``);
* ``order_id`` = ``<customer>-<YYYYMMDD>-<n>``, synthesized: ``n`` numbers the customer's
  orders of that day in file order (several orders a day are plausible, so the 255 exact
  duplicate lines stay separate orders);
* ``event_time`` = the day at 00:00 (the source has no time of day and no time zone;
  naive means UTC); ``loaded_at`` = the next midnight;
* ``product_id`` empty (order-level purchase: counts for RFM and customer value, never for
  product models); ``quantity`` = number of CDs; ``unit_price`` = dollar value / CDs, so
  quantity x unit_price is the order value (to floating-point rounding); currency USD.
  Zero-value orders (free or promotional, 80 lines) are written with price 0, which staging
  quarantines as ``invalid_price`` (counted as ``zero_value_order``).

Also written: ``customers`` (the distinct ids, nothing else is known).
"""

from __future__ import annotations

import gzip
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from segrec.errors import SegrecError
from segrec.ingest.common import (
    IngestResult,
    Source,
    canonical_columns,
    content_ids,
    count_true,
    data_suffix,
    iso_text,
    make_result,
    next_midnight,
    number_text,
    occurrence,
    parse_number,
    read_text_file,
)

NAME = "cdnow"
CURRENCY = "USD"
ORDER_COLUMNS = ("customer_id", "date", "number_of_cds", "dollar_value")
MASTER_COLUMNS = ORDER_COLUMNS
SAMPLE_COLUMNS = ("customer_id", "sample_customer_id", "date", "number_of_cds", "dollar_value")


def _first_line(path: Path) -> str:
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8-sig") as handle:
        return handle.readline()


def read(paths: Sequence[Path]) -> pd.DataFrame:
    """The order lines as text columns :data:`ORDER_COLUMNS` (layout detected per file)."""
    if len(paths) != 1:
        raise SegrecError(
            f"cdnow: expected one file, got {len(paths)} ({', '.join(p.name for p in paths)}); "
            "the sample is a subset of the master file, so reading both would double count"
        )
    path = paths[0]
    if data_suffix(path) == ".parquet" or "," in _first_line(path):
        frame = read_text_file(path)
    else:
        tokens = _first_line(path).split()
        if tokens[:1] == ["customer_id"]:
            frame = read_text_file(path, sep=r"\s+")
        elif len(tokens) == len(SAMPLE_COLUMNS):
            frame = read_text_file(path, sep=r"\s+", header=None, names=SAMPLE_COLUMNS)
        else:
            frame = read_text_file(path, sep=r"\s+", header=None, names=MASTER_COLUMNS)
    return canonical_columns(frame, {c: c for c in ORDER_COLUMNS}, ORDER_COLUMNS, str(path))


def to_raw(orders: pd.DataFrame) -> IngestResult:
    """Map CDNOW order lines to raw ``events`` (order-level purchases) and ``customers``."""
    orders = orders.apply(lambda c: c.str.strip()).reset_index(drop=True)
    day = pd.to_datetime(orders["date"], format="%Y%m%d", errors="coerce")
    cds = parse_number(orders["number_of_cds"])
    value = parse_number(orders["dollar_value"])
    per_unit = cds > 0  # otherwise the quantity is written as it is and staging rejects it
    unit_price = value.where(~per_unit, value / cds)
    sequence = occurrence(orders["customer_id"].fillna("") + "|" + orders["date"].fillna(""))
    # Ids from canonical numbers (10.00 and 10.0 are one value), the same in every layout.
    identity = orders.assign(
        number_of_cds=number_text(cds).fillna(orders["number_of_cds"]),
        dollar_value=number_text(value).fillna(orders["dollar_value"]),
    )
    events = pd.DataFrame({
        "event_id": content_ids(identity, ORDER_COLUMNS, NAME),
        "event_time": iso_text(day),
        "loaded_at": next_midnight(day),
        "event_type": "purchase",
        "customer_id": orders["customer_id"],
        "order_id": orders["customer_id"] + "-" + orders["date"] + "-" + sequence.astype("string"),
        "quantity": number_text(cds).fillna(orders["number_of_cds"]),
        "unit_price": number_text(unit_price).fillna(orders["dollar_value"]),
        "currency": CURRENCY,
    })
    customers = pd.DataFrame({"customer_id": np.sort(orders["customer_id"].dropna().unique())})
    special = count_true(
        zero_value_order=value == 0,
        invalid_number_of_cds=~per_unit,
        unparseable_date=day.isna(),
        unparseable_value=value.isna(),
        same_day_repeat_order=sequence > 1,
    )
    return make_result(
        NAME, {"events": events, "customers": customers},
        rows_read={"orders": len(orders)}, special_cases=special,
    )


SOURCE = Source(
    name=NAME,
    description="CDNOW order log (master csv/txt or the 1/10 sample txt): order-level purchases",
    read=read,
    to_raw=to_raw,
)
