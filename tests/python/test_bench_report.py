"""The pure parts of `make bench` on hand-made inputs (no dbt build): sizes, when the incremental
comparison runs, per-layer times from run_results + manifest, and the performance page."""

from __future__ import annotations

import sys

import pytest

from bench.bench_build import incremental_wanted, with_target
from bench.common import customers_for, layer_totals, node_peaks, node_times, parse_size, run_measured, top_nodes
from bench.report import read_results, render, size_section


@pytest.mark.parametrize(
    ("text", "events"),
    [("1M", 1_000_000), ("100k", 100_000), ("10M", 10_000_000), ("100M", 100_000_000), ("2.5m", 2_500_000),
     ("100K", 100_000), ("5000", 5_000), (" 1M ", 1_000_000)],
)
def test_sizes_parse_to_event_counts(text, events):
    assert parse_size(text) == events


@pytest.mark.parametrize("text", ["1G", "abc", "", "-1k", "0", "1 M", "1MM", "k"])
def test_a_bad_size_is_a_clear_error(text):
    with pytest.raises(ValueError, match=r"bad size .*(k or M suffix|positive)"):
        parse_size(text)


def test_customers_follow_the_generators_yield():
    assert customers_for(998_218) == 19_014  # 19,000 customers gave 998,218 events
    assert customers_for(1_000_000) == 19_048
    assert customers_for(10) == 1


def test_incremental_comparison_defaults_on_up_to_one_million_events():
    assert incremental_wanted(1_000_000, None) and incremental_wanted(100_000, "")
    assert not incremental_wanted(1_000_001, None)
    assert incremental_wanted(10_000_000, "1") and not incremental_wanted(100_000, "0")
    with pytest.raises(ValueError, match="BENCH_INCREMENTAL"):
        incremental_wanted(100_000, "maybe")


def test_targets_are_judged_in_their_direction():
    assert with_target("sessionization", {"ratio": 1.2})["meets_target"]
    assert not with_target("incremental", {"ratio": 0.25})["meets_target"]
    assert with_target("als", {"ratio": 1.04321}) == {"ratio": 1.043, "target": "<= 1.1", "meets_target": True}


RUN_RESULTS = {"results": [
    {"unique_id": "model.segrec.stg_raw__events", "status": "success", "execution_time": 1.5},
    {"unique_id": "model.segrec.int_events__sessionized", "status": "success", "execution_time": 4.0},
    {"unique_id": "model.segrec.int_sessions__aggregated", "status": "success", "execution_time": 2.25},
    {"unique_id": "model.segrec.fct_events", "status": "success", "execution_time": 0.5},
    {"unique_id": "model.segrec.build_history", "status": "success", "execution_time": 0.125},
    {"unique_id": "seed.segrec.currency_rates", "status": "success", "execution_time": 0.25},
    {"unique_id": "test.segrec.not_null_fct_events_event_id.abc123", "status": "pass", "execution_time": 0.75},
    {"unique_id": "unit_test.segrec.int_events__sessionized.gap", "status": "pass", "execution_time": 0.5},
    {"unique_id": "exposure.segrec.dashboard", "status": "no-op", "execution_time": 0.01},
]}
MANIFEST = {"nodes": {
    "model.segrec.stg_raw__events": {"original_file_path": "models/staging/stg_raw__events.sql"},
    "model.segrec.int_events__sessionized": {
        "original_file_path": "models/intermediate/events/int_events__sessionized.sql"},
    "model.segrec.int_sessions__aggregated": {
        "original_file_path": "models/intermediate/events/int_sessions__aggregated.sql"},
    "model.segrec.fct_events": {"original_file_path": "models/marts/core/fct_events.sql"},
    "model.segrec.build_history": {"original_file_path": "models/monitoring/build_history.sql"},
    "seed.segrec.currency_rates": {"original_file_path": "seeds/currency_rates.csv"},
}}


def test_node_times_are_summed_per_layer_in_build_order():
    nodes = node_times(RUN_RESULTS, MANIFEST)
    assert [node["layer"] for node in nodes] == ["staging", "intermediate", "intermediate", "marts", "monitoring",
                                                  "seeds", "tests", "tests", "exposures"]
    totals = layer_totals(nodes)
    assert totals == {"seeds": 0.25, "staging": 1.5, "intermediate": 6.25, "marts": 0.5, "monitoring": 0.12,
                      "tests": 1.25, "exposures": 0.01}
    assert list(totals) == ["seeds", "staging", "intermediate", "marts", "monitoring", "tests", "exposures"]


def test_a_model_outside_the_known_folders_is_its_own_layer_and_unknown_nodes_are_other():
    run_results = {"results": [
        {"unique_id": "model.segrec.x", "status": "success", "execution_time": 1.0},
        {"unique_id": "model.segrec.y", "status": "success", "execution_time": 2.0},
    ]}
    nodes = node_times(run_results, {"nodes": {"model.segrec.x": {"original_file_path": "models/audit/x.sql"}}})
    assert layer_totals(nodes) == {"audit": 1.0, "other": 2.0}


