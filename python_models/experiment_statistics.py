"""One row per (experiment, metric, variant): the statistics of every A/B test from
segrec.experiments.analyze_experiment over the int_experiment__* inputs (assignments, orders,
sessions and recommendation impressions after assignment). Read it through the contracted mart
experiment_results."""

from segrec.experiments import analyze_experiment

# Fixed column types, so an empty result (no experiments) still matches the mart's contract.
TYPES = {
    "experiment_id": "string", "metric": "string", "variant": "string", "n": "int64", "value": "float64",
    "lift": "float64", "ci_low": "float64", "ci_high": "float64", "p_value": "float64", "test": "string",
    "srm_p_value": "float64", "srm_ok": "boolean", "underpowered": "boolean", "difference": "float64",
    "difference_ci_low": "float64", "difference_ci_high": "float64", "minimum_detectable_lift": "float64",
}


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
    return results.astype(TYPES)
