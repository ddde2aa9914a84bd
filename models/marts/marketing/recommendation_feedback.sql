-- One (recommendation strategy, segment): impressions, clicks and click-through rate, and how
-- often the shown product was bought within var feedback_attribution_days; segment_name is the
-- customer's behavioural segment in the latest run ('unsegmented' when not scored, 'all' = every
-- segment). Feeds the choice of strategy per segment.
with

impressions as (
    select * from {{ ref('int_privacy__recommendation_impressions') }}
),

segments as (
    select
        customer_key,
        segment_name
    from {{ ref('customer_segments') }}
    where is_latest_run
),

purchases as (
    select
        customer_key,
        product_id,
        event_time
    from {{ ref('fct_events') }}
    where event_type = 'purchase' and product_id is not null
),

judged as (
    select
        impressions.customer_key,
        impressions.strategy,
        coalesce(segments.segment_name, 'unsegmented') as customer_segment,
        impressions.clicked,
        exists(
            select 1 from purchases
            where purchases.customer_key = impressions.customer_key
                and purchases.product_id = impressions.product_id
                and purchases.event_time >= impressions.shown_at
                and purchases.event_time
                <= {{ dbt.dateadd('day', var('feedback_attribution_days'), 'impressions.shown_at') }}
        ) as converted
    from impressions
    left join segments
        on impressions.customer_key = segments.customer_key
),

scoped as (
    -- every impression counts for its segment and once more for the strategy overall ('all')
    select
        strategy,
        customer_segment as segment_name,
        customer_key,
        clicked,
        converted
    from judged
    union all
    select
        strategy,
        'all' as segment_name,
        customer_key,
        clicked,
        converted
    from judged
),

counted as (
    select
        strategy,
        segment_name,
        count(*) as n_impressions,
        count(distinct customer_key) as n_customers,
        count(case when clicked then 1 end) as n_clicks,
        count(case when converted then 1 end) as n_conversions,
        count(case when clicked and converted then 1 end) as n_click_conversions
    from scoped
    group by strategy, segment_name
),

final as (
    select
        strategy,
        segment_name,
        n_impressions,
        n_customers,
        n_clicks,
        n_clicks / n_impressions as click_through_rate,
        n_conversions,
        n_conversions / n_impressions as conversion_rate,
        n_click_conversions,
        n_click_conversions / nullif(n_clicks, 0) as click_conversion_rate
    from counted
)

select * from final
