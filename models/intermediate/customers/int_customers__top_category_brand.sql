-- One customer with a product event up to the as-of moment: the category and the brand they
-- touched most (ties: alphabetical) and the share of their product events each takes.
with

product_events as (
    select * from {{ ref('int_customers__product_events') }}
),

top_categories as (
    {{ most_frequent_value('product_events', 'category', 'top_category') }}
),

top_brands as (
    {{ most_frequent_value('product_events', 'brand', 'top_brand') }}
),

final as (
    select
        coalesce(top_categories.customer_key, top_brands.customer_key) as customer_key,
        top_categories.top_category,
        top_categories.top_category_share,
        top_brands.top_brand,
        top_brands.top_brand_share
    from top_categories
    full outer join top_brands
        on top_categories.customer_key = top_brands.customer_key
)

select * from final
