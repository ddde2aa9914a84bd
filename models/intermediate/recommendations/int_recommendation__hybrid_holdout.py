"""The hybrid's top N per customer of the evaluation sample at each hold-out cutoff (test,
validation, train_<k>): one candidate source the learned ranker learns from and is judged with
(segrec.recommend.pipeline.hybrid_candidates). Each cutoff trains ALS with the selected parameters
(by implicit or Spark: var ml_engine). Apart from int_recommendation__hybrid_latest, so it runs
beside the served cutoff."""

from segrec.engine import to_arrow, to_output_batches
from segrec.recommend.pipeline import (
    HYBRID_CANDIDATES_SCHEMA,
    als_factory_for,
    als_parameters,
    as_frame,
    cutoff_data,
    evaluated_keys,
    hybrid_candidates,
    selected_parameters,
    sorted_text_keys,
)
from segrec.recommend.ranker_pipeline import holdout_cutoffs, ranker_settings


def model(dbt, session):
    dbt.config(materialized="table")
    # read nothing from it, wait for it: the serving ALS is on the way to the served lists and, like the fits
    # here, trains on every core; side by side both took longer
    dbt.ref("int_recommendation__als_factors")
    customers = as_frame(to_arrow(dbt.ref("int_recommendation__customers")))
    params = selected_parameters(to_arrow(dbt.ref("int_recommendation__als_grid")))
    _, random_state = als_parameters(dbt.config.get("als"))
    settings = ranker_settings(dbt.config.get("ranker"))  # a config.get dbt sees (not inside a subscript)
    als_factory = als_factory_for(dbt.config.get("ml_engine"), session, dbt.config.get("spark_ml"))
    windows = as_frame(to_arrow(dbt.ref("int_recommendation__windows"))).iloc[0]
    keys = sorted_text_keys(evaluated_keys(customers))

    def batches():  # rows in (cutoff, customer_key) order: the ranker reads a batch of customers as a slice
        for cutoff in holdout_cutoffs(windows):
            where = f"cutoff = '{cutoff}'"
            data = cutoff_data(
                to_arrow(dbt.ref("int_interactions__holdout").filter(where)),
                to_arrow(dbt.ref("int_recommendation__products").filter(where)),
                customers,
            )
            yield from hybrid_candidates(
                data,
                to_arrow(dbt.ref("int_recommendation__recent_events").filter(where)),
                keys,
                cutoff=cutoff,
                n=settings["n_hybrid"],
                als_params=params,
                random_state=random_state,
                max_per_category=dbt.config.get("max_per_category"),
                als_factory=als_factory,
            )

    return to_output_batches(batches(), HYBRID_CANDIDATES_SCHEMA, session)
