-- Rule segments with boundaries taken from the data (var rule_segments), not fixed cut-offs.
-- A customer can carry several; rule_segments lists them (a list, empty for none) in a fixed
-- order. The display text of the mart customer_segments is built from it there.
{%- set rules = var('rule_segments') %}

with

features as (
    select * from {{ ref('int_customers__features') }}
),

boundaries as (
    select
        {{ percentile_cont('monetary', rules.high_value_spend_percentile) }} filter (where frequency > 0)
            as high_value_min_spend,
        {{ percentile_cont('frequency', rules.frequent_buyer_percentile) }} filter (where frequency > 0)
            as frequent_buyer_min_orders,
        {{ percentile_cont('conversion_rate', rules.browser_conversion_percentile) }} as browser_max_conversion,
        {{ percentile_cont('n_page_views + n_product_views', rules.browser_views_percentile) }} as browser_min_views,
        {{ percentile_cont('recency_days', rules.at_risk_recency_percentile) }} filter (where frequency > 0)
            as at_risk_min_recency_days,
        {{ percentile_cont('recency_days', rules.lapsed_recency_percentile) }} filter (where frequency > 0)
            as lapsed_min_recency_days
    from features
),

flagged as (
    select
        features.customer_key,
        features.frequency > 0 and features.monetary >= boundaries.high_value_min_spend as is_high_value,
        features.frequency >= greatest(boundaries.frequent_buyer_min_orders, 2) as is_frequent_buyer,
        features.conversion_rate <= boundaries.browser_max_conversion
        and features.n_page_views + features.n_product_views >= boundaries.browser_min_views as is_browser,
        features.tenure_days <= {{ rules.new_customer_days }} as is_new,
        features.frequency > 0
        and features.recency_days >= boundaries.at_risk_min_recency_days
        and features.recency_days < boundaries.lapsed_min_recency_days as is_at_risk,
        features.frequency > 0 and features.recency_days >= boundaries.lapsed_min_recency_days as is_lapsed,
        {{ rfm_segment_name('features.r_score', 'features.f_score') }} as rfm_segment,
        boundaries.high_value_min_spend,
        boundaries.frequent_buyer_min_orders,
        boundaries.browser_max_conversion,
        boundaries.browser_min_views,
        boundaries.at_risk_min_recency_days,
        boundaries.lapsed_min_recency_days
    from features
    cross join boundaries
),

final as (
    select
        *,
        {{ array_without_nulls([
            "case when is_high_value then 'high_value' end",
            "case when is_frequent_buyer then 'frequent_buyer' end",
            "case when is_browser then 'browser' end",
            "case when is_new then 'new' end",
            "case when is_at_risk then 'at_risk' end",
            "case when is_lapsed then 'lapsed' end",
        ]) }} as rule_segments
    from flagged
)

select * from final
