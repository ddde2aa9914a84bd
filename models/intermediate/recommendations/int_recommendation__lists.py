"""Top N products per known customer from the hybrid (segrec.recommend.HybridRecommender) on
the latest interactions, with the stored serving ALS (no second training): segment and context
re-ranking, business rules and a reason per row. Read it through customer_recommendations."""

from segrec.recommend import HybridRecommender
from segrec.recommend.pipeline import LISTS_SCHEMA, as_frame, cutoff_data, restore_als
from segrec.schemas import typed_table


def model(dbt, session):
    dbt.config(materialized="table")
    latest = "cutoff = 'latest'"
    customers = as_frame(dbt.ref("int_recommendation__customers").to_arrow_table())
    data = cutoff_data(
        dbt.ref("int_interactions__latest").to_arrow_table(),
        dbt.ref("int_recommendation__products").filter(latest).to_arrow_table(),
        customers,
    )
    als, version = restore_als(dbt.ref("int_recommendation__als_factors").to_arrow_table(), data)
    events = as_frame(dbt.ref("int_recommendation__recent_events").filter(latest).to_arrow_table())
    recommender = HybridRecommender(
        n=dbt.config.get("list_length"), max_per_category=dbt.config.get("max_per_category")
    ).fit(data, events, als=als)
    lists = recommender.recommend(sorted(customers["customer_key"])).assign(model_version=version)
    return typed_table(lists, LISTS_SCHEMA)
