"""Online Retail adapter on hand-written invoice lines (tests/fixtures/ingest/online_retail).

The two fixture files mimic the two versions: the Online Retail II 2009-2010 sheet and
Online Retail 2010-2011, overlapping on 2010-12-02..03 (invoices 900008 twice, 900009).
"""

from __future__ import annotations

import gzip
from pathlib import Path

import pandas as pd
import pytest

from segrec.ingest import ingest
from segrec.ingest.online_retail import london_to_utc, stock_code_kind

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ingest" / "online_retail"
SHEET_2009 = FIXTURES / "online_retail_II_2009_2010.csv"
SHEET_2010 = FIXTURES / "online_retail_2010_2011.csv"

# (order_id, product_id, event_type, quantity, unit_price, event_time UTC, customer_id, anonymous_id)
EXPECTED_EVENTS = [
    ("900001", "30001", "purchase", "6", "2.1", "2010-03-27T10:15:00", "10001", None),   # GMT
    ("900002", "30002A", "purchase", "12", "0.85", "2010-03-29T09:15:00", "10001", None),  # BST
    ("900003", None, "purchase", "1", "18", "2010-05-04T11:00:00", "10002", None),       # postage
    ("C900004", "30001", "return", "2", "2.1", "2010-05-05T08:00:00", "10001", None),
    ("900006", "30003", "purchase", "4", "1.25", "2010-10-30T22:30:00", None, "invoice:900006"),
    ("900007", "30003", "purchase", "4", "1.25", "2010-10-31T23:30:00", None, "invoice:900007"),  # GMT again
    ("900008", "30002A", "purchase", "24", "0.85", "2010-12-02T14:00:00", "10003", None),
    ("900008", "30002A", "purchase", "24", "0.85", "2010-12-02T14:00:00", "10003", None),  # kept twice
    ("900009", None, "purchase", "1", "0", "2010-12-03T10:00:00", "10003", None),        # manual, price 0
    ("900021", None, "purchase", "1", "15", "2011-02-01T10:00:00", "10002", None),       # bank charges
    ("900012", "30001", "purchase", "3", "2.1", "2011-03-26T09:00:00", "10001", None),
    ("900013", "30001", "purchase", "3", "2.25", "2011-03-28T08:00:00", "10001", None),
    ("C900014", None, "return", "1", "5", "2011-04-01T09:00:00", "10001", None),         # discount
    ("C900015", "30002A", "return", "-3", "0.85", "2011-05-01T09:00:00", "10003", None),  # contradicts itself
    ("900016", "DCGS0101", "purchase", "1", "3", "2011-06-01T09:00:00", None, "invoice:900016"),
    ("900017", "30004", "purchase", "2", "0", "2011-11-30T15:00:00", "10004", None),  # price 0: quarantined
    ("900018", None, "purchase", "1", "17.39", "2011-12-01T12:00:00", None, "invoice:900018"),  # voucher
    ("900019", "30004", "purchase", "1", "4.95", "2011-12-05T10:00:00", "10004", None),
]
EVENT_FIELDS = [
    "order_id", "product_id", "event_type", "quantity", "unit_price", "event_time", "customer_id",
    "anonymous_id",
]


def _rows(frame: pd.DataFrame, columns: list[str]) -> list[tuple]:
    return [tuple(None if pd.isna(v) else v for v in row) for row in frame[columns].itertuples(index=False)]


def _typed(csv: Path) -> pd.DataFrame:
    """A fixture with the column types of the published Parquet files."""
    frame = pd.read_csv(csv, dtype=str, keep_default_na=False, na_values=[""])
    price = "UnitPrice" if "UnitPrice" in frame else "Price"
    customer = "CustomerID" if "CustomerID" in frame else "Customer ID"
    return frame.astype({"Quantity": "int64", price: "float64", customer: "float64"})


def _parquet_parts(tmp_path: Path) -> list[Path]:
    old, new = tmp_path / "sheet_2009.parquet", tmp_path / "retail_2010.parquet"
    # Online Retail II stores Customer ID as an integer, Online Retail as a float.
    _typed(SHEET_2009).astype({"Customer ID": "Int64"}).to_parquet(old)
    _typed(SHEET_2010).to_parquet(new)
    return [old, new]


@pytest.fixture(scope="module")
def result():
    return ingest("online_retail", [SHEET_2009, SHEET_2010])


def test_events_exact_rows(result):
    events = result.tables["events"]
    assert _rows(events, EVENT_FIELDS) == EXPECTED_EVENTS
    assert set(events["currency"]) == {"GBP"}
    assert events["event_id"].is_unique


def test_loaded_at_is_next_utc_midnight(result):
    events = result.tables["events"].set_index("order_id")
    assert events.loc["900006", "loaded_at"] == pd.Timestamp("2010-10-31")  # 23:30 BST = 22:30 UTC
    assert events.loc["900007", "loaded_at"] == pd.Timestamp("2010-11-01")


def test_summary_accounts_for_every_line(result):
    summary = result.summary
    assert summary.rows_read == {SHEET_2009.name: 12, SHEET_2010.name: 13}
    assert summary.dropped == {
        "overlap_duplicate": 3, "bad_debt_adjustment": 1, "test_line": 1, "stock_adjustment": 2,
    }
    assert summary.rows_written == {"events": 18, "products": 5, "customers": 4}
    assert summary.unaccounted == 0
    assert summary.events_by_type == {"purchase": 15, "return": 3}
    assert summary.special_cases == {
        "anonymous": 4, "zero_price": 2, "cancellation_with_positive_quantity": 1,
        "charge:bank_charges": 1, "charge:discount": 1, "charge:gift_voucher": 1, "charge:manual": 1,
        "charge:postage": 1,
    }