def test_top_nodes_are_the_slowest_first():
    top = top_nodes(node_times(RUN_RESULTS, MANIFEST), n=3)
    assert top == [
        {"name": "int_events__sessionized", "layer": "intermediate", "seconds": 4.0},
        {"name": "int_sessions__aggregated", "layer": "intermediate", "seconds": 2.25},
        {"name": "stg_raw__events", "layer": "staging", "seconds": 1.5},
    ]


def _executed(unique_id: str, start: str, end: str) -> dict:
    return {"unique_id": unique_id, "timing": [
        {"name": "compile", "started_at": "2026-12-03T10:00:00Z", "completed_at": "2026-12-03T10:00:00Z"},
        {"name": "execute", "started_at": f"2026-12-03T10:00:{start}Z", "completed_at": f"2026-12-03T10:00:{end}Z"},
    ]}


def test_node_peaks_rank_nodes_by_how_much_memory_grew_while_they_ran():
    t0 = 1_796_292_000.0  # 2026-12-03T10:00:00Z
    timeline = [(t0 + 0.5, 100.0), (t0 + 1, 100.0), (t0 + 2, 900.0), (t0 + 3, 300.0), (t0 + 4, 950.0),
                (t0 + 6, 50.0)]
    run_results = {"results": [
        _executed("model.segrec.a", "01", "03"),   # samples at 1, 2, 3 s: peak 900, from 100 at 0.5 s
        _executed("model.segrec.b", "03.5", "04"),  # sample at 4 s: peak 950, from 300 at 3 s
        _executed("model.segrec.c", "04.5", "05"),  # no sample inside
        {"unique_id": "model.segrec.d", "timing": []},
    ]}
    assert node_peaks(run_results, timeline) == [
        {"name": "a", "peak_rss_mib": 900, "growth_mib": 800}, {"name": "b", "peak_rss_mib": 950, "growth_mib": 650},
    ]
    assert node_peaks(run_results, timeline, n=1) == [{"name": "a", "peak_rss_mib": 900, "growth_mib": 800}]
    assert node_peaks(run_results, []) == []


def test_a_measured_step_samples_its_resident_set_over_time():
    measured = run_measured([sys.executable, "-c", "import time; block = bytearray(200 * 2**20); time.sleep(1.2)"])
    assert measured.timeline, "no samples"
    times = [t for t, _ in measured.timeline]
    assert times == sorted(times)
    # the 200 MiB block is resident in the later samples and in the peak
    assert max(mib for _, mib in measured.timeline) >= 200
    assert measured.peak_mib >= 200


def result(size: str, n_events: int, incremental: dict) -> dict:
    """A hand-made bench/results/<size>.json."""
    return {
        "size": size, "n_events": n_events, "n_customers": 1905, "date": "2026-12-03T03:30:00+00:00",
        "git_commit": "0123456789abcdef0123", "machine": {"cores": 2, "memory_gib": 23.4, "python": "3.11.7",
                                                          "duckdb": "2.0.0", "dbt": "1.11.16"},
        "generate": {"seconds": 2.54, "peak_rss_mib": 300},
        "build": {"seconds": 170.04, "peak_rss_mib": 1234, "n_nodes": 707,
                  "layers": {"staging": 1.96, "intermediate": 134.39, "tests": 65.28},
                  "top_nodes": [{"name": "int_recommendation__ranker_lists", "layer": "intermediate", "seconds": 44.32},
                                {"name": "int_events__sessionized", "layer": "intermediate", "seconds": 2.63}]},
        "ratios": {
            "sessionization": {"ratio": 0.04, "target": ">= 1", "meets_target": False, "hand_query_seconds": 0.139,
                               "project_seconds": 3.517, "hand_sessions": 10163, "project_sessions": 10163,
                               "sessions_agree": True, "in_build_seconds": 5.2},
            "als": {"ratio": 1.05, "target": "<= 1.1", "meets_target": True, "dbt_seconds": 2.1,
                    "direct_seconds": 2.0, "matrix": "1,886 x 300"},
            "incremental": incremental,
        },
        "quality": {"segments": {"ari": 0.8196, "customers": 1886, "segments": 8, "personas": 6},
                    "recommendations": {"served_strategy": "ranker_blended",
                                        "ndcg_at_10": {"ranker_blended": 0.3363, "hybrid": 0.3176,
                                                       "popularity": 0.1216},
                                        "served_vs_popularity": 2.766}},
    }


