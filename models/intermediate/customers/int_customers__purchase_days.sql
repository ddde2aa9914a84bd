-- One known (non-anonymous) customer and UTC day with a clean purchase up to the as-of moment:
-- the transactions of the customer value models (int_customers__value_scores.py).
-- Several orders on one day are one BG/NBD transaction. Returns are not linked to the order
-- they reverse, so they net out value per customer: each purchase day is scaled by the share of
-- the customer's gross purchase revenue kept after returns (floored at 0).

with

as_of as (
    select * from {{ ref('int_events__as_of') }}
),

known_customers as (
    select customer_key from {{ ref('int_customers__unified') }}
    where not is_anonymous
),

orders as (
    select
        events.customer_key,
        events.event_type,
        events.revenue,
        {{ dbt.date_trunc('day', 'events.event_time') }} as purchase_day,
        as_of.as_of_time
    from {{ ref('int_events__sessionized') }} as events
    inner join known_customers
        on events.customer_key = known_customers.customer_key
    cross join as_of
    where events.event_type in ('purchase', 'return')
        and events.event_time <= as_of.as_of_time
),

net_shares as (
    -- return revenue is negative: 1 + returned / gross is the share kept
    select
        customer_key,
        greatest(
            0e0,
            1e0
            + {{ sum_money("case when event_type = 'return' then revenue else 0 end") }}
            / {{ sum_money("case when event_type = 'purchase' then revenue end") }}
        ) as net_share
    from orders
    group by customer_key
),

gross_days as (
    select
        customer_key,
        purchase_day,
        as_of_time,
        {{ sum_money('revenue') }} as gross_value
    from orders
    where event_type = 'purchase'
    group by customer_key, purchase_day, as_of_time
),

days as (
    select
        gross_days.customer_key,
        gross_days.purchase_day,
        gross_days.gross_value * net_shares.net_share as purchase_value,
        min(gross_days.purchase_day) over customer as first_purchase_day,
        nth_value(gross_days.purchase_day, 2) over customer as second_purchase_day,
        gross_days.as_of_time
    from gross_days
    inner join net_shares
        on gross_days.customer_key = net_shares.customer_key
    window customer as (
        partition by gross_days.customer_key
        order by gross_days.purchase_day
        rows between unbounded preceding and unbounded following
    )
),

final as (
    select
        customer_key,
        purchase_day,
        purchase_value,
        {{ days_between('first_purchase_day', 'second_purchase_day') }} as days_to_second_purchase,
        as_of_time
    from days
)

select * from final
