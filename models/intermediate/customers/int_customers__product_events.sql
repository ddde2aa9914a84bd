-- One clean product event (view, add to cart, purchase) up to the as-of moment with the
-- product's category, brand, price band and launch: what the price, category and brand
-- features of customers count. A view, so the events are not copied.
{{ config(materialized='view') }}

with

events as (
    {{ rows_up_to_as_of(ref('int_events__sessionized'), 'event_time') }}
),

products as (
    select * from {{ ref('int_products__enriched') }}
),

final as (
    select
        events.customer_key,
        events.event_time,
        products.category,
        products.brand,
        products.price_band,
        products.launched_at
    from events
    inner join products
        on events.product_id = products.product_id
    where events.event_type in ('product_view', 'add_to_cart', 'purchase')
)

select * from final
