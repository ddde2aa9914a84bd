-- One known customer with at least one session: RFM values, quintile scores and percentiles,
-- engagement, price sensitivity and context shares, all as of the as-of date (var as_of_date,
-- default the latest clean event). Readable units; the scaled matrix for clustering is
-- int_customers__feature_matrix.
{%- set weights = var('engagement_weights') %}

with

as_of as (
    select {{ as_of_time(ref('fct_events')) }} as as_of_time
),

customers as (
    select
        customer_key,
        customer_id,
        first_seen_at
    from {{ ref('dim_customers') }}
    where not is_anonymous
),

events as (
    select fct_events.*
    from {{ ref('fct_events') }} as fct_events
    cross join as_of
    where fct_events.event_time <= as_of.as_of_time
),

sessions as (
    select fct_sessions.*
    from {{ ref('fct_sessions') }} as fct_sessions
    cross join as_of
    where fct_sessions.session_start <= as_of.as_of_time
),

products as (
    select * from {{ ref('dim_products') }}
),

orders as (
    select
        customer_key,
        coalesce(order_id, event_id) as order_key,
        min(event_time) as ordered_at,
        {{ sum_money("revenue") }} as order_value
    from events
    where event_type = 'purchase'
    group by customer_key, coalesce(order_id, event_id)
),

order_totals as (
    select
        customer_key,
        count(*) as frequency,
        max(ordered_at) as last_ordered_at,
        {{ sum_money("order_value") }} / count(*) as avg_order_value
    from orders
    group by customer_key
),

net_revenue as (
    select
        customer_key,
        {{ sum_money("revenue") }} as monetary
    from events
    where event_type in ('purchase', 'return')
    group by customer_key
),

session_totals as (
    select
        customer_key,
        count(*) as n_sessions,
        cast(sum(n_page_views) as bigint) as n_page_views,
        cast(sum(n_product_views) as bigint) as n_product_views,
        cast(sum(n_add_to_carts) as bigint) as n_add_to_carts,
        avg(case when converted then 1.0 else 0.0 end) as conversion_rate,
        avg(duration_seconds) / 60.0 as avg_session_minutes,
        avg(case when device_type = 'mobile' then 1.0 else 0.0 end) as share_mobile,
        avg(case when device_type = 'desktop' then 1.0 else 0.0 end) as share_desktop,
        avg(case when device_type = 'tablet' then 1.0 else 0.0 end) as share_tablet
    from sessions
    group by customer_key
),

event_context as (
    select
        customer_key,
        avg(case when daypart = 'morning' then 1.0 else 0.0 end) as share_morning,
        avg(case when daypart = 'afternoon' then 1.0 else 0.0 end) as share_afternoon,
        avg(case when daypart = 'evening' then 1.0 else 0.0 end) as share_evening,
        avg(case when daypart = 'night' then 1.0 else 0.0 end) as share_night,
        avg(case when is_weekend then 1.0 else 0.0 end) as share_weekend,
        mode(region) as primary_region
    from events
    group by customer_key
),

product_events as (
    select
        events.customer_key,
        events.event_time,
        products.category,
        products.brand,
        products.price_band,
        products.launched_at
    from events
    inner join products
        on events.product_id = products.product_id
    where events.event_type in ('product_view', 'add_to_cart', 'purchase')
),

price_context as (
    select
        customer_key,
        avg(case when price_band = 'premium' then 1.0 when price_band is not null then 0.0 end) as premium_share,
        avg(case when price_band = 'budget' then 1.0 when price_band is not null then 0.0 end) as budget_share,
        avg(
            case
                when launched_at > {{ dbt.dateadd('day', -1 * var('new_arrival_days'), 'event_time') }}
                    and launched_at <= event_time then 1.0
                else 0.0
            end
        ) as new_arrival_share
    from product_events
    group by customer_key
),

top_categories as (
    select
        customer_key,
        category as top_category,
        count(*) / sum(count(*)) over (partition by customer_key) as top_category_share
    from product_events
    where category is not null
    group by customer_key, category
    qualify row_number() over (partition by customer_key order by count(*) desc, category) = 1
),

