-- What each customer with an event up to the validation cutoff did in the hold-out window
-- (cutoff_time, cutoff_time + horizon_days]: next_revenue (net of returns), log_next_revenue
-- (ln(1 + next_revenue), floored at 0), purchased, active_before (bought in the horizon_days up
-- to the cutoff) and retained (purchased, null when not active_before: its mean is a retention
-- rate). The outcomes segrec.segmentation.validation.next_period_outcomes computes in pandas.
with

holdout as (
    select * from {{ ref('int_segmentation__holdout_window') }}
    where is_enabled
),

features as (
    select * from {{ ref('int_segmentation__holdout_features') }}
),

events as (
    select * from {{ ref('int_events__sessionized') }}
),

customers as (
    select distinct customer_key
    from features
),

windowed as (
    select
        events.customer_key,
        events.event_type,
        events.revenue,
        events.event_time > holdout.cutoff_time as is_after
    from events
    cross join holdout
    where events.event_type in ('purchase', 'return')
        and events.event_time > {{ dbt.dateadd('day', '-1 * holdout.horizon_days', 'holdout.cutoff_time') }}
        and events.event_time <= {{ dbt.dateadd('day', 'holdout.horizon_days', 'holdout.cutoff_time') }}
),

per_customer as (
    select
        customer_key,
        {{ sum_money('case when is_after then revenue end') }} as next_revenue,
        count(case when is_after and event_type = 'purchase' and revenue > 0 then 1 end) > 0 as purchased,
        count(case when not is_after and event_type = 'purchase' and revenue > 0 then 1 end) > 0 as active_before
    from windowed
    group by customer_key
),

final as (
    select
        customers.customer_key,
        coalesce(per_customer.next_revenue, 0) as next_revenue,
        ln(1 + greatest(coalesce(per_customer.next_revenue, 0), 0)) as log_next_revenue,
        coalesce(per_customer.purchased, false) as purchased,
        coalesce(per_customer.active_before, false) as active_before,
        case when per_customer.active_before then per_customer.purchased end as retained
    from customers
    left join per_customer
        on customers.customer_key = per_customer.customer_key
)

select * from final
