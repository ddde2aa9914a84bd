"""Each known customer's recommendation strategy for the current period, drawn from their
group's Thompson-sampling allocation (segrec.bandits.assign_strategies; var strategy_allocation:
period_days, random_state, served_lists). Read it through the contracted mart strategy_assignments."""

from segrec.bandits import ASSIGNMENT_SCHEMA, allocation_settings, assign_strategies, assignment_period
from segrec.engine import to_output, to_pandas
from segrec.schemas import typed_table


def model(dbt, session):
    dbt.config(materialized="table")
    settings = allocation_settings(dbt.config.get("settings"))
    allocations = to_pandas(dbt.ref("int_experiment__strategy_allocations"))
    customers = to_pandas(dbt.ref("int_experiment__allocation_groups"))
    if allocations.empty:  # no impressions yet: nothing to draw from
        return to_output(ASSIGNMENT_SCHEMA.empty_table(), session)
    start = assignment_period(allocations["as_of"].max(), settings["period_days"])
    assigned = assign_strategies(customers, allocations, period_start=start, random_state=settings["random_state"],
                                 served_lists=settings["served_lists"])
    return to_output(typed_table(assigned, ASSIGNMENT_SCHEMA), session)
