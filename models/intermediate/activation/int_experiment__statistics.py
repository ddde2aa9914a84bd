"""One row per (experiment, metric, variant): the statistics of every A/B test from
segrec.experiments.analyze_experiment over the int_experiment__* inputs (assignments, orders,
sessions and recommendation impressions after assignment). Read it through the contracted mart
experiment_results."""

from segrec.experiments import analyze_experiment


def model(dbt, session):
    dbt.config(materialized="table")
    # dbt parses ref() arguments as literals: one call per input
    results = analyze_experiment(
        dbt.ref("int_experiment__assignments").df(),
        dbt.ref("int_experiment__orders").df(),
        impressions=dbt.ref("int_experiment__impressions").df(),
        sessions=dbt.ref("int_experiment__sessions").df(),
        control=dbt.config.get("controls"),
        confidence=dbt.config.get("confidence"),
        minimum_effect=dbt.config.get("minimum_effect"),
        power=dbt.config.get("power"),
        srm_alpha=dbt.config.get("srm_alpha"),
    )
    return results  # typed by segrec.experiments.RESULT_SCHEMA
