-- ALS item factors of the serving model, one row per product of the training matrix, tagged
-- with model_version.
with

factors as (
    select * from {{ ref('int_recommendation__als_factors') }}
    where entity_type = 'item'
),

final as (
    select
        entity_key as product_id,
        model_version,
        factors,
        parameters as als_parameters
    from factors
)

select * from final
