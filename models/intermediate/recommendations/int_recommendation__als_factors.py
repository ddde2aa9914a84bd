"""The serving ALS, trained once on the latest interactions with the parameters selected by
int_recommendation__als_grid: user and item factors as one artifact table tagged with model_version
and data_version (segrec.recommend.pipeline). int_recommendation__lists and int_recommendation__item_neighbors
reuse them; read them through the marts recommendation_user_factors and recommendation_item_factors, and
the fit itself through model_fits. Trained by implicit or Spark (var ml_engine)."""

from segrec.engine import select, to_arrow, to_output
from segrec.recommend.pipeline import (
    INTERACTION_COLUMNS,
    als_factory_for,
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
        to_arrow(select(dbt.ref("int_interactions__latest"), INTERACTION_COLUMNS)),
        to_arrow(select(dbt.ref("int_recommendation__products").filter("cutoff = 'latest'"), ["product_id"])),
        to_arrow(select(dbt.ref("int_recommendation__customers"), ["customer_key"])),
    )
    _, random_state = als_parameters(dbt.config.get("als"))
    params = selected_parameters(to_arrow(dbt.ref("int_recommendation__als_grid")))
    als_factory = als_factory_for(dbt.config.get("ml_engine"), session, dbt.config.get("spark_ml"))
    als = fit_als(matrix, params, random_state=random_state, als_factory=als_factory)
    return to_output(factors_table(als, matrix), session)
