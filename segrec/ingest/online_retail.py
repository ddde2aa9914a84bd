"""UCI Online Retail and Online Retail II: invoice lines -> purchase / return events.

Inputs: Parquet, CSV (optionally gzipped) or xlsx files, any number at once. Each xlsx
sheet, each value of a CSV ``source_sheet`` column, and each other file is one *part*.
Column names of both versions are accepted (InvoiceNo/Invoice, UnitPrice/Price,
CustomerID/Customer ID, ...).

Rules, applied to each source line in this order (the first that applies wins):

1. ``overlap_duplicate`` (dropped): the parts are overlapping extracts of one ledger (the
   Online Retail II 2009-2010 sheet and Online Retail both hold 2010-12-01..09). A line is
   identified by its content (invoice, stock code, quantity, invoice date, price, customer,
   country; not the description, which differs between versions: ``nan`` text, mojibake)
   plus its occurrence number among identical lines of its part. The same (content,
   occurrence) in a later part is the same line read again. Identical lines within one
   part are kept (two scans of an item on one invoice are two lines), so the kept count of
   a line is the largest count in any one part.
2. ``bad_debt_adjustment`` (dropped): ``A`` invoices ("Adjust bad debt", stock code ``B``)
   are accounting write-offs, not customer transactions.
3. ``test_line`` (dropped): stock codes ``TEST001``, ``TEST002``, ... are test orders.
4. ``stock_adjustment`` (dropped): a non-cancellation line with price 0 and no customer is
   an inventory movement ("damaged", "found", "check", negative quantities), not a sale.

Every other line becomes one event with ``order_id`` = invoice and ``currency`` = GBP:

* ``return`` for ``C`` invoices (cancellations) and negative quantities, with the
  quantity made positive, so revenue nets out downstream; a ``C`` line with a positive
  quantity contradicts itself and is written with a negative quantity, which staging
  quarantines as ``invalid_quantity`` (counted as ``cancellation_with_positive_quantity``);
* ``purchase`` otherwise. Zero or negative prices are written as they are (staging
  quarantines them as ``invalid_price``; counted as ``zero_price`` / ``negative_price``).
* ``product_id`` = upper-cased stock code when the code names goods: ``\\d{5}[A-Z]*``
  (``85123A``; lower-case variants are the same item), ``DCGS...`` (dotcom gift shop
  items), ``SP\\d+`` and ``PADS``. Other codes are charges written as order-level events
  (no product: they count for revenue and RFM, never for product models), counted as
  ``charge:<kind>`` with the kinds of :data:`CHARGE_CODES`; unknown codes count as
  ``charge:unknown``.
* no CustomerID -> ``anonymous_id`` = ``invoice:<invoice>``, so an anonymous order stays one
  actor (counted as ``anonymous``).
* ``event_time``: InvoiceDate is UK local time: converted from Europe/London to UTC (GMT in
  winter, BST = UTC+1 in summer). An ambiguous time (the repeated hour when clocks go back)
  is read as BST, a time that does not exist (the skipped hour in spring) as GMT. An
  unparseable date is written empty (staging: ``invalid_event_time``).
* a quantity, price or date that is missing or not a number/date is written as it is
  (counted as ``unparseable_quantity`` / ``unparseable_price`` / ``unparseable_invoice_date``)
  and left to staging's checks.
* ``event_id`` = md5 of the line identity of rule 1, so it is the same whichever part a
  line was read from; ``loaded_at`` = the midnight (UTC) after the event.

Also written: ``products``, the goods with at least one written line (upper-cased stock
code; name = most frequent description; price = most frequent positive purchase price;
``is_active`` = a purchase in the last ``active_days`` of the data), and ``customers`` (id;
country = most frequent country of the id's written lines). Ties go to the smallest value.
"""

from __future__ import annotations

import re
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
    data_suffix,
    iso_text,
    make_result,
    map_unique,
    modal_value,
    next_midnight,
    number_text,
    parse_number,
    read_text_file,
    read_xlsx_sheets,
)

