-- Product side data of the recommenders at each cutoff ('latest', 'validation', 'test'):
-- catalog attributes from int_products__enriched, margin clipped to [0, 1] (a product sold below cost
-- has no margin to favour), newness (launched within var new_arrival_days before the cutoff),
-- recommendable only when active, in the catalog and already there at the cutoff (launched
-- before it or, without a launch date, seen in the cutoff's training interactions: the
-- hold-out never recommends a product from its future), and the repeat-purchase decision of
-- that cutoff for its category. A shop without a catalog feed at all (no products table, as in
-- clickstream-only data) recommends the products seen in its events; with a catalog, a product
-- missing from it is never shown.
with

cutoffs as (
    {{ recommendation_cutoffs(ref('int_recommendation__windows')) }}
),

products as (
    select * from {{ ref('int_products__enriched') }}
),

catalog as (
    select coalesce(bool_or(is_in_catalog), false) as has_catalog
    from products
),

ever_seen as (
    select distinct product_id
    from {{ ref('int_interactions__events') }}
),

-- products in each cutoff's training interactions (with var recommendation_holdout_split
-- last_event these include the hold-out customers' window events before their hit)
seen as (
    select distinct
        'latest' as cutoff,
        product_id
    from {{ ref('int_interactions__latest') }}
    union all
    select distinct
        cutoff,
        product_id
    from {{ ref('int_interactions__holdout') }}
),

repeat_categories as (
    select * from {{ ref('int_recommendation__repeat_purchase_categories') }}
),

final as (
    select
        cutoffs.cutoff,
        products.product_id,
        products.product_name,
        products.category_path,
        products.category,
        products.subcategory,
        products.brand,
        products.color,
        products.price_band,
        greatest(0e0, least(1e0, coalesce(products.margin, 0e0))) as margin,
        coalesce(
            products.launched_at >= {{ dbt.dateadd('day', -1 * var('new_arrival_days'), 'cutoffs.cutoff_time') }}
            and {{ before_cutoff('products.launched_at') }},
            false
        ) as is_new,
        coalesce(products.is_active and (products.is_in_catalog or not catalog.has_catalog), false)
        and case
            when products.launched_at is not null then {{ before_cutoff('products.launched_at') }}
            -- a product with neither a launch date nor events is taken to be there already
            when ever_seen.product_id is null then true
            else seen.product_id is not null
        end as is_active,
        coalesce(repeat_categories.is_repeat_purchase_category, false) as is_repeat_purchase_category
    from cutoffs
    cross join products
    cross join catalog
    left join ever_seen
        on products.product_id = ever_seen.product_id
    left join seen
        on cutoffs.cutoff = seen.cutoff
            and products.product_id = seen.product_id
    left join repeat_categories
        on cutoffs.cutoff = repeat_categories.cutoff
            and products.category is not distinct from repeat_categories.category
)

select * from final
