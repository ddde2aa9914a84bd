-- One (product, similar product, method): the top 20 similar active products per product for
-- each method: cooccurrence (who interacted with both), content (category, brand, color, price
-- band) and als (item factors of the serving model).
with

neighbors as (
    select * from {{ ref('int_recommendation__item_neighbors') }}
),

final as (
    select
        product_id,
        similar_product_id,
        method,
        cast(rank as integer) as rank,  -- noqa: RF04
        score,
        model_version
    from neighbors
)

select * from final
