-- Purchase lines, the input of the learned ranker's candidate sources and of the buy-again
-- baseline (segrec.recommend.candidates): one row per clean purchase event with a positive
-- quantity (returns are left out: a list is about what customers keep). Anonymous visitors'
-- purchases count for popularity; lists are only for int_recommendation__customers.
with

events as (
    select * from {{ ref('int_events__sessionized') }}
),

final as (
    select
        customer_key,
        product_id,
        order_id,
        event_time,
        cast(quantity as double) as quantity,
        cast(unit_price as double) as unit_price
    from events
    where event_type = 'purchase'
        and quantity > 0
        and customer_key is not null
        and product_id is not null
)

select * from final
