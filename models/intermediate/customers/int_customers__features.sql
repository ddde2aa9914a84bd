-- One known customer with at least one session: RFM values, quintile scores and percentiles,
-- engagement, price sensitivity and context shares, all as of the as-of moment
-- (int_events__as_of). Joins the feature groups (int_customers__rfm, __engagement, __context,
-- __price_sensitivity, __top_category_brand) and scores them; the mart customer_features reads
-- it, the scaled matrix for clustering is int_customers__feature_matrix.
{%- set weights = var('engagement_weights') %}

with

as_of as (
    select * from {{ ref('int_events__as_of') }}
),

customers as (
    select
        customer_key,
        customer_id,
        first_seen_at
    from {{ ref('int_customers__unified') }}
    where not is_anonymous
),

rfm as (
    select * from {{ ref('int_customers__rfm') }}
),

engagement as (
    select * from {{ ref('int_customers__engagement') }}
),

context as (
    select * from {{ ref('int_customers__context') }}
),

price_sensitivity as (
    select * from {{ ref('int_customers__price_sensitivity') }}
),

top_category_brand as (
    select * from {{ ref('int_customers__top_category_brand') }}
),

combined as (
    select
        customers.customer_key,
        customers.customer_id,
        cast(as_of.as_of_time as date) as as_of_date,
        {{ days_between('rfm.last_ordered_at', 'as_of.as_of_time') }} as days_since_last_order,
        coalesce(rfm.frequency, 0) as frequency,
        coalesce(rfm.monetary, 0) as monetary,
        coalesce(rfm.avg_order_value, 0) as avg_order_value,
        {{ days_between('customers.first_seen_at', 'as_of.as_of_time') }} as tenure_days,
        engagement.n_sessions,
        engagement.n_page_views,
        engagement.n_product_views,
        engagement.n_add_to_carts,
        engagement.conversion_rate,
        engagement.cart_rate,
        engagement.avg_session_minutes,
        engagement.email_open_rate,
        engagement.email_click_rate,
        engagement.promotion_redemption_rate,
        coalesce(price_sensitivity.premium_share, 0) as premium_share,
        coalesce(price_sensitivity.budget_share, 0) as budget_share,
        coalesce(price_sensitivity.new_arrival_share, 0) as new_arrival_share,
        context.share_mobile,
        context.share_desktop,
        context.share_tablet,
        context.share_morning,
        context.share_afternoon,
        context.share_evening,
        context.share_night,
        context.share_weekend,
        context.primary_region,
        top_category_brand.top_category,
        coalesce(top_category_brand.top_category_share, 0) as top_category_share,
        top_category_brand.top_brand,
        coalesce(top_category_brand.top_brand_share, 0) as top_brand_share
    from customers
    cross join as_of
    inner join engagement
        on customers.customer_key = engagement.customer_key
    left join context
        on customers.customer_key = context.customer_key
    left join rfm
        on customers.customer_key = rfm.customer_key
    left join price_sensitivity
        on customers.customer_key = price_sensitivity.customer_key
    left join top_category_brand
        on customers.customer_key = top_category_brand.customer_key
),

scored as (
    select
        *,
        -- a customer who never ordered is as recent as their first visit
        coalesce(days_since_last_order, tenure_days) as recency_days,
        frequency / greatest(tenure_days / 30.4375e0, 1e0) as orders_per_month,
        -- percentiles: the share of customers with a lower value (recency: a longer one)
        percent_rank() over (order by coalesce(days_since_last_order, tenure_days) desc) as recency_percentile,
        percent_rank() over (order by frequency) as frequency_percentile,
        percent_rank() over (order by monetary) as monetary_percentile,
        percent_rank() over (order by n_sessions) as visit_percentile
    from combined
),

final as (
    select
        customer_key,
        customer_id,
        as_of_date,
        recency_days,
        frequency,
        monetary,
        avg_order_value,
        tenure_days,
        orders_per_month,
        {{ quintile_score('recency_percentile') }} as r_score,
        {{ quintile_score('frequency_percentile') }} as f_score,
        {{ quintile_score('monetary_percentile') }} as m_score,
        {{ quintile_score('recency_percentile') }} * 100
        + {{ quintile_score('frequency_percentile') }} * 10
        + {{ quintile_score('monetary_percentile') }} as rfm_score,
        recency_percentile,
        frequency_percentile,
        monetary_percentile,
        n_sessions,
        n_page_views,
        n_product_views,
        n_add_to_carts,
        conversion_rate,
        cart_rate,
        avg_session_minutes,
        email_open_rate,
        email_click_rate,
        promotion_redemption_rate,
        {{ weights['email_open'] }} * email_open_rate
        + {{ weights['email_click'] }} * email_click_rate
        + {{ weights['visits'] }} * visit_percentile
        + {{ weights['promotions'] }} * promotion_redemption_rate as engagement_score,
        premium_share,
        budget_share,
        new_arrival_share,
        share_mobile,
        share_desktop,
        share_tablet,
        share_morning,
        share_afternoon,
        share_evening,
        share_night,
        share_weekend,
        primary_region,
        top_category,
        top_category_share,
        top_brand,
        top_brand_share
    from scored
)

select * from final