NAME = "online_retail"
CURRENCY = "GBP"
SOURCE_TIMEZONE = "Europe/London"
LINE_COLUMNS = (
    "invoice", "stock_code", "description", "quantity", "invoice_date", "unit_price", "customer_id",
    "country",
)
COLUMN_ALIASES = {
    "InvoiceNo": "invoice", "Invoice": "invoice", "StockCode": "stock_code", "Description": "description",
    "Quantity": "quantity", "InvoiceDate": "invoice_date", "UnitPrice": "unit_price", "Price": "unit_price",
    "CustomerID": "customer_id", "Customer ID": "customer_id", "Country": "country",
}
SHEET_COLUMN = "source_sheet"  # the CSV export of the workbook names each line's sheet here
# The content that identifies a line across parts (rule 1 of the module docstring).
IDENTITY_COLUMNS = (
    "invoice", "stock_code", "quantity", "invoice_date", "unit_price", "customer_id", "country",
)
# Stock codes, matched whole and ignoring case. Goods first; the rest are charges by kind.
PRODUCT_CODES = r"\d{5}[A-Z]*|DCGS\w+|SP\d+|PADS"
TEST_CODES = r"TEST\d*"
CHARGE_CODES: tuple[tuple[str, str], ...] = (
    ("postage", r"POST|DOT|C2"),          # postage, dotcom postage, carriage
    ("manual", r"M"),                     # manual price lines
    ("discount", r"D"),
    ("samples", r"S"),
    ("bank_charges", r"BANK CHARGES"),
    ("marketplace_fee", r"AMAZONFEE"),
    ("charity_commission", r"CRUK"),
    ("adjustment", r"ADJUST\d*"),
    ("gift_voucher", r"GIFT(_\d+_\d+)?"),  # gift_0001_20 = a GBP 20 voucher
    ("bad_debt", r"B"),                   # only on A invoices, which rule 2 drops
)
DROP_REASONS = ("overlap_duplicate", "bad_debt_adjustment", "test_line", "stock_adjustment")
MISSING_TEXT = ("nan", "NaN", "None")  # missing descriptions written as text by pandas exports


def read(paths: Sequence[Path]) -> pd.DataFrame:
    """Invoice lines of all parts as text columns :data:`LINE_COLUMNS` plus ``part``."""
    parts: list[tuple[str, pd.DataFrame]] = []
    for path in paths:
        if data_suffix(path) == ".xlsx":
            parts += [(f"{path.name}[{sheet}]", frame) for sheet, frame in read_xlsx_sheets(path).items()]
            continue
        frame = read_text_file(path)
        if SHEET_COLUMN in frame.columns:
            parts += [
                (f"{path.name}[{sheet}]", group.drop(columns=SHEET_COLUMN))
                for sheet, group in frame.groupby(SHEET_COLUMN, sort=False, dropna=False)
            ]
        else:
            parts.append((path.name, frame))
    labels = [label if [x for x, _ in parts].count(label) == 1 else f"{label}#{i + 1}"
              for i, (label, _) in enumerate(parts)]
    lines = [
        canonical_columns(frame, COLUMN_ALIASES, LINE_COLUMNS, label).assign(part=label)
        for label, (_, frame) in zip(labels, parts, strict=True)
    ]
    return pd.concat(lines, ignore_index=True).astype("string")


def london_to_utc(local: pd.Series) -> pd.Series:
    """Naive UK wall-clock times -> naive UTC (ambiguous hour read as BST, skipped hour as GMT)."""
    aware = local.dt.tz_localize(
        SOURCE_TIMEZONE,
        ambiguous=np.ones(len(local), dtype=bool),  # True = daylight time, for ambiguous times only
        nonexistent=pd.Timedelta(hours=1),          # 01:30 in the gap -> 02:30 BST = 01:30 UTC
    )
    return aware.dt.tz_convert("UTC").dt.tz_localize(None)


def stock_code_kind(codes: pd.Series) -> pd.Series:
    """``product``, ``test`` or ``charge:<kind>`` for each stock code (see module docstring)."""
    patterns = [("product", PRODUCT_CODES), ("test", TEST_CODES)]
    patterns += [(f"charge:{name}", pattern) for name, pattern in CHARGE_CODES]
    compiled = [(name, re.compile(pattern, re.IGNORECASE)) for name, pattern in patterns]

    def kind_of(code: str) -> str:
        return next((name for name, regex in compiled if regex.fullmatch(code)), "charge:unknown")

    kind = map_unique(codes, lambda unique: [kind_of(c) for c in unique])
    return kind.fillna("charge:unknown")


def _normalize(lines: pd.DataFrame) -> pd.DataFrame:
    lines = lines.apply(lambda c: c.str.strip())
    lines["description"] = lines["description"].mask(lines["description"].isin(MISSING_TEXT))
    # CustomerID is a float in some exports (17850.0).
    lines["customer_id"] = lines["customer_id"].str.replace(r"\.0+$", "", regex=True)
    return lines.mask(lines == "")