def test_products_and_customers(result):
    products = result.tables["products"]
    assert _rows(products, ["product_id", "name", "price", "is_active"]) == [
        ("30001", "BLUE TEA TOWEL", "2.1", False),       # modal price 2.10 (2x) over 2.25 (1x)
        ("30002A", "RED PAPER LANTERN", "0.85", False),  # 30002a is the same item
        ("30003", "WOODEN STAR ORNAMENT", "1.25", False),  # the 'nan' description is missing
        ("30004", "GREEN GLASS VASE", "4.95", True),     # bought in the last 90 days; price 0 ignored
        ("DCGS0101", "BOXED SOAP DISH", "3", False),
    ]
    customers = result.tables["customers"]
    assert _rows(customers, ["customer_id", "country"]) == [
        ("10001", "United Kingdom"), ("10002", "France"), ("10003", "Germany"), ("10004", "United Kingdom"),
    ]


def test_parquet_csv_sheets_and_xlsx_give_identical_events(tmp_path, result):
    expected = result.tables["events"]
    parquet = ingest("online_retail", _parquet_parts(tmp_path)).tables["events"]
    pd.testing.assert_frame_equal(parquet, expected)

    # The CSV export of the workbook: both sheets in one gzipped file with a source_sheet column.
    old, new = (pd.read_csv(p, dtype=str, keep_default_na=False) for p in (SHEET_2009, SHEET_2010))
    new.columns = old.columns
    both = pd.concat([old.assign(source_sheet="Year 2009-2010"), new.assign(source_sheet="Year 2010-2011")])
    combined = tmp_path / "both_sheets.csv.gz"
    with gzip.open(combined, "wt") as handle:
        both.to_csv(handle, index=False)
    from_sheets = ingest("online_retail", [combined])
    pd.testing.assert_frame_equal(from_sheets.tables["events"], expected)
    assert from_sheets.summary.rows_read == {
        "both_sheets.csv.gz[Year 2009-2010]": 12, "both_sheets.csv.gz[Year 2010-2011]": 13,
    }

    pytest.importorskip("openpyxl", reason="xlsx input needs openpyxl")
    workbook = tmp_path / "online_retail_II.xlsx"
    with pd.ExcelWriter(workbook) as writer:
        for sheet, csv in (("Year 2009-2010", SHEET_2009), ("Year 2010-2011", SHEET_2010)):
            frame = _typed(csv)
            frame["InvoiceDate"] = pd.to_datetime(frame["InvoiceDate"])
            frame.to_excel(writer, sheet_name=sheet, index=False)
    pd.testing.assert_frame_equal(ingest("online_retail", [workbook]).tables["events"], expected)


def test_overlap_keeps_the_largest_count_of_a_line(tmp_path):
    """A line twice in one part and once in another was read twice, not three times."""
    header = "Invoice,StockCode,Description,Quantity,InvoiceDate,Price,Customer ID,Country\n"
    line = "900100,30001,BLUE TEA TOWEL,1,2011-01-05 10:00:00,2.1,10001,United Kingdom\n"
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    first.write_text(header + line + line)
    second.write_text(header + line)
    forward = ingest("online_retail", [first, second])
    backward = ingest("online_retail", [second, first])
    for result in (forward, backward):
        assert len(result.tables["events"]) == 2
        assert result.summary.dropped == {"overlap_duplicate": 1}
    assert set(forward.tables["events"]["event_id"]) == set(backward.tables["events"]["event_id"])


def test_london_to_utc_across_dst_changes():
    local = pd.to_datetime(pd.Series([
        "2011-03-26 12:00", "2011-03-27 01:30", "2011-03-27 03:00",  # spring: 01:00-02:00 does not exist
        "2011-10-29 12:00", "2011-10-30 01:30", "2011-10-30 02:30",  # autumn: 01:00-02:00 happens twice
    ]))
    assert london_to_utc(local).dt.strftime("%Y-%m-%d %H:%M").tolist() == [
        "2011-03-26 12:00", "2011-03-27 01:30", "2011-03-27 02:00",
        "2011-10-29 11:00", "2011-10-30 00:30", "2011-10-30 02:30",
    ]


def test_stock_code_kinds():
    codes = pd.Series(
        ["85123A", "85123a", "22423", "DCGS0076", "SP1002", "PADS", "POST", "DOT", "C2", "M", "m", "D", "S",
         "BANK CHARGES", "AMAZONFEE", "CRUK", "ADJUST2", "gift_0001_40", "B", "TEST002", "XYZ", None],
        dtype="string",
    )
    assert stock_code_kind(codes).tolist() == [
        "product", "product", "product", "product", "product", "product",
        "charge:postage", "charge:postage", "charge:postage", "charge:manual", "charge:manual",
        "charge:discount", "charge:samples", "charge:bank_charges", "charge:marketplace_fee",
        "charge:charity_commission", "charge:adjustment", "charge:gift_voucher", "charge:bad_debt",
        "test", "charge:unknown", "charge:unknown",
    ]


def test_missing_column_is_a_clear_error(tmp_path):
    from segrec.errors import SegrecError

    bad = tmp_path / "bad.csv"
    bad.write_text("Invoice,StockCode,Quantity,InvoiceDate,Price,Country\n1,2,3,2011-01-01 10:00:00,1,UK\n")
    with pytest.raises(SegrecError, match=r"bad.csv: missing column\(s\) description, customer_id"):
        ingest("online_retail", [bad])
