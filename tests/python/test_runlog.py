"""The run log: dbt statuses, mart counts, quarantine rates, model metrics and the link to
the previous build, on the tiny warehouse of test_exports."""

from __future__ import annotations

import json

import duckdb
import pandas as pd
import pytest

from segrec import runlog
from segrec.cli import main
from segrec.warehouse import open_warehouse
from tests.python.test_exports import TINY_MANIFEST, tiny_tables, tiny_warehouse


def run_results(invocation_id: str, generated_at: str) -> dict:
    """A dbt run_results.json of 3 models, 2 passing tests, 1 warning and 1 failure."""
    def result(unique_id: str, status: str, seconds: float, failures: int | None = None) -> dict:
        return {"unique_id": unique_id, "status": status, "execution_time": seconds, "failures": failures}

    return {
        "metadata": {"invocation_id": invocation_id, "generated_at": generated_at, "dbt_version": "1.11.16"},
        "args": {"which": "build"},
        "elapsed_time": 12.3456,
        "results": [
            result("model.segrec.fct_events", "success", 1.23456),
            result("model.segrec.fct_sessions", "success", 0.5),
            result("model.segrec.customer_segments", "success", 2.0),
            result("test.segrec.unique_fct_events_event_id.abc", "pass", 0.1, 0),
            result("test.segrec.not_null_fct_events_event_id.def", "pass", 0.1, 0),
            result("test.segrec.quarantine_rate_spike.ghi", "warn", 0.2, 1),
            result("test.segrec.accepted_values_x.jkl", "fail", 0.3, 4),
        ],
    }


def log_for(db, results, previous=None) -> dict:
    with open_warehouse(db) as con:
        return runlog.build_run_log(con, results, TINY_MANIFEST, previous_log=previous)


def test_dbt_summary_counts_statuses_and_durations():
    summary = runlog.dbt_summary(run_results("inv-1", "2024-02-01T10:00:00.5Z"))
    assert summary["status_counts"] == {"fail": 1, "pass": 2, "success": 3, "warn": 1}
    assert summary["nodes"][0] == {
        "unique_id": "model.segrec.fct_events", "resource_type": "model", "status": "success",
        "duration_seconds": 1.235, "failures": None,
    }
    assert summary["nodes"][5]["resource_type"] == "test" and summary["nodes"][5]["failures"] == 1
    assert summary["command"] == "build" and summary["elapsed_seconds"] == 12.346


def test_run_log_contents(tmp_path):
    log = log_for(tiny_warehouse(tmp_path), run_results("inv-1", "2024-02-01T10:00:00Z"))
    tables = tiny_tables()
    not_marts = ("stg_raw__events", "segmentation_k_selection")
    assert log["row_counts"] == {name: len(tables[name]) for name in sorted(tables) if name not in not_marts}
    assert log["quarantine"] == {
        "raw_events": 10, "raw_events_from": "stg_raw__events", "quarantined_events": 3, "rate": pytest.approx(0.3),
        "by_reason": {"duplicate_event": {"rows": 2, "rate": pytest.approx(0.2)},
                      "bot_traffic": {"rows": 1, "rate": pytest.approx(0.1)}},
    }
    assert log["segmentation"]["model_version"] == "v2"  # the later of the two runs
    assert log["segmentation"]["silhouette"] == pytest.approx(0.45)
    assert log["segmentation"]["k"] == 2
    assert log["segmentation"]["trained_at"] == "2024-02-01T00:00:00"
    assert log["recommendations"] == {
        "model_version": "r1",
        "by_strategy": {"als": {"ndcg@10": pytest.approx(0.26)}, "popularity": {"ndcg@10": pytest.approx(0.08)}},
    }
    assert log["previous"] is None and log["changes"] == {}
    json.dumps(log)  # plain JSON types only


