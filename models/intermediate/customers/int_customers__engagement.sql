-- One customer with a session up to the as-of moment: visits, page and product views, carts,
-- conversion, session length, and the e-mail and promotion response rates (0 without any).
with

sessions as (
    {{ rows_up_to_as_of(ref('int_sessions__aggregated'), 'session_start') }}
),

email_events as (
    select
        {{ customer_key('customer_id', 'null') }} as customer_key,
        email_event_type
    from {{ ref('stg_raw__email_events') }}
    where customer_id is not null
),

promotion_responses as (
    select
        {{ customer_key('customer_id', 'null') }} as customer_key,
        redeemed_at
    from {{ ref('stg_raw__promotion_responses') }}
    where customer_id is not null
),

session_totals as (
    select
        customer_key,
        count(*) as n_sessions,
        cast(sum(n_page_views) as bigint) as n_page_views,
        cast(sum(n_product_views) as bigint) as n_product_views,
        cast(sum(n_add_to_carts) as bigint) as n_add_to_carts,
        avg(case when converted then 1e0 else 0e0 end) as conversion_rate,
        avg(duration_seconds) / 60.0 as avg_session_minutes
    from sessions
    group by customer_key
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

promotions as (
    select
        customer_key,
        count(*) as n_promotions_offered,
        count(redeemed_at) as n_promotions_redeemed
    from promotion_responses
    group by customer_key
),

final as (
    select
        session_totals.customer_key,
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
            as promotion_redemption_rate
    from session_totals
    left join email
        on session_totals.customer_key = email.customer_key
    left join promotions
        on session_totals.customer_key = promotions.customer_key
)

select * from final
