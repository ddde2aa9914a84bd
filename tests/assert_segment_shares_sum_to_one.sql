-- Customer shares of the latest run's segments sum to 1, and so do revenue shares (when there
-- is revenue at all).
with

totals as (
    select
        sum(customer_share) as customer_share,
        sum(revenue_share) as revenue_share,
        sum(revenue) as revenue
    from {{ ref('segment_profiles') }}
)

select *
from totals
where abs(customer_share - 1) > 1e-9
    or (revenue != 0 and abs(revenue_share - 1) > 1e-9)
