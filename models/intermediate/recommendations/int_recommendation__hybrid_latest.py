"""The hybrid's top N per customer at the latest (served) cutoff, for every customer, with reasons:
one candidate source of the learned ranker's served lists (segrec.recommend.pipeline.hybrid_candidates).
Reuses the stored serving ALS (int_recommendation__als_factors). The hold-out cutoffs are
int_recommendation__hybrid_holdout, a model of its own so the two run side by side."""

from segrec.engine import to_arrow, to_output_batches
from segrec.recommend.pipeline import (
    HYBRID_CANDIDATES_SCHEMA,
    als_parameters,
    as_frame,
    cutoff_data,
    hybrid_candidates,
    restore_als,
    selected_parameters,
    sorted_text_keys,
)
from segrec.recommend.ranker_pipeline import ranker_settings


def model(dbt, session):
    dbt.config(materialized="table")
    customers = as_frame(to_arrow(dbt.ref("int_recommendation__customers")))
    where = "cutoff = 'latest'"
    data = cutoff_data(
        to_arrow(dbt.ref("int_interactions__latest")),
        to_arrow(dbt.ref("int_recommendation__products").filter(where)),
        customers,
    )
    als, _ = restore_als(to_arrow(dbt.ref("int_recommendation__als_factors")), data)
    _, random_state = als_parameters(dbt.config.get("als"))
    settings = ranker_settings(dbt.config.get("ranker"))  # a config.get dbt sees (not inside a subscript)
    # written out a batch at a time (50 rows a customer), in customer_key order: the ranker reads a batch
    # of customers as a slice (candidates.CutoffRows)
    batches = hybrid_candidates(
        data,
        to_arrow(dbt.ref("int_recommendation__recent_events").filter(where)),
        sorted_text_keys(customers["customer_key"]),
        cutoff="latest",
        n=settings["n_hybrid"],
        als_params=selected_parameters(to_arrow(dbt.ref("int_recommendation__als_grid"))),
        random_state=random_state,
        max_per_category=dbt.config.get("max_per_category"),
        als=als,
        explain=True,
    )
    return to_output_batches(batches, HYBRID_CANDIDATES_SCHEMA, session)
