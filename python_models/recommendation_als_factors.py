"""The serving ALS, trained once on the latest interactions with the parameters selected by
recommendation_als_grid: user and item factors as one artifact table tagged with model_version
(segrec.recommend.pipeline). recommendation_lists and item_neighbors reuse them; read them
through the marts recommendation_user_factors and recommendation_item_factors."""

from segrec.recommend.pipeline import (
    als_parameters,
    cutoff_data,
    factors_table,
    fit_als,
    model_version,
    selected_parameters,
)


def model(dbt, session):
    dbt.config(materialized="table")
    data = cutoff_data(
        dbt.ref("int_interactions__latest").to_arrow_table(),
        dbt.ref("int_recommendation__products").filter("cutoff = 'latest'").to_arrow_table(),
        dbt.ref("int_recommendation__customers").to_arrow_table(),
    )
    _, seed = als_parameters(dbt.config.get("als"))
    als = fit_als(data, selected_parameters(dbt.ref("recommendation_als_grid").to_arrow_table()), seed=seed)
    return factors_table(als, model_version(data.interactions, als.get_params()))