top_brands as (
    select
        customer_key,
        brand as top_brand,
        count(*) / sum(count(*)) over (partition by customer_key) as top_brand_share
    from product_events
    where brand is not null
    group by customer_key, brand
    qualify row_number() over (partition by customer_key order by count(*) desc, brand) = 1
),

email_events as (
    select
        {{ customer_key('customer_id', 'null') }} as customer_key,
        email_event_type
    from {{ ref('stg_raw__email_events') }}
    where customer_id is not null
),

email as (
    select
        customer_key,
        count(case when email_event_type = 'sent' then 1 end) as n_emails_sent,
        count(case when email_event_type = 'open' then 1 end) as n_email_opens,
        count(case when email_event_type = 'click' then 1 end) as n_email_clicks
    from email_events
    group by customer_key
),

promotion_responses as (
    select
        {{ customer_key('customer_id', 'null') }} as customer_key,
        redeemed_at
    from {{ ref('stg_raw__promotion_responses') }}
    where customer_id is not null
),

promotions as (
    select
        customer_key,
        count(*) as n_promotions_offered,
        count(redeemed_at) as n_promotions_redeemed
    from promotion_responses
    group by customer_key
),

combined as (
    select
        customers.customer_key,
        customers.customer_id,
        cast(as_of.as_of_time as date) as as_of_date,
        {{ days_between('order_totals.last_ordered_at', 'as_of.as_of_time') }} as days_since_last_order,
        coalesce(order_totals.frequency, 0) as frequency,
        coalesce(net_revenue.monetary, 0) as monetary,
        coalesce(order_totals.avg_order_value, 0) as avg_order_value,
        {{ days_between('customers.first_seen_at', 'as_of.as_of_time') }} as tenure_days,
        session_totals.n_sessions,
        session_totals.n_page_views,
        session_totals.n_product_views,
        session_totals.n_add_to_carts,
        session_totals.conversion_rate,
        case
            when session_totals.n_product_views > 0
                then least(session_totals.n_add_to_carts / session_totals.n_product_views, 1.0)
            else 0
        end as cart_rate,
        session_totals.avg_session_minutes,
        coalesce(least(email.n_email_opens / nullif(email.n_emails_sent, 0), 1.0), 0) as email_open_rate,
        coalesce(least(email.n_email_clicks / nullif(email.n_emails_sent, 0), 1.0), 0) as email_click_rate,
        coalesce(promotions.n_promotions_redeemed / nullif(promotions.n_promotions_offered, 0), 0)
            as promotion_redemption_rate,
        coalesce(price_context.premium_share, 0) as premium_share,
        coalesce(price_context.budget_share, 0) as budget_share,
        coalesce(price_context.new_arrival_share, 0) as new_arrival_share,
        session_totals.share_mobile,
        session_totals.share_desktop,
        session_totals.share_tablet,
        event_context.share_morning,
        event_context.share_afternoon,
        event_context.share_evening,
        event_context.share_night,
        event_context.share_weekend,
        event_context.primary_region,
        top_categories.top_category,
        coalesce(top_categories.top_category_share, 0) as top_category_share,
        top_brands.top_brand,
        coalesce(top_brands.top_brand_share, 0) as top_brand_share
    from customers
    cross join as_of
    inner join session_totals
        on customers.customer_key = session_totals.customer_key
    left join event_context
        on customers.customer_key = event_context.customer_key
    left join order_totals
        on customers.customer_key = order_totals.customer_key
    left join net_revenue
        on customers.customer_key = net_revenue.customer_key
    left join price_context
        on customers.customer_key = price_context.customer_key
    left join top_categories
        on customers.customer_key = top_categories.customer_key
    left join top_brands
        on customers.customer_key = top_brands.customer_key
    left join email
        on customers.customer_key = email.customer_key
    left join promotions
        on customers.customer_key = promotions.customer_key
),

scored as (
    select
        *,
        -- a customer who never ordered is as recent as their first visit
        coalesce(days_since_last_order, tenure_days) as recency_days,
        frequency / greatest(tenure_days / 30.4375, 1.0) as orders_per_month,
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
