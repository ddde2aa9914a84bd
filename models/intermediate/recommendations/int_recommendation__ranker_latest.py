"""The learned ranker's served lists (latest cutoff) for every customer
(segrec.recommend.ranker_pipeline.ranker_lists with the latest ranker of
int_recommendation__ranker_fits): buy-again, discover and blended, served through
customer_recommendations; the discover and blended lists re-ranked by var recommendation_rerank.
Read with the test cutoff through int_recommendation__ranker_lists."""

from segrec.engine import select, to_arrow, to_output_batches
from segrec.recommend.bias_rerank import rerank_settings
from segrec.recommend.pipeline import als_factory_for, as_frame
from segrec.recommend.ranker_pipeline import RANKER_LISTS_SCHEMA, RankerInputs, fitted_rankers, ranker_lists


def model(dbt, session):
    dbt.config(materialized="table")
    rerank = dbt.config.get("rerank")
    history = None
    if rerank_settings(rerank).needs_history:
        # what customers used before the cutoff: the category mix calibrated re-ranking pulls toward
        history = as_frame(to_arrow(select(
            dbt.ref("int_interactions__latest").filter("meets_min_activity"),
            ["'latest' as cutoff", "customer_key", "product_id"])))
    # dbt finds refs and config.get calls only outside subscripts: read into a name first
    windows = as_frame(to_arrow(dbt.ref("int_recommendation__windows")))
    inputs = RankerInputs(
        as_frame(to_arrow(dbt.ref("int_recommendation__purchase_lines"))),
        windows.iloc[0],
        to_arrow(dbt.ref("int_recommendation__hybrid_latest")),
        None,
        as_frame(to_arrow(dbt.ref("int_recommendation__products"))),
        as_frame(to_arrow(dbt.ref("int_recommendation__customers"))),
    )
    lists = ranker_lists(
        *inputs,
        settings=dbt.config.get("ranker"),
        list_length=dbt.config.get("list_length"),
        horizon_days=dbt.config.get("test_days"),
        max_per_category=dbt.config.get("max_per_category"),
        rerank=rerank,
        history=history,
        als_factory=als_factory_for(dbt.config.get("ml_engine"), session, dbt.config.get("spark_ml")),
        fits=fitted_rankers(to_arrow(dbt.ref("int_recommendation__ranker_fits"))),
        served=["latest"],
    )
    return to_output_batches(lists, RANKER_LISTS_SCHEMA, session)
