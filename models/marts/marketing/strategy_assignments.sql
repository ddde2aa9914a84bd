-- One known customer: the recommendation strategy to show them this period, drawn from their
-- segment's (and layout variant's) traffic shares in strategy_allocations, the same all period
-- (var strategy_allocation.period_days) and drawn again in the next, so each strategy gets its
-- share of customers while the bandit keeps learning. From int_experiment__strategy_assignments.py
-- (segrec.bandits.assign_strategies).
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
        period_start
    from assignments
)

select * from final
