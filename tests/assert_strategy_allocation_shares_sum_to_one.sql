-- Per (segment, layout variant), the strategies' traffic shares and probabilities of being
-- best each sum to 1.
with

totals as (
    select
        segment_name,
        layout_variant,
        sum(traffic_share) as traffic_share,
        sum(prob_best) as prob_best
    from {{ ref('strategy_allocations') }}
    group by segment_name, layout_variant
)

select *
from totals
where abs(traffic_share - 1) > 1e-9 or abs(prob_best - 1) > 1e-9
