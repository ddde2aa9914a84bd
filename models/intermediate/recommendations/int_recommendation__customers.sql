-- The customers recommendation lists are for: every known customer (int_customers__unified;
-- deleted customers are already gone) and, with var recommendation_include_anonymous, every
-- anonymous visitor too, with the behavioural segment and rule segments (a list) of the latest
-- segmentation run and their usual context: the device and local daypart with the largest
-- share of their activity and their primary region (int_customers__features). Customers without
-- history are the cold-start rows (segment popularity and content picks).
with

customers as (
    select customer_key
    from {{ ref('int_customers__unified') }}
    {%- if not var('recommendation_include_anonymous') %}
    where not is_anonymous
    {%- endif %}
),

members as (
    select
        customer_key,
        run_id,
        segment_id,
        rule_segments
    from {{ ref('int_segmentation__members') }}
    where is_latest_run
),

segments as (
    select
        members.customer_key,
        segment_names.segment_name,
        members.rule_segments
    from members
    inner join {{ ref('int_segmentation__segments') }} as segment_names
        on members.run_id = segment_names.run_id
            and members.segment_id = segment_names.segment_id
),

features as (
    select * from {{ ref('int_customers__features') }}
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