INCREMENTAL = {"ratio": 0.45, "target": "<= 0.1", "meets_target": False, "incremental_seconds": 76.5,
               "full_refresh_seconds": 170.04, "equal": True,
               "incremental_models": {"int_events__sessionized": 0.695, "int_sessions__aggregated": 0.396},
               "full_refresh_models": {"int_events__sessionized": 3.338, "int_sessions__aggregated": 0.79}}

EXPECTED_SECTION = """## 100k: 100,530 events, 1,905 customers

Measured 2026-12-03T03:30:00+00:00 on commit 0123456789ab: 2 cores, 23.4 GiB, Python 3.11.7, DuckDB 2.0.0, dbt 1.11.16.

| measure | value |
| --- | --- |
| total build | 170.0 s |
| peak RSS | 1,234 MiB |
| nodes | 707 |
| generate | 2.54 s |

Time per layer:

| layer | seconds |
| --- | --- |
| staging | 2.0 |
| intermediate | 134.4 |
| tests | 65.3 |

Slowest 2 nodes:

| node | layer | seconds |
| --- | --- | --- |
| int_recommendation__ranker_lists | intermediate | 44.3 |
| int_events__sessionized | intermediate | 2.6 |

Ratios:

| ratio | measured | target | met | detail |
| --- | --- | --- | --- | --- |
""" + (
    "| sessionization (hand query / project) | 0.04 | ≥ 1 | no | 0.14 s vs 3.52 s (5.20 s in build); "
    "10,163 vs 10,163 sessions (same) |\n"
    "| incremental (1% load / full) | 0.45 | ≤ 0.1 | no | 76.5 s vs 170.0 s; sessionization models 1.09 s vs 4.13 s; "
    "marts equal: yes |\n"
) + """| ALS (dbt model / implicit direct) | 1.05 | ≤ 1.1 | yes | 2.10 s vs 2.00 s; matrix 1,886 x 300 |

Quality against the generator's truth:

| measure | value |
| --- | --- |
| segments: ARI vs personas | 0.820 (8 segments, 6 personas, 1,886 customers) |
| NDCG@10 ranker_blended (served) | 0.3363 |
| NDCG@10 hybrid | 0.3176 |
| NDCG@10 popularity | 0.1216 |
| NDCG@10 ranker_blended / popularity | 2.77 |"""


def test_a_size_section_shows_times_ratios_with_targets_and_quality():
    assert "\n".join(size_section(result("100k", 100_530, INCREMENTAL))) == EXPECTED_SECTION


def test_a_size_section_lists_the_nodes_that_held_the_most_memory_when_measured():
    measured = result("100k", 100_530, INCREMENTAL)
    measured["build"]["memory_top_nodes"] = [
        {"name": "int_recommendation__ranker_lists", "peak_rss_mib": 2345, "growth_mib": 1200}]
    section = "\n".join(size_section(measured))
    assert section == EXPECTED_SECTION.replace("\nRatios:\n", (
        "\nLargest growth of the resident set while a node ran (top 1; two threads run side by side, so both "
        "figures are the whole build's at those moments):\n\n| node | growth MiB | peak RSS MiB |\n"
        "| --- | --- | --- |\n| int_recommendation__ranker_lists | 1,200 | 2,345 |\n\nRatios:\n"))


def test_skipped_and_failed_measurements_say_so():
    skipped = result("10M", 10_000_000, {"skipped": "off above 1,000,000 events; BENCH_INCREMENTAL=1 turns it on"})
    skipped["quality"]["segments"] = {"error": "SegrecError: no warehouse"}
    lines = size_section(skipped)
    assert ("| incremental (1% load / full) | - | - | - | skipped: off above 1,000,000 events; "
            "BENCH_INCREMENTAL=1 turns it on |") in lines
    assert "| segments: ARI vs personas | error: SegrecError: no warehouse |" in lines


def test_the_page_orders_sizes_by_events_and_says_pending_without_results():
    page = render([result("1M", 998_218, INCREMENTAL), result("100k", 100_530, INCREMENTAL)])
    assert page.startswith("# Performance\n")
    assert "Reproduce: `make bench`" in page and 'BENCH_SIZES="100k 1M"' in page
    assert page.index("## 100k: 100,530 events") < page.index("## 1M: 998,218 events")
    assert "\n" + EXPECTED_SECTION + "\n\n## 1M" in page and page.endswith(" | 2.77 |\n")
    empty = render([])
    assert "Pending: no results in bench/results/ yet." in empty and "## 100k" not in empty


def test_other_benchmarks_results_in_the_folder_are_not_build_sizes(tmp_path):
    import json

    (tmp_path / "1M.json").write_text(json.dumps(result("1M", 998_218, INCREMENTAL)))
    (tmp_path / "spark_als.json").write_text(json.dumps({"k": 10, "results": []}))
    assert [r["size"] for r in read_results(tmp_path)] == ["1M"]
    assert read_results(tmp_path / "absent") == []
