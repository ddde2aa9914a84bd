"""The top 20 similar active products per product and method (co-occurrence, content, ALS item
factors of the stored serving model), segrec.recommend.pipeline.similarity_table. Read it
through item_similarities."""

from segrec.engine import to_arrow, to_output
from segrec.recommend.pipeline import NEIGHBORS_SCHEMA, cutoff_data, restore_als, similarity_table
from segrec.schemas import typed_table


def model(dbt, session):
    dbt.config(materialized="table")
    data = cutoff_data(
        to_arrow(dbt.ref("int_interactions__latest")),
        to_arrow(dbt.ref("int_recommendation__products").filter("cutoff = 'latest'")),
        to_arrow(dbt.ref("int_recommendation__customers")),
    )
    als, version = restore_als(to_arrow(dbt.ref("int_recommendation__als_factors")), data)
    neighbors = similarity_table(data, als, top_n=20).assign(model_version=version)
    return to_output(typed_table(neighbors, NEIGHBORS_SCHEMA), session)
