-- One (customer, list_type, rank): for every known customer three lists of up to
-- var recommendation_list_length products from the learned ranker (int_recommendation__ranker_lists,
-- latest cutoff): buy_again (own past products), discover (never bought) and blended (both, the
-- one to show when a page has room for a single list), with score, the strategy that proposed the
-- product, a reason in words, the customer's segment and the model version.
with

lists as (
    select * from {{ ref('int_recommendation__ranker_lists') }}
    where cutoff = 'latest'
),

customers as (
    select * from {{ ref('int_recommendation__customers') }}
),

final as (
    select
        lists.customer_key,
        lists.list_type,
        cast(lists.rank as integer) as rank,  -- noqa: RF04
        lists.product_id,
        lists.score,
        lists.strategy,
        lists.reason,
        customers.segment_name,
        lists.model_version
    from lists
    left join customers
        on lists.customer_key = customers.customer_key
)

select * from final