def to_raw(lines: pd.DataFrame, *, active_days: int = 90) -> IngestResult:
    """Map invoice lines (from :func:`read`) to raw ``events``, ``products`` and ``customers``."""
    lines = _normalize(lines)
    quantity = parse_number(lines["quantity"])
    price = parse_number(lines["unit_price"])
    local = pd.to_datetime(lines["invoice_date"], format="ISO8601", errors="coerce")
    identity = lines.assign(
        quantity=number_text(quantity).fillna(lines["quantity"]),
        unit_price=number_text(price).fillna(lines["unit_price"]),
        invoice_date=local.dt.strftime("%Y-%m-%d %H:%M:%S").astype("string").fillna(lines["invoice_date"]),
    )
    event_id = content_ids(identity, IDENTITY_COLUMNS, NAME, within=lines["part"])
    invoice = lines["invoice"].fillna("").str.upper()
    cancel = invoice.str.startswith("C")
    kind = stock_code_kind(lines["stock_code"])
    reason = pd.Series(np.select(
        [
            event_id.duplicated().to_numpy(),
            invoice.str.startswith("A").to_numpy(),
            (kind == "test").to_numpy(),
            (~cancel & (price == 0) & lines["customer_id"].isna()).to_numpy(),
        ],
        DROP_REASONS,
        default="",
    ), index=lines.index)
    keep = reason == ""

    lines, quantity, price, kind, cancel = (x[keep] for x in (lines, quantity, price, kind, cancel))
    utc = london_to_utc(local[keep])
    is_return = cancel | (quantity < 0)
    self_contradicting = cancel & (quantity > 0)
    signed = quantity.abs().where(~self_contradicting, -quantity)
    product_id = lines["stock_code"].str.upper().where(kind == "product")
    anonymous = lines["customer_id"].isna()
    events = pd.DataFrame({
        "event_id": event_id[keep],
        "event_time": iso_text(utc),
        "loaded_at": next_midnight(utc),
        "event_type": np.where(is_return, "return", "purchase"),
        "customer_id": lines["customer_id"],
        "anonymous_id": ("invoice:" + lines["invoice"]).where(anonymous),
        "product_id": product_id,
        "order_id": lines["invoice"],
        "quantity": number_text(signed).fillna(lines["quantity"]),
        "unit_price": number_text(price).fillna(lines["unit_price"]),
        "currency": CURRENCY,
        "country": lines["country"],
    }).reset_index(drop=True)

    special = count_true(
        anonymous=anonymous,
        zero_price=price == 0,
        negative_price=price < 0,
        cancellation_with_positive_quantity=self_contradicting,
        zero_quantity=quantity == 0,
        unparseable_quantity=quantity.isna(),
        unparseable_price=price.isna(),
        unparseable_invoice_date=utc.isna(),
    )
    special |= {k: int(v) for k, v in kind[kind != "product"].value_counts().sort_index().items()}
    kept_lines = lines.assign(product_id=product_id, price=price, utc=utc, is_return=is_return)
    tables = {
        "events": events,
        "products": _products(kept_lines, active_days=active_days),
        "customers": _customers(kept_lines),
    }
    return make_result(
        NAME, tables,
        rows_read=identity["part"].value_counts(sort=False).to_dict(),
        special_cases=special,
        dropped={r: int((reason == r).sum()) for r in DROP_REASONS},
    )


def _products(lines: pd.DataFrame, *, active_days: int) -> pd.DataFrame:
    goods = lines[lines["product_id"].notna()]
    purchases = goods[~goods["is_return"]]
    price = modal_value(purchases[purchases["price"] > 0], "product_id", "price")
    last_purchase = purchases.groupby("product_id")["utc"].max()
    cutoff = lines["utc"].max() - pd.Timedelta(days=active_days)
    ids = pd.Index(sorted(goods["product_id"].unique()), name="product_id")
    return pd.DataFrame({
        "product_id": ids,
        "name": modal_value(goods, "product_id", "description").reindex(ids).to_numpy(),
        "price": number_text(price.reindex(ids)).to_numpy(),
        "is_active": (last_purchase.reindex(ids) >= cutoff).to_numpy(),
    })


def _customers(lines: pd.DataFrame) -> pd.DataFrame:
    country = modal_value(lines, "customer_id", "country")
    ids = pd.Index(sorted(lines["customer_id"].dropna().unique()), name="customer_id")
    return pd.DataFrame({"customer_id": ids, "country": country.reindex(ids).to_numpy()})


SOURCE = Source(
    name=NAME,
    description="UCI Online Retail / Online Retail II invoice lines (xlsx, csv(.gz), parquet; several parts)",
    read=read,
    to_raw=to_raw,
)
