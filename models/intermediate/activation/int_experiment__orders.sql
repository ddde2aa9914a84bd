-- One order an assigned customer placed at or after their assignment, per experiment: the
-- outcome rows of the experiment analysis (conversion, revenue per customer, order value).
with

assignments as (
    select * from {{ ref('int_experiment__assignments') }}
),

purchases as (
    select * from {{ ref('int_events__sessionized') }}
    where event_type = 'purchase'
),

final as (
    select
        assignments.experiment_id,
        assignments.customer_key,
        {{ order_key('purchases') }} as order_key,
        min(purchases.event_time) as ordered_at,
        sum(purchases.revenue) as revenue
    from assignments
    inner join purchases
        on assignments.customer_key = purchases.customer_key
            and (assignments.assigned_at is null or assignments.assigned_at <= purchases.event_time)
    group by
        assignments.experiment_id,
        assignments.customer_key,
        {{ order_key('purchases') }}
)

select * from final
