-- One recommendation impression of a known customer and product, with the unified customer_key
-- and a click flag; impressions of customers who asked to be deleted are left out.
with

impressions as (
    select * from {{ ref('stg_raw__recommendation_impressions') }}
    where customer_id is not null and product_id is not null
),

deleted as (
    select * from {{ ref('int_privacy__deleted_customers') }}
),

final as (
    select
        {{ customer_key('impressions.customer_id', 'null') }} as customer_key,
        impressions.product_id,
        coalesce(impressions.strategy, 'unknown') as strategy,
        impressions.shown_at,
        impressions.clicked_at,
        impressions.clicked_at is not null as clicked
    from impressions
    where not exists (
            select 1 from deleted
            where deleted.customer_id = impressions.customer_id
        )
)

select * from final
