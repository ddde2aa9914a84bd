-- Every product's group for segmentation's taste features: the catalog's category, or, where
-- the catalog has none, a group found from product names (int_segmentation__product_groups).
-- What the group_share__<group> features count; the service reads it for live visitors' shares.
with

groups as (
    select * from {{ ref('int_segmentation__product_groups') }}
),

final as (
    select
        product_id,
        product_group,
        group_label,
        group_feature,
        source
    from groups
)

select * from final
