"""Smoke runs of every adapter on the real datasets: every source line is written or dropped
with a reason, and the counts agree with the dataset READMEs (../shared/datasets)."""

from __future__ import annotations

import pytest

from segrec.contract import EVENT_TYPES
from segrec.ingest import ingest

from .dbt_harness import datasets_dir

DATASETS = datasets_dir()

pytestmark = [
    pytest.mark.real_data,
    pytest.mark.skipif(
        not DATASETS.is_dir(), reason=f"real datasets not found at {DATASETS} (set SEGREC_DATASETS)"
    ),
]


def _check_accounting(result, rows_read: int) -> None:
    summary = result.summary
    assert summary.total_read == rows_read
    assert summary.unaccounted == 0
    events = result.tables.get("events")
    if events is not None:
        assert events["event_id"].is_unique
        assert events["event_time"].notna().all()
        assert set(events["event_type"]) <= set(EVENT_TYPES)


def test_online_retail_full_both_parquet_sheets():
    folder = DATASETS / "uci_online_retail_full"
    result = ingest("online_retail", [folder / "online_retail_II_sheet2009-2010.parquet",
                                      folder / "online_retail.parquet"])
    _check_accounting(result, 525_461 + 541_909)
    summary = result.summary
    assert summary.dropped["overlap_duplicate"] == 22_523  # README: 2010-12-01..09 rows in both files
    assert summary.dropped["bad_debt_adjustment"] == 6      # 3 A-invoice lines in each file
    assert summary.rows_written["customers"] <= 5_942
    events = result.tables["events"]
    products = events["product_id"].dropna()
    assert products.str.fullmatch(r"\d{5}[A-Z]*|DCGS\w+|SP\d+|PADS").all()


def test_online_retail_ii_subset_csv_both_sheets():
    subset = DATASETS / "uci_online_retail_ii_subset" / "online_retail_II_10countries.csv.gz"
    result = ingest("online_retail", [subset])
    _check_accounting(result, 34_766)
    summary = result.summary
    assert summary.dropped == {"overlap_duplicate": 441}  # README: 441 lines repeated verbatim
    assert summary.special_cases["anonymous"] == 601 and summary.special_cases["zero_price"] == 9
    assert summary.rows_written["customers"] == 262


def test_cdnow_master_and_sample():
    master = ingest("cdnow", [DATASETS / "cdnow_lifetimes" / "CDNOW_master.csv.gz"])
    _check_accounting(master, 69_659)
    assert master.summary.rows_written["customers"] == 23_570
    assert master.summary.special_cases["zero_value_order"] == 80
    sample = ingest("cdnow", [DATASETS / "cdnow_lifetimes" / "CDNOW_sample.txt.gz"])
    _check_accounting(sample, 6_919)
    assert sample.summary.rows_written["customers"] == 2_357
    # The sample is a subset of the master, and ids do not depend on the file layout.
    assert set(sample.tables["events"]["event_id"]) <= set(master.tables["events"]["event_id"])


def test_diginetica_views():
    result = ingest("diginetica", [DATASETS / "diginetica_sample_srgnn"])
    _check_accounting(result, 12_391)
    events = result.tables["events"]
    assert result.summary.special_cases["anonymous"] == 7_681
    assert events["session_id"].nunique() == 2_986 and events["product_id"].nunique() == 7_139


def test_rees46_head():
    result = ingest("rees46", [DATASETS / "rees46_multicategory_oct2019_head"])
    _check_accounting(result, 17_434)
    assert result.summary.events_by_type == {"add_to_cart": 165, "product_view": 17_055, "purchase": 214}
    assert result.summary.rows_written["products"] == 6_493
    assert result.tables["events"]["session_id"].nunique() == 5_066


def test_olist_catalog():
    result = ingest("olist", [DATASETS / "olist_catalog_partial"])
    _check_accounting(result, 32_951)
    assert result.summary.special_cases["missing_category"] == 610
    assert result.tables["products"]["category_path"].notna().sum() == 32_951 - 610
