-- One (customer, top-level category) the customer interacted with: product views, carts and
-- purchases in that category and their share of the customer's product events.
with

as_of as (
    select {{ as_of_time(ref('fct_events')) }} as as_of_time
),

product_events as (
    select
        fct_events.customer_key,
        coalesce(dim_products.category, 'Uncategorized') as category
    from {{ ref('fct_events') }} as fct_events
    inner join {{ ref('dim_products') }} as dim_products
        on fct_events.product_id = dim_products.product_id
    cross join as_of
    where fct_events.event_type in ('product_view', 'add_to_cart', 'purchase')
        and fct_events.event_time <= as_of.as_of_time
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
        'cat_share__' || trim(regexp_replace(lower(category), '[^a-z0-9]+', '_', 'g'), '_') as category_feature,
        n_events,
        n_events / sum(n_events) over (partition by customer_key) as category_share,
        row_number() over (partition by customer_key order by n_events desc, category asc) as affinity_rank
    from counted
)

select * from final
