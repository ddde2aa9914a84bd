"""The serving ALS, trained once on the latest interactions with the parameters selected by
int_recommendation__als_grid: user and item factors as one artifact table tagged with model_version
and data_version (segrec.recommend.pipeline). int_recommendation__lists and int_recommendation__item_neighbors
reuse them; read them through the marts recommendation_user_factors and recommendation_item_factors, and
the fit itself through model_fits."""

from segrec.recommend.pipeline import (
    INTERACTION_COLUMNS,
    als_parameters,
    cutoff_matrix,
    factors_table,
    fit_als,
    selected_parameters,
)


def model(dbt, session):
    dbt.config(materialized="table")
    # Only what training needs: the matrix has the same keys as the lists' cutoff_data.
    matrix = cutoff_matrix(
        dbt.ref("int_interactions__latest").project(", ".join(INTERACTION_COLUMNS)).to_arrow_table(),
        dbt.ref("int_recommendation__products").filter("cutoff = 'latest'").project("product_id").to_arrow_table(),
        dbt.ref("int_recommendation__customers").project("customer_key").to_arrow_table(),
    )
    _, random_state = als_parameters(dbt.config.get("als"))
    params = selected_parameters(dbt.ref("int_recommendation__als_grid").to_arrow_table())
    als = fit_als(matrix, params, random_state=random_state)
    return factors_table(als, matrix)
