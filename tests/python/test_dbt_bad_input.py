"""A raw folder that cannot be read fails with one clear message naming the table (and column);
absent optional tables build to empty outputs."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from segrec.rawio import write_raw_table

pytestmark = pytest.mark.dbt

EVENTS = pd.DataFrame(
    [
        dict(event_id="e1", event_time="2026-01-01T10:00:00", loaded_at="2026-01-01T11:00:00",
             event_type="page_view", customer_id="c1", anonymous_id="a1", device_type="mobile"),
        dict(event_id="e2", event_time="2026-01-01T10:10:00", loaded_at="2026-01-01T11:00:00",
             event_type="purchase", customer_id="c1", anonymous_id="a1", product_id="p1", order_id="o1",
             quantity="1", unit_price="20", currency="USD"),
    ]
)


def build_staging(dbt_project, raw_dir: Path):
    return dbt_project(raw_dir).run("build", "--select", "+stg_raw__events", check=False)


def test_missing_required_column_names_table_and_column(tmp_path, dbt_project):
    raw = tmp_path / "raw"
    raw.mkdir()
    EVENTS.drop(columns=["event_time"]).to_parquet(raw / "events.parquet")
    result = build_staging(dbt_project, raw)
    assert result.returncode != 0
    assert "raw table events: missing required column 'event_time'" in result.stdout


def test_unreadable_file_names_table_and_file(tmp_path, dbt_project):
    raw = tmp_path / "raw"
    (raw / "events").mkdir(parents=True)
    write_raw_table(EVENTS, "events", raw, part="load-1")
    (raw / "events" / "load-2.parquet").write_text("this is not parquet")
    result = build_staging(dbt_project, raw)
    assert result.returncode != 0
    assert "raw table events: file" in result.stdout
    assert "load-2.parquet' is not a readable Parquet file" in result.stdout


def test_missing_events_table_is_a_clear_error(tmp_path, dbt_project):
    raw = tmp_path / "raw"
    raw.mkdir()
    result = build_staging(dbt_project, raw)
    assert result.returncode != 0
    assert "raw table events: no data found in raw_dir" in result.stdout


def test_absent_optional_tables_build_empty_outputs(tmp_path, dbt_project):
    raw = tmp_path / "raw"
    write_raw_table(EVENTS, "events", raw)
    project = dbt_project(raw)
    project.run("build", "--select", "+fct_events", "+fct_sessions", "+dim_customers", "+quarantined_events",
                "stg_raw__products")
    counts = project.query(
        """
        select
            (select count(*) from fct_events) as events,
            (select count(*) from fct_sessions) as sessions,
            (select count(*) from quarantined_events) as quarantined,
            (select count(*) from stg_raw__products) as products,
            (select max(revenue) from fct_sessions) as revenue
        """
    ).iloc[0]
    assert (counts["events"], counts["sessions"], counts["quarantined"], counts["products"]) == (2, 1, 0, 0)
    assert counts["revenue"] == 20.0
