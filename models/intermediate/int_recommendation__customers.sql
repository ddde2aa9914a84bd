-- The customers recommendation lists are for: every known customer (dim_customers; deleted
-- customers are already gone) and, with var recommendation_include_anonymous, every anonymous
-- visitor too, with the behavioural segment and rule segments of the latest
-- segmentation run and their usual context: the device and local daypart with the largest
-- share of their activity and their primary region (customer_features). Customers without
-- history are the cold-start rows (segment popularity and content picks).
with

customers as (
    select customer_key
    from {{ ref('dim_customers') }}
    {%- if not var('recommendation_include_anonymous') %}
    where not is_anonymous
    {%- endif %}
),

segments as (
    select
        customer_key,
        segment_name,
        rule_segments
    from {{ ref('customer_segments') }}
    where is_latest_run
),

features as (
    select * from {{ ref('customer_features') }}
),

final as (
    select
        customers.customer_key,
        segments.segment_name,
        segments.rule_segments,
        {{ largest_share_label({
            'mobile': 'features.share_mobile',
            'desktop': 'features.share_desktop',
            'tablet': 'features.share_tablet',
        }) }} as usual_device,
        {{ largest_share_label({
            'morning': 'features.share_morning',
            'afternoon': 'features.share_afternoon',
            'evening': 'features.share_evening',
            'night': 'features.share_night',
        }) }} as usual_daypart,
        features.primary_region as region
    from customers
    left join segments
        on customers.customer_key = segments.customer_key
    left join features
        on customers.customer_key = features.customer_key
)

select * from final
