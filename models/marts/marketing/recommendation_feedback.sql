-- One (recommendation strategy, segment): impressions, clicks and click-through rate, and how
-- often the shown product was bought within var feedback_attribution_days; segment_name is the
-- customer's behavioural segment in the latest run ('unsegmented' when not scored, 'all' = every
-- segment). Feeds the choice of strategy per segment.
with

judged as (
    select * from {{ ref('int_experiment__impression_outcomes') }}
),

scoped as (
    -- every impression counts for its segment and once more for the strategy overall ('all')
    select
        strategy,
        segment_name,
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
