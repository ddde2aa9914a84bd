"""Thompson-sampling allocation of traffic across recommendation strategies per segment (and
layout variant) from int_experiment__impression_outcomes (segrec.bandits.strategy_allocations;
var strategy_allocation). Read it through the contracted mart strategy_allocations."""

from segrec.bandits import ALLOCATION_SCHEMA, ThompsonAllocator, allocation_settings, strategy_allocations
from segrec.engine import to_output, to_pandas
from segrec.schemas import typed_table


def model(dbt, session):
    dbt.config(materialized="table")
    settings = allocation_settings(dbt.config.get("settings"))
    allocator = ThompsonAllocator(
        floor=settings["floor"],
        credible_level=settings["credible_level"],
        draws=settings["draws"],
        random_state=settings["random_state"],
    )
    allocations = strategy_allocations(
        to_pandas(dbt.ref("int_experiment__impression_outcomes")),
        reward=settings["reward"],
        half_life_days=settings["half_life_days"],
        allocator=allocator,
    )
    return to_output(typed_table(allocations, ALLOCATION_SCHEMA), session)
