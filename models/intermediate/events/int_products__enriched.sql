-- Every product in the catalog or seen in clean events, with price band (tertile of price within
-- its top-level category), margin and newness.
{%- set as_of_time = '(select as_of_time from ' ~ ref('int_events__as_of') ~ ')' %}

with

catalog as (
    select * from {{ ref('stg_raw__products') }}
),

seen as (
    select distinct product_id
    from {{ ref('int_events__enriched') }}
    where product_id is not null
),

all_products as (
    select
        catalog.*,
        true as is_in_catalog
    from catalog
    union all
    select
        seen.product_id,
        {%- set text_columns = [
            'product_name', 'category_path', 'category', 'subcategory', 'leaf_category', 'brand', 'color'
        ] %}
        {%- for column in text_columns %}
        cast(null as {{ dbt.type_string() }}) as {{ column }},
        {%- endfor %}
        cast(null as double) as price,
        cast(null as double) as cost,
        cast(null as timestamp) as launched_at,
        true as is_active,
        false as is_in_catalog
    from seen
    where not exists (
            select 1 from catalog
            where catalog.product_id = seen.product_id
        )
),

ranked as (
    select
        *,
        case
            when price is not null
                then percent_rank() over (partition by category, price is null order by price)
        end as price_rank_in_category
    from all_products
),

final as (
    select
        product_id,
        product_name,
        category_path,
        category,
        subcategory,
        leaf_category,
        brand,
        color,
        price,
        cost,
        case when price > 0 and cost is not null then (price - cost) / price end as margin,
        case
            when price_rank_in_category is null then null
            when price_rank_in_category < 1.0 / 3 then 'budget'
            when price_rank_in_category <= 2.0 / 3 then 'mid'
            else 'premium'
        end as price_band,
        launched_at,
        coalesce(
            launched_at
            >= {{ dbt.dateadd('day', -1 * var('new_arrival_days'), as_of_time) }},
            false
        ) as is_new,
        is_active,
        is_in_catalog
    from ranked
)

select * from final
