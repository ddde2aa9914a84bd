-- One segment of the latest run: size and share, revenue share, conversion, means of the
-- readable features, the decision-tree rules that describe it, and a recommended action
-- (seeds/segment_actions.csv, by archetype).
with

members as (
    select * from {{ ref('customer_segments') }}
    where is_latest_run
),

segments as (
    select * from {{ ref('int_segmentation__segments') }}
),

features as (
    select * from {{ ref('customer_features') }}
),

actions as (
    select * from {{ ref('segment_actions') }}
),

generic_action as (
    -- the seed row without an archetype: for segments that match none
    select recommended_action from actions
    where archetype is null
),

profiled as (
    select
        members.run_id,
        members.model_version,
        members.segment_id,
        count(*) as n_customers,
        {{ sum_money("features.monetary") }} as revenue,
        avg(features.monetary) as avg_monetary,
        avg(features.frequency) as avg_frequency,
        avg(features.avg_order_value) as avg_order_value,
        avg(features.recency_days) as avg_recency_days,
        avg(features.conversion_rate) as avg_conversion_rate,
        avg(features.engagement_score) as avg_engagement_score,
        avg(features.promotion_redemption_rate) as avg_promotion_redemption_rate,
        avg(features.premium_share) as avg_premium_share,
        avg(features.budget_share) as avg_budget_share,
        avg(features.new_arrival_share) as avg_new_arrival_share,
        avg(features.share_mobile) as avg_share_mobile,
        avg(features.share_evening) as avg_share_evening,
        avg(members.confidence) as avg_confidence,
        mode(features.top_category) as top_category,
        mode(features.primary_region) as primary_region
    from members
    inner join features
        on members.customer_key = features.customer_key
    group by members.run_id, members.model_version, members.segment_id
),

final as (
    select
        profiled.segment_id,
        segments.segment_name,
        segments.description,
        segments.archetype,
        segments.rules,
        segments.drivers,
        profiled.n_customers,
        profiled.n_customers / sum(profiled.n_customers) over () as customer_share,
        profiled.revenue,
        coalesce(profiled.revenue / nullif(sum(profiled.revenue) over (), 0), 0) as revenue_share,
        profiled.avg_monetary,
        profiled.avg_frequency,
        profiled.avg_order_value,
        profiled.avg_recency_days,
        profiled.avg_conversion_rate,
        profiled.avg_engagement_score,
        profiled.avg_promotion_redemption_rate,
        profiled.avg_premium_share,
        profiled.avg_budget_share,
        profiled.avg_new_arrival_share,
        profiled.avg_share_mobile,
        profiled.avg_share_evening,
        profiled.avg_confidence,
        profiled.top_category,
        profiled.primary_region,
        coalesce(archetype_actions.recommended_action, generic_action.recommended_action) as recommended_action,
        profiled.run_id,
        profiled.model_version
    from profiled
    inner join segments
        on profiled.run_id = segments.run_id
            and profiled.segment_id = segments.segment_id
    left join actions as archetype_actions
        on segments.archetype = archetype_actions.archetype
    cross join generic_action
)

select * from final
