"""ALS grid search on the validation window (segrec.recommend.pipeline.tune_als): one row per
combination of var recommendation_als_grid with its NDCG@10 over the evaluation sample; the
selected one trains the test and the serving models (each fit by implicit or Spark: var ml_engine). Read it
through the mart recommendation_tuning."""

from segrec.engine import to_arrow, to_output
from segrec.recommend.pipeline import (
    als_factory_for,
    als_parameters,
    as_frame,
    cutoff_data,
    evaluated_keys,
    tune_als,
    windows_description,
)


def model(dbt, session):
    dbt.config(materialized="table")
    cutoff = "cutoff = 'validation'"
    customers = as_frame(to_arrow(dbt.ref("int_recommendation__customers")))
    data = cutoff_data(
        to_arrow(dbt.ref("int_interactions__holdout").filter(cutoff)),
        to_arrow(dbt.ref("int_recommendation__products").filter(cutoff)),
        customers,
    )
    truth = as_frame(to_arrow(dbt.ref("int_recommendation__holdout_truth").filter(cutoff)))
    base, random_state = als_parameters(dbt.config.get("als"))
    table = tune_als(
        data,
        truth[truth["customer_key"].isin(set(evaluated_keys(customers)))],  # the evaluation sample
        base=base,
        grid=dbt.config.get("als_grid"),
        random_state=random_state,
        max_per_category=dbt.config.get("max_per_category"),
        als_factory=als_factory_for(dbt.config.get("ml_engine"), session, dbt.config.get("spark_ml")),
    )
    windows = to_arrow(dbt.ref("int_recommendation__windows"))
    return to_output(table.assign(split_description=windows_description(windows)), session)
