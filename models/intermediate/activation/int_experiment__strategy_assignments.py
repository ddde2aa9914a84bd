"""Each known customer's recommendation strategy for the current period, drawn from their
group's Thompson-sampling allocation (segrec.bandits.assign_strategies; var strategy_allocation:
period_days, random_state, served_lists). Read it through the contracted mart strategy_assignments."""

from segrec.bandits import ASSIGNMENT_SCHEMA, allocation_settings, assign_strategies, assignment_period
from segrec.schemas import typed_table


def model(dbt, session):
    dbt.config(materialized="table")
    settings = allocation_settings(dbt.config.get("settings"))
    allocations = dbt.ref("int_experiment__strategy_allocations").df()
    customers = dbt.ref("int_experiment__allocation_groups").df()
    if allocations.empty:  # no impressions yet: nothing to draw from
        return ASSIGNMENT_SCHEMA.empty_table()
    start = assignment_period(allocations["as_of"].max(), settings["period_days"])
    assigned = assign_strategies(customers, allocations, period_start=start, random_state=settings["random_state"],
                                 served_lists=settings["served_lists"])
    return typed_table(assigned, ASSIGNMENT_SCHEMA)
