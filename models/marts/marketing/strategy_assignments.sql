-- One known customer: the recommendation strategy to show them this period, drawn from their
-- segment's (and layout variant's) traffic shares in strategy_allocations, the same all period
-- (var strategy_allocation.period_days) and drawn again in the next, so each strategy gets its
-- share of customers while the bandit keeps learning. From int_experiment__strategy_assignments.py
-- (segrec.bandits.assign_strategies). list_type: the customer_recommendations list that serves the
-- strategy (var strategy_allocation.served_lists), null when segrec does not serve it.
with

assignments as (
    select * from {{ ref('int_experiment__strategy_assignments') }}
),

final as (
    select
        customer_key,
        segment_name,
        layout_variant,
        strategy,
        traffic_share,
        allocation_segment,
        list_type,
        period_start
    from assignments
)

select * from final
