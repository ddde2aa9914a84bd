"""The hybrid's top N per customer at each cutoff (latest, test, validation, train_<k>): one
candidate source of the learned ranker (segrec.recommend.pipeline.hybrid_candidates). The latest
cutoff reuses the stored serving ALS; the hold-out cutoffs train ALS with the selected parameters (by
implicit or Spark: var ml_engine)."""

from segrec.engine import to_arrow, to_output_batches
from segrec.recommend.pipeline import (
    HYBRID_CANDIDATES_SCHEMA,
    als_factory_for,
    als_parameters,
    as_frame,
    cutoff_data,
    evaluated_keys,
    hybrid_candidates,
    restore_als,
    selected_parameters,
    sorted_text_keys,
)
from segrec.recommend.ranker_pipeline import holdout_moments, ranker_settings


def model(dbt, session):
    dbt.config(materialized="table")
    customers = as_frame(to_arrow(dbt.ref("int_recommendation__customers")))
    params = selected_parameters(to_arrow(dbt.ref("int_recommendation__als_grid")))
    _, random_state = als_parameters(dbt.config.get("als"))
    settings = ranker_settings(dbt.config.get("ranker"))
    als_factory = als_factory_for(dbt.config.get("ml_engine"), session, dbt.config.get("spark_ml"))
    windows = as_frame(to_arrow(dbt.ref("int_recommendation__windows"))).iloc[0]
    # served lists for everybody, hold-out lists for the evaluation sample; in key order (below)
    keys = {"latest": sorted_text_keys(customers["customer_key"]),
            "sample": sorted_text_keys(evaluated_keys(customers))}

    def batches():  # written out a batch at a time (to_output_batches): the served cutoff is 50 rows a customer
        # rows in (cutoff, customer_key) order: the ranker reads a batch of customers as a slice (CutoffRows)
        for cutoff in sorted(holdout_moments(windows)):
            where = f"cutoff = '{cutoff}'"
            if cutoff == "latest":
                interactions = dbt.ref("int_interactions__latest")
            else:
                interactions = dbt.ref("int_interactions__holdout").filter(where)
            data = cutoff_data(
                to_arrow(interactions),
                to_arrow(dbt.ref("int_recommendation__products").filter(where)),
                customers,
            )
            als = None
            if cutoff == "latest":
                als, _ = restore_als(to_arrow(dbt.ref("int_recommendation__als_factors")), data)
            yield from hybrid_candidates(
                data,
                to_arrow(dbt.ref("int_recommendation__recent_events").filter(where)),
                keys["latest" if cutoff == "latest" else "sample"],
                cutoff=cutoff,
                n=settings["n_hybrid"],
                als_params=params,
                random_state=random_state,
                max_per_category=dbt.config.get("max_per_category"),
                als=als,
                explain=cutoff == "latest",
                als_factory=als_factory,
            )

    return to_output_batches(batches(), HYBRID_CANDIDATES_SCHEMA, session)
