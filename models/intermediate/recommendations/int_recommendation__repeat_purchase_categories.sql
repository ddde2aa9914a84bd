-- Repeat-purchase categories decided from the data at each cutoff ('latest' for serving,
-- 'validation' and 'test' from the hold-out's training data only): a (customer, product) pair
-- bought on two or more distinct days is a re-purchase; a category is repeat-purchase when
-- more than var recommendation_repeat_purchase_threshold of its bought pairs are re-purchases,
-- among at least var recommendation_repeat_purchase_min_pairs pairs. Products without a
-- category form one group (category null), decided the same way. Reads int_products__enriched
-- so that dim_products can take is_repeat_purchase_category from the latest cutoff.
with

purchases as (
    select
        'latest' as cutoff,
        customer_key,
        product_id,
        n_purchase_days
    from {{ ref('int_interactions__latest') }}
    where is_purchased
    union all
    select
        cutoff,
        customer_key,
        product_id,
        n_purchase_days
    from {{ ref('int_interactions__holdout') }}
    where is_purchased
),

products as (
    select
        product_id,
        category
    from {{ ref('int_products__enriched') }}
),

counted as (
    select
        purchases.cutoff,
        products.category,
        count(*) as n_pairs,
        cast(sum(case when purchases.n_purchase_days >= 2 then 1 else 0 end) as bigint) as n_repeat_pairs
    from purchases
    inner join products
        on purchases.product_id = products.product_id
    group by purchases.cutoff, products.category
),

final as (
    select
        cutoff,
        category,
        n_pairs,
        n_repeat_pairs,
        cast(n_repeat_pairs as double) / n_pairs as repurchase_rate,
        cast(n_repeat_pairs as double) / n_pairs > {{ var('recommendation_repeat_purchase_threshold') }}
        and n_pairs >= {{ var('recommendation_repeat_purchase_min_pairs') }} as is_repeat_purchase_category
    from counted
)

select * from final
