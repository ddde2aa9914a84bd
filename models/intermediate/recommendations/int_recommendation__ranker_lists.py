"""Served lists of the learned ranker (segrec.recommend.ranker_pipeline.ranker_lists): buy-again,
discover and blended lists per customer, for the test cutoff (judged in recommendation_metrics)
and the latest cutoff (served through customer_recommendations); the discover and blended lists of
both re-ranked by var recommendation_rerank (segrec.recommend.bias_rerank). The ALS candidate source trains
by implicit or Spark (var ml_engine)."""

from segrec.engine import select, to_arrow, to_output_batches
from segrec.recommend.bias_rerank import rerank_settings
from segrec.recommend.pipeline import als_factory_for, as_frame
from segrec.recommend.ranker_pipeline import RANKER_LISTS_SCHEMA, ranker_lists


def model(dbt, session):
    dbt.config(materialized="table")
    windows = as_frame(to_arrow(dbt.ref("int_recommendation__windows"))).iloc[0]
    rerank = rerank_settings(dbt.config.get("rerank"))
    history = None
    if rerank.needs_history:
        # what customers used before each listed cutoff: the category mix calibrated re-ranking pulls toward
        columns = ["customer_key", "product_id"]
        test = select(dbt.ref("int_interactions__holdout").filter("cutoff = 'test' and meets_min_activity"),
                      ["cutoff", *columns])
        latest = select(dbt.ref("int_interactions__latest").filter("meets_min_activity"),
                        ["'latest' as cutoff", *columns])
        history = as_frame(to_arrow(test.union(latest)))
    lists = ranker_lists(
        as_frame(to_arrow(dbt.ref("int_recommendation__purchase_lines"))),
        windows,
        to_arrow(dbt.ref("int_recommendation__hybrid_candidates")),  # kept as Arrow (candidates.CutoffRows)
        as_frame(to_arrow(dbt.ref("int_recommendation__holdout_truth"))),
        as_frame(to_arrow(dbt.ref("int_recommendation__products"))),
        as_frame(to_arrow(dbt.ref("int_recommendation__customers"))),
        settings=dbt.config.get("ranker"),
        list_length=dbt.config.get("list_length"),
        horizon_days=dbt.config.get("test_days"),
        max_per_category=dbt.config.get("max_per_category"),
        rerank=dbt.config.get("rerank"),
        history=history,
        als_factory=als_factory_for(dbt.config.get("ml_engine"), session, dbt.config.get("spark_ml")),
    )
    return to_output_batches(lists, RANKER_LISTS_SCHEMA, session)
