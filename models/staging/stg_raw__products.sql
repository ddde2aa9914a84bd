-- One row per product_id (the last row written wins), category path split into levels.
with

source as (
    select * from {{ raw_table('products') }}
),

parsed as (
    select
        {{ clean_text('product_id') }} as product_id,
        {{ clean_text('name') }} as product_name,
        {{ clean_text('category_path') }} as category_path,
        nullif(trim({{ dbt.split_part('category_path', "'>'", 1) }}), '') as category,
        nullif(trim({{ dbt.split_part('category_path', "'>'", 2) }}), '') as subcategory,
        nullif(trim({{ dbt.split_part('category_path', "'>'", 3) }}), '') as leaf_category,
        {{ clean_text('brand') }} as brand,
        lower({{ clean_text('color') }}) as color,
        try_cast(price as double) as price,
        try_cast(cost as double) as cost,
        {{ parse_utc_timestamp('launched_at') }} as launched_at,
        coalesce({{ parse_boolean('is_active') }}, true) as is_active,
        _source_file,
        _source_row
    from source
),

final as (
    select {{ star_except(['_source_file', '_source_row']) }}
    from parsed
    where product_id is not null
    qualify row_number() over (partition by product_id order by _source_file desc, _source_row desc) = 1
)

select * from final