def test_previous_run_is_linked_and_drops_show_in_changes(tmp_path):
    out = tmp_path / "run_logs"
    first = log_for(tiny_warehouse(tmp_path / "a"), run_results("inv-1", "2024-02-01T10:00:00Z"))
    first_path = runlog.write_run_log(first, out)
    assert first_path.name == "run_log_20240201T100000Z.json"

    tables = tiny_tables()
    worse_run = pd.DataFrame({"model_version": ["v3"], "algorithm": ["kmeans"], "k": [2], "silhouette": [0.30],
                              "calinski_harabasz": [90.0], "davies_bouldin": [1.1],
                              "trained_at": [pd.Timestamp("2024-03-01")]})
    more_quarantined = pd.concat([tables["quarantined_events"]] * 2, ignore_index=True)
    db = tiny_warehouse(tmp_path / "b", segmentation_runs=pd.concat([tables["segmentation_runs"], worse_run]),
                        quarantined_events=more_quarantined)
    results = run_results("inv-2", "2024-03-01T10:00:00+01:00")
    second = log_for(db, results, runlog.read_latest_log(out))
    second_path = runlog.write_run_log(second, out)
    assert second_path.name == "run_log_20240301T090000Z.json"
    assert second["previous"]["build"]["invocation_id"] == "inv-1"
    assert second["previous"]["segmentation"]["silhouette"] == pytest.approx(0.45)
    assert second["changes"]["segmentation.silhouette"] == pytest.approx(-0.15)
    assert second["changes"]["quarantine.rate"] == pytest.approx(0.3)
    assert second["changes"]["row_counts.quarantined_events"] == 3
    assert "recommendations.by_strategy.als.ndcg@10" not in second["changes"]  # unchanged
    assert json.loads((out / "latest.json").read_text()) == json.loads(second_path.read_text())

    # logging the same build again keeps pointing at the build before it, not at itself
    again = log_for(db, results, runlog.read_latest_log(out))
    assert again["previous"]["build"]["invocation_id"] == "inv-1"
    runlog.write_run_log(again, out)
    assert sorted(p.name for p in out.iterdir()) == [
        "latest.json", "run_log_20240201T100000Z.json", "run_log_20240301T090000Z.json",
    ]


def test_raw_count_falls_back_to_clean_plus_quarantined(tmp_path):
    # dbt's staging view reads the raw folder relative to where dbt ran; elsewhere it fails
    db = tiny_warehouse(tmp_path, drop=("stg_raw__events",))
    raw = tmp_path / "events.parquet"
    with duckdb.connect(str(db)) as con:
        con.execute(f"copy (select 'e0' as event_id) to '{raw}' (format parquet)")
        con.execute(f"create view stg_raw__events as select * from read_parquet('{raw}')")
    raw.unlink()
    quarantine = log_for(db, run_results("inv-1", "2024-02-01T10:00:00Z"))["quarantine"]
    assert (quarantine["raw_events"], quarantine["raw_events_from"]) == (10, "fct_events + quarantined_events")


def test_latest_flag_wins_over_timestamps(tmp_path):
    runs = tiny_tables()["segmentation_runs"].assign(is_latest=[True, False])  # v1 flagged although older
    log = log_for(tiny_warehouse(tmp_path, segmentation_runs=runs), run_results("inv-1", "2024-02-01T10:00:00Z"))
    assert log["segmentation"]["model_version"] == "v1"


def test_absent_tables_give_none_and_notes(tmp_path):
    db = tiny_warehouse(tmp_path, drop=("quarantined_events", "segmentation_runs", "recommendation_metrics"))
    log = log_for(db, run_results("inv-1", "2024-02-01T10:00:00Z"))
    assert log["quarantine"] is None and log["segmentation"] is None and log["recommendations"] is None
    assert "quarantine: quarantined_events absent or empty" in log["notes"]
    assert "quarantined_events" not in log["row_counts"]


def test_cli_writes_the_log_and_fails_clearly_without_run_results(tmp_path, capsys):
    db = tiny_warehouse(tmp_path)
    results = tmp_path / "run_results.json"
    results.write_text(json.dumps(run_results("inv-1", "2024-02-01T10:00:00Z")))
    out = tmp_path / "logs"
    args = ["runlog", "--db", str(db), "--out", str(out), "--manifest", str(tmp_path / "none.json")]
    assert main([*args, "--run-results", str(results)]) == 0
    assert "quarantine rate 30.00%" in capsys.readouterr().out
    assert json.loads((out / "latest.json").read_text())["build"]["invocation_id"] == "inv-1"
    assert main([*args, "--run-results", str(tmp_path / "missing.json")]) == 2
    assert "no dbt run results" in capsys.readouterr().err
