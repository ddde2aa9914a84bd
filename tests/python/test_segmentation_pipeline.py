"""One segmentation run (segrec.segmentation.pipeline) on small generated blobs."""

from __future__ import annotations

from dataclasses import fields, replace

import numpy as np
import pandas as pd
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score

from segrec.segmentation.fit import data_version
from segrec.segmentation.pipeline import (
    RUN_SCHEMA,
    SegmentationConfig,
    SegmentationRun,
    clustering_input,
    run_segmentation,
    run_table,
    runs_to_write,
)
from segrec.segmentation.validation import VALUE_GROUPS

CONFIG = SegmentationConfig(k_min=2, k_max=6, random_state=0, n_init=4)
WHEN = pd.Timestamp("2026-01-01")


def blobs(n: int = 300, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    X, truth = make_blobs(n_samples=n, centers=4, n_features=3, cluster_std=0.5, random_state=seed)
    keys = [f"c{i:04d}" for i in range(n)]
    matrix = pd.DataFrame(X, columns=["premium_share", "budget_share", "share_mobile"], index=keys)
    readable = matrix.copy()
    return matrix, readable, truth


def rules_for(matrix: pd.DataFrame) -> pd.Series:
    return pd.Series([[] for _ in matrix.index], index=matrix.index, dtype=object)


def test_first_run_fits_and_recovers_the_blobs():
    matrix, readable, truth = blobs()
    record = run_segmentation(matrix, readable, rules_for(matrix), None, CONFIG, WHEN)
    assert record.is_refit and record.refit_reason == "no previous model"
    assert record.n_clusters == 4
    assert adjusted_rand_score(truth, record.segment_ids) == 1.0
    assert sorted({s["segment_id"] for s in record.segments}) == [1, 2, 3, 4]
    assert len(set(s["segment_name"] for s in record.segments)) == 4
    assert run_table([record]).num_rows == 1


def test_same_input_returns_the_previous_run_unchanged():
    matrix, readable, _ = blobs()
    first = run_segmentation(matrix, readable, rules_for(matrix), None, CONFIG, WHEN)
    again = run_segmentation(matrix, readable, rules_for(matrix), first, CONFIG, WHEN + pd.Timedelta(days=1))
    assert again == first
    # run_id is the features and the parameters; data_version the features alone (the fit's input)
    other = run_segmentation(matrix, readable, rules_for(matrix), first, replace(CONFIG, n_init=2), WHEN)
    assert other.run_id != first.run_id and other.data_version == first.data_version == data_version(
        matrix.sort_index())


def test_overwrite_keeps_the_history_delete_insert_keeps():
    """delete+insert and merge get the run alone (it replaces a stored run of its run_id);
    insert_overwrite (local Spark) replaces the table, so the stored runs come too, but the one of
    the run's run_id: runs A, B, then A's input again leave B and the new A, A the latest."""
    matrix, readable, _ = blobs()
    first = run_segmentation(matrix, readable, rules_for(matrix), None, CONFIG, WHEN)
    fewer = matrix.iloc[20:]
    second = run_segmentation(fewer, readable.iloc[20:], rules_for(fewer), first, CONFIG, WHEN + pd.Timedelta(days=1))
    back = run_segmentation(matrix, readable, rules_for(matrix), second, CONFIG, WHEN + pd.Timedelta(days=2))
    assert second.run_id != first.run_id and back.run_id == first.run_id and back.previous_run_id == second.run_id
    stored = run_table([first, second])
    for strategy in ("delete+insert", "merge"):
        assert runs_to_write(back, strategy, stored) == run_table([back])
    assert runs_to_write(first, "insert_overwrite") == run_table([first])  # the first build
    assert runs_to_write(back, "insert_overwrite", stored) == run_table([second, back])
    assert runs_to_write(None, "insert_overwrite", stored) == stored  # no run recorded: the history stays
    assert runs_to_write(None, "delete+insert", stored).num_rows == 0
    # a table from before a column: the stored runs get it empty
    older = runs_to_write(back, "insert_overwrite", stored.drop_columns(["feature_scaling"]))
    assert older["feature_scaling"].to_pylist()[0] is None
    assert older["run_id"].to_pylist() == [second.run_id, back.run_id]


def test_a_run_is_one_typed_row_and_its_stored_row_is_the_previous_run():
    assert [f.name for f in fields(SegmentationRun)] == RUN_SCHEMA.names
    matrix, readable, _ = blobs()
    first = run_segmentation(matrix, readable, rules_for(matrix), None, CONFIG, WHEN)
    stored = run_table([first]).to_pylist()[0]  # what the dbt model reads back as the previous run
    again = run_segmentation(matrix, readable, rules_for(matrix), stored, CONFIG, WHEN + pd.Timedelta(days=1))
    assert again.run_id == first.run_id and again.segment_ids == first.segment_ids
    assert run_table([again]).to_pylist()[0] == stored


def test_changed_data_keeps_the_model_and_assigns_to_nearest_centroid():
    matrix, readable, _ = blobs()
    first = run_segmentation(matrix, readable, rules_for(matrix), None, CONFIG, WHEN)
    moved = matrix.copy()
    # customer c0000 now behaves exactly like the centroid of another segment
    own = first.segment_ids[0]
    other_index = next(i for i, s in enumerate(first.centroid_segment_ids) if s != own)
    moved.iloc[0] = first.centroids[other_index]
    second = run_segmentation(moved, moved, rules_for(moved), first, CONFIG, WHEN + pd.Timedelta(days=7))
    assert not second.is_refit
    assert second.model_version == first.model_version
    assert second.segment_ids[0] == first.centroid_segment_ids[other_index]
    assert second.segment_ids[1:] == first.segment_ids[1:]
    assert second.previous_run_id == first.run_id


def test_refit_keeps_segment_ids_and_names_on_the_same_groups():
    # blobs of 100, 80, 60 and 40 customers; then 90 new customers join the smallest one, which
    # becomes the largest: clusters are numbered by size, so only matching keeps the ids
    X, truth = make_blobs(n_samples=[100, 80, 60, 40], n_features=3, cluster_std=0.5, random_state=1)
    columns = ["premium_share", "budget_share", "share_mobile"]
    matrix = pd.DataFrame(X, columns=columns, index=[f"c{i:04d}" for i in range(len(X))])
    first = run_segmentation(matrix, matrix, rules_for(matrix), None, CONFIG, WHEN)
    smallest = matrix[truth == 3]
    newcomers = pd.concat([smallest, smallest, smallest]).iloc[:90] + 0.01
    newcomers.index = [f"n{i:04d}" for i in range(len(newcomers))]
    grown = pd.concat([matrix, newcomers])
    forced = SegmentationConfig(**{**CONFIG.__dict__, "force_refit": True})
    second = run_segmentation(grown, grown, rules_for(grown), first, forced, WHEN)

    assert second.is_refit and second.n_clusters == 4
    cluster_of = {s["segment_id"]: s["cluster_id"] for s in first.segments}
    assert any(cluster_of[s["segment_id"]] != s["cluster_id"] for s in second.segments)
    before = dict(zip(first.customer_keys, first.segment_ids, strict=True))
    after = dict(zip(second.customer_keys, second.segment_ids, strict=True))
    assert all(after[key] == segment for key, segment in before.items())
    names = {s["segment_id"]: s["segment_name"] for s in first.segments}
    assert {s["segment_id"]: s["segment_name"] for s in second.segments} == names
    assert second.stability_vs_previous == 1.0


def test_too_few_customers_records_no_run():
    matrix, readable, _ = blobs(n=12)
    assert run_segmentation(matrix, readable, rules_for(matrix), None, CONFIG, WHEN) is None



def test_constant_features_record_no_run():
    matrix = pd.DataFrame(0.0, index=[f"c{i:04d}" for i in range(100)], columns=["share_mobile", "budget_share"])
    assert run_segmentation(matrix, matrix, rules_for(matrix), None, CONFIG, WHEN) is None


def test_clustering_input_reads_the_value_features_only_for_a_chosen_set():
    matrix = pd.DataFrame({"customer_key": ["b", "a", "c"], "x": [0.0, 1.0, 2.0], "y": [1.0, 0.0, 1.0]})
    candidates = pd.DataFrame({"feature_set": ["value"], "k": [3], "is_chosen": [False]})

    def unread() -> pd.DataFrame:
        raise AssertionError("the value features are read without a chosen feature set")

    sql = clustering_input(matrix, candidates, unread, 3.0)
    assert sql.chosen is None and sql.note is None and sql.matrix.equals(matrix.set_index("customer_key"))
    # a chosen set on which today's customers do not vary: the SQL matrix, and a note that says so
    names = [name for columns in VALUE_GROUPS.values() for name in columns]
    flat = pd.DataFrame([(key, name, 1.0) for key in "abc" for name in names],
                        columns=["customer_key", "feature", "feature_value"])
    fallback = clustering_input(matrix, candidates.assign(is_chosen=True), lambda: flat, 3.0)
    assert fallback.chosen is None and "'value' varies on 0 feature(s)" in fallback.note
    assert fallback.matrix.equals(sql.matrix)
