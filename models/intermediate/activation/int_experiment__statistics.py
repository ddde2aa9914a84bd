"""One row per (experiment, metric, variant): the statistics of every A/B test from
segrec.experiments.analyze_experiment over the int_experiment__* inputs (assignments, orders,
sessions and recommendation impressions after assignment). Read it through the contracted mart
experiment_results."""

from segrec.engine import to_output, to_pandas
from segrec.experiments import analyze_experiment


def model(dbt, session):
    dbt.config(materialized="table")
    # dbt parses ref() arguments as literals: one call per input
    results = analyze_experiment(
        to_pandas(dbt.ref("int_experiment__assignments")),
        to_pandas(dbt.ref("int_experiment__orders")),
        impressions=to_pandas(dbt.ref("int_experiment__impressions")),
        sessions=to_pandas(dbt.ref("int_experiment__sessions")),
        control=dbt.config.get("controls"),
        confidence=dbt.config.get("confidence"),
        minimum_effect=dbt.config.get("minimum_effect"),
        power=dbt.config.get("power"),
        srm_alpha=dbt.config.get("srm_alpha"),
    )
    return to_output(results, session)  # typed by segrec.experiments.RESULT_SCHEMA
