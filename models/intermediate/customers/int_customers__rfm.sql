-- One customer with a clean purchase or return up to the as-of moment: orders (a purchase
-- without order_id is an order of its own), the last order, average order value and net
-- revenue (purchases minus returns): the frequency and monetary parts of RFM.
with

events as (
    {{ rows_up_to_as_of(ref('int_events__sessionized'), 'event_time') }}
),

orders as (
    select
        customer_key,
        {{ order_key() }} as order_key,
        min(event_time) as ordered_at,
        {{ sum_money("revenue") }} as order_value
    from events
    where event_type = 'purchase'
    group by customer_key, {{ order_key() }}
),

order_totals as (
    select
        customer_key,
        count(*) as frequency,
        max(ordered_at) as last_ordered_at,
        {{ sum_money("order_value") }} / count(*) as avg_order_value
    from orders
    group by customer_key
),

net_revenue as (
    select
        customer_key,
        {{ sum_money("revenue") }} as monetary
    from events
    where event_type in ('purchase', 'return')
    group by customer_key
),

final as (
    select
        coalesce(order_totals.customer_key, net_revenue.customer_key) as customer_key,
        order_totals.frequency,
        order_totals.last_ordered_at,
        order_totals.avg_order_value,
        net_revenue.monetary
    from order_totals
    full outer join net_revenue
        on order_totals.customer_key = net_revenue.customer_key
)

select * from final
