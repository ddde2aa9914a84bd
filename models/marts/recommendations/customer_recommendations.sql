-- One (customer, rank): the top var recommendation_list_length products per known customer, with
-- score, the strategy that put the product there, a reason in words and the model version.
with

lists as (
    select * from {{ ref('int_recommendation__lists') }}
),

final as (
    select
        customer_key,
        cast(rank as integer) as rank,  -- noqa: RF04
        product_id,
        score,
        strategy,
        reason,
        segment_name,
        model_version
    from lists
)

select * from final
