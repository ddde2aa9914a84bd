-- One customer with a product event up to the as-of moment: the shares of their product
-- events on premium and budget products (price band known) and on new arrivals (launched
-- within var new_arrival_days before the event).
with

product_events as (
    select * from {{ ref('int_customers__product_events') }}
),

final as (
    select
        customer_key,
        avg(case when price_band = 'premium' then 1e0 when price_band is not null then 0e0 end) as premium_share,
        avg(case when price_band = 'budget' then 1e0 when price_band is not null then 0e0 end) as budget_share,
        avg(
            case
                when launched_at > {{ dbt.dateadd('day', -1 * var('new_arrival_days'), 'event_time') }}
                    and launched_at <= event_time then 1e0
                else 0e0
            end
        ) as new_arrival_share
    from product_events
    group by customer_key
)

select * from final
