-- ALS user factors of the serving model, one row per customer of the training matrix (zeros for
-- a customer without interactions), tagged with model_version.
with

factors as (
    select * from {{ ref('int_recommendation__als_factors') }}
    where entity_type = 'user'
),

final as (
    select
        entity_key as customer_key,
        model_version,
        factors,
        parameters as als_parameters
    from factors
)

select * from final
