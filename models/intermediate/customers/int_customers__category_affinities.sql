-- One (customer, top-level category) the customer interacted with: product views, carts and
-- purchases in that category and their share of the customer's product events.
with

product_events as (
    select
        customer_key,
        coalesce(category, 'Uncategorized') as category
    from {{ ref('int_customers__product_events') }}
),

counted as (
    select
        customer_key,
        category,
        count(*) as n_events
    from product_events
    group by customer_key, category
),

final as (
    select
        customer_key,
        category,
        -- the column name of the category in the clustering matrix and the Python models
        'cat_share__'
        || {{ trim_characters(regexp_replace_all('lower(category)', '[^a-z0-9]+', '_'), '_') }} as category_feature,
        n_events,
        n_events / sum(n_events) over (partition by customer_key) as category_share,
        -- bigint on every engine (Spark's row_number is an int)
        cast(row_number() over (partition by customer_key order by n_events desc, category asc) as bigint)
            as affinity_rank
    from counted
)

select * from final
