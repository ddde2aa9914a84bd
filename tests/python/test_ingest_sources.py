"""CDNOW, Diginetica, REES46 and Olist adapters on hand-written fixtures (tests/fixtures/ingest)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from segrec.errors import SegrecError
from segrec.ingest import ingest

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ingest"


def _rows(frame: pd.DataFrame, columns: list[str]) -> list[tuple]:
    return [tuple(None if pd.isna(v) else v for v in row) for row in frame[columns].itertuples(index=False)]


# --- CDNOW -------------------------------------------------------------------------------

CDNOW_EVENTS = [  # (order_id, customer_id, event_time, quantity, unit_price)
    ("00011-19970103-1", "00011", "1997-01-03T00:00:00", "1", "12.49"),
    ("00012-19970114-1", "00012", "1997-01-14T00:00:00", "2", "12.99"),
    ("00012-19970114-2", "00012", "1997-01-14T00:00:00", "2", "12.99"),  # same-day repeat: its own order
    ("00012-19970321-1", "00012", "1997-03-21T00:00:00", "3", "3.3333333333333335"),
    ("00013-19970209-1", "00013", "1997-02-09T00:00:00", "1", "0"),  # free order: staging quarantines
]


@pytest.mark.parametrize("name", ["cdnow_master.txt", "cdnow_sample.txt", "cdnow_master.csv"])
def test_cdnow_layouts_give_the_same_order_level_purchases(name):
    result = ingest("cdnow", [FIXTURES / "cdnow" / name])
    events = result.tables["events"]
    assert _rows(events, ["order_id", "customer_id", "event_time", "quantity", "unit_price"]) == CDNOW_EVENTS
    assert set(events["event_type"]) == {"purchase"}
    assert "product_id" not in events  # order-level: no product
    assert set(events["currency"]) == {"USD"}
    assert events["event_id"].is_unique
    assert result.tables["customers"]["customer_id"].tolist() == ["00011", "00012", "00013"]
    assert result.summary.special_cases == {"zero_value_order": 1, "same_day_repeat_order": 1}
    assert result.summary.unaccounted == 0


def test_cdnow_ids_do_not_depend_on_the_layout():
    ids = [ingest("cdnow", [FIXTURES / "cdnow" / n]).tables["events"]["event_id"].tolist()
           for n in ("cdnow_master.txt", "cdnow_sample.txt", "cdnow_master.csv")]
    assert ids[0] == ids[1] == ids[2]


def test_cdnow_refuses_master_and_sample_together():
    with pytest.raises(SegrecError, match="expected one file"):
        ingest("cdnow", [FIXTURES / "cdnow" / "cdnow_master.txt", FIXTURES / "cdnow" / "cdnow_sample.txt"])


# --- Diginetica --------------------------------------------------------------------------

def test_diginetica_views_times_sessions_and_identities():
    result = ingest("diginetica", [FIXTURES / "diginetica" / "train-item-views.csv"])
    events = result.tables["events"]
    columns = ["session_id", "product_id", "event_time", "customer_id", "anonymous_id"]
    assert _rows(events, columns) == [
        ("7", "5002", "2016-02-10T00:00:12.000", None, "session:7"),  # sorted by timeframe
        ("7", "5001", "2016-02-10T00:00:30.500", None, "session:7"),
        ("7", "5001", "2016-02-10T00:01:35.250", None, "session:7"),
        ("8", "5003", "2016-03-01T00:00:05.000", "4242", "session:8"),
        ("8", "5004", "2016-03-01T00:01:05.000", "4242", "session:8"),
        ("9", "5005", "2016-03-05T00:00:10.000", None, "session:9"),  # before the login ...
        ("9", "5006", "2016-03-05T00:06:40.000", "4343", "session:9"),  # ... stitched through the session
        # runs past midnight: starts 300 s before the first line dated 04-02 at 300 s
        ("10", "5007", "2016-04-01T23:55:01.000", None, "session:10"),
        ("10", "5008", "2016-04-02T00:00:00.000", None, "session:10"),
        ("10", "5007", "2016-04-02T00:05:00.000", None, "session:10"),
        ("11", "5009", "2016-04-03T00:00:02.000", "5151", None),  # two users: not merged by a device id
        ("11", "5010", "2016-04-03T00:00:09.000", "5252", None),
    ]
    assert set(events["event_type"]) == {"product_view"}
    assert events["event_id"].is_unique
    assert events["loaded_at"].iloc[7:10].dt.strftime("%Y-%m-%d").tolist() == [
        "2016-04-02", "2016-04-03", "2016-04-03",
    ]
    assert result.summary.special_cases == {
        "anonymous": 7, "multi_user_session": 2, "session_spanning_midnight": 2, "out_of_order": 1,
    }
    assert result.summary.unaccounted == 0


# --- REES46 ------------------------------------------------------------------------------

def test_rees46_events_sessions_orders():
    result = ingest("rees46", [FIXTURES / "rees46" / "events.csv"])
    events = result.tables["events"]
    session = "0a0a0a0a-0000-4000-8000-00000000000"
    columns = ["event_id", "event_type", "customer_id", "anonymous_id", "session_id", "order_id",
               "unit_price"]
    assert _rows(events, columns) == [
        ("rees46:events:00000001", "product_view", "600000001", None, session + "1", None, "199.99"),
        ("rees46:events:00000002", "add_to_cart", "600000001", None, session + "1", None, "199.99"),
        ("rees46:events:00000003", "purchase", "600000001", None, session + "1",
         "600000001:" + session + "1", "199.99"),
        ("rees46:events:00000004", "purchase", "600000001", None, session + "1",
         "600000001:" + session + "1", "0"),
        ("rees46:events:00000005", "product_view", "600000002", None, session + "2", None, "25.5"),
        ("rees46:events:00000006", "product_view", None, "session:" + session + "3", session + "3", None,
         "25.5"),
        ("rees46:events:00000007", "remove_from_cart", "600000001", None, session + "1", None, "199.99"),
        ("rees46:events:00000008", "wishlist", "600000002", None, session + "2", None, "25.5"),  # unknown
    ]
    assert events["event_time"].iloc[[0, 6, 7]].tolist() == [
        "2019-10-01T00:00:05", "2019-10-01T23:59:59", "2019-10-02T00:04:00",
    ]
    assert events["loaded_at"].iloc[[6, 7]].dt.strftime("%Y-%m-%d").tolist() == ["2019-10-02", "2019-10-03"]
    assert "quantity" not in events  # not in the source: staging reads a missing quantity as 1
    products = result.tables["products"]
    assert _rows(products, ["product_id", "category_path", "brand", "price"]) == [
        ("1000001", "electronics > smartphone", "acme", "199.99"),
        ("2000002", None, None, "0"),
        ("3000003", "appliances > kitchen > kettle", None, "25.5"),
    ]
    assert result.summary.special_cases == {
        "anonymous": 1, "unknown_event_type": 1, "zero_price_purchase": 1, "missing_category_code": 1,
        "missing_brand": 4,
    }
    assert result.summary.unaccounted == 0


# --- Olist -------------------------------------------------------------------------------

def test_olist_products_with_english_categories_from_a_directory():
    result = ingest("olist", [FIXTURES / "olist"])  # the sellers file in it is skipped
    products = result.tables["products"]
    prefix = "0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0"
    assert _rows(products, ["product_id", "category_path"]) == [
        (prefix + "1", "bed_bath_table"),      # translation file (BOM, CRLF)
        (prefix + "2", "pc_gamer"),            # missing upstream, translated here
        (prefix + "3", None),                  # no category
        (prefix + "4", "brinquedos_raros"),    # not translated anywhere: kept in Portuguese
    ]
    summary = result.summary
    assert summary.dropped == {"duplicate_product_id": 1}
    assert summary.special_cases == {"translated_here": 1, "untranslated_category": 1, "missing_category": 1}
    assert summary.rows_read == {"products": 5} and summary.unaccounted == 0


def test_olist_needs_the_translation():
    with pytest.raises(SegrecError, match="translation file"):
        ingest("olist", [FIXTURES / "olist" / "olist_products_dataset.csv"])
