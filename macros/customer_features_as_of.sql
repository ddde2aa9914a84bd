{#- The value, behaviour and taste features of every customer with a clean event at or before
    the moment `as_of` (a SQL expression giving one timestamp), in long form (customer_key,
    feature, feature_value, as_of_time). One macro for both moments segmentation needs: "now"
    (int_customers__value_features) and the validation cutoff
    (int_segmentation__holdout_features), so the hold-out judges exactly the features that are
    clustered. Feature names and meaning are those of segrec.segmentation.validation
    (customer_features): recency_days and tenure_days in fractional days since the last and first
    order (since the first event for a customer without orders), frequency (orders), monetary (net
    revenue), avg_order_value, avg_order_lines, avg_line_value, orders_per_month (per 30 days of
    tenure, at least 30), ipt_mean_days and ipt_cv (days between orders, from 2 and 3 orders),
    distinct_products, return_share; share_<device> of sessions, conversion_rate (sessions with a purchase), premium_share and budget_share of
    product events with a price band, new_arrival_share (as int_customers__price_sensitivity);
    share_<daypart> of events; group_share__<product_group> of product events per product group
    (int_segmentation__product_groups). Besides the features, the counts their shares and means
    are taken over (COUNT_FEATURES of segrec.segmentation.online: count__events, count__sessions,
    count__product_events, count__priced_product_events, count__group_events,
    count__bought_lines), so the service can update a visitor's features by live events; the
    clustering reads only the features of its feature groups. -#}
{% macro customer_features_as_of(as_of) -%}
    {%- set order_features = [
        'recency_days', 'frequency', 'monetary', 'tenure_days', 'avg_order_value', 'avg_order_lines',
        'avg_line_value', 'orders_per_month', 'ipt_mean_days', 'ipt_cv', 'distinct_products', 'return_share',
        'share_morning', 'share_afternoon', 'share_evening', 'share_night',
        'share_mobile', 'share_desktop', 'share_tablet', 'conversion_rate', 'premium_share', 'budget_share', 'new_arrival_share',
        'count__events', 'count__sessions', 'count__product_events', 'count__priced_product_events', 'count__bought_lines',
    ] -%}
with

as_of as (
    select {{ as_of }} as as_of_time
),

events as (
    select events.*
    from {{ ref('int_events__sessionized') }} as events
    cross join as_of
    where events.event_time <= as_of.as_of_time
        and events.customer_key is not null
),

sessions as (
    select sessions.*
    from {{ ref('int_sessions__aggregated') }} as sessions
    cross join as_of
    where sessions.session_start <= as_of.as_of_time
),

products as (
    select * from {{ ref('int_products__enriched') }}
),

product_groups as (
    select * from {{ ref('int_segmentation__product_groups') }}
),

orders as (
    select
        customer_key,
        {{ order_key() }} as order_key,
        min(event_time) as ordered_at,
        {{ sum_money('revenue') }} as order_value,
        count(*) as order_lines
    from events
    where event_type = 'purchase'
    group by customer_key, {{ order_key() }}
),

order_gaps as (
    select
        customer_key,
        {{ seconds_between('lag(ordered_at) over (partition by customer_key order by ordered_at, order_key)',
            'ordered_at') }} / 86400e0 as gap_days
    from orders
),

gap_totals as (
    select
        customer_key,
        avg(gap_days) as ipt_mean_days,
        stddev_samp(gap_days) / nullif(avg(gap_days), 0) as ipt_cv
    from order_gaps
    group by customer_key
),

order_totals as (
    select
        customer_key,
        count(*) as frequency,
        min(ordered_at) as first_ordered_at,
        max(ordered_at) as last_ordered_at,
        avg(order_value) as avg_order_value,
        avg(order_lines) as avg_order_lines
    from orders
    group by customer_key
),

line_totals as (
    select
        customer_key,
        min(event_time) as first_event_at,
        {{ sum_money("case when event_type in ('purchase', 'return') then revenue end") }} as monetary,
        {{ sum_money("case when event_type = 'purchase' and revenue > 0 then revenue end") }} as bought,
        -1 * {{ sum_money("case when event_type = 'return' and revenue < 0 then revenue end") }} as returned,
        count(*) as n_events,
        count(case when event_type = 'purchase' and revenue > 0 then 1 end) as bought_lines,
        count(distinct case when event_type = 'purchase' and revenue > 0 then product_id end) as distinct_products,
        avg(case when daypart = 'morning' then 1e0 else 0e0 end) as share_morning,
        avg(case when daypart = 'afternoon' then 1e0 else 0e0 end) as share_afternoon,
        avg(case when daypart = 'evening' then 1e0 else 0e0 end) as share_evening,
        avg(case when daypart = 'night' then 1e0 else 0e0 end) as share_night
    from events
    group by customer_key
),

session_totals as (
    select
        customer_key,
        avg(case when device_type = 'mobile' then 1e0 else 0e0 end) as share_mobile,
        avg(case when device_type = 'desktop' then 1e0 else 0e0 end) as share_desktop,
        avg(case when device_type = 'tablet' then 1e0 else 0e0 end) as share_tablet,
        avg(case when converted then 1e0 else 0e0 end) as conversion_rate,
        count(*) as n_sessions
    from sessions
    group by customer_key
),

price_totals as (
    select
        events.customer_key,
        avg(case when products.price_band = 'premium' then 1e0 when products.price_band is not null then 0e0 end)
            as premium_share,
        avg(case when products.price_band = 'budget' then 1e0 when products.price_band is not null then 0e0 end)
            as budget_share,
        avg(
            case
                when products.launched_at > {{ dbt.dateadd('day', -1 * var('new_arrival_days'), 'events.event_time') }}
                    and products.launched_at <= events.event_time then 1e0
                else 0e0
            end
        ) as new_arrival_share,
        count(*) as n_product_events,
        count(products.price_band) as n_priced_product_events
    from events
    inner join products
        on events.product_id = products.product_id
    where events.event_type in ('product_view', 'add_to_cart', 'purchase')
    group by events.customer_key
),

wide as (
    select
        line_totals.customer_key,
        {{ seconds_between('coalesce(order_totals.last_ordered_at, line_totals.first_event_at)', 'as_of.as_of_time') }}
        / 86400e0 as recency_days,
        coalesce(order_totals.frequency, 0) as frequency,
        coalesce(line_totals.monetary, 0) as monetary,
        {{ seconds_between('coalesce(order_totals.first_ordered_at, line_totals.first_event_at)', 'as_of.as_of_time') }}
        / 86400e0 as tenure_days,
        order_totals.avg_order_value,
        order_totals.avg_order_lines,
        line_totals.bought / nullif(line_totals.bought_lines, 0) as avg_line_value,
        coalesce(order_totals.frequency, 0) * 30e0 / greatest(
            {{ seconds_between('coalesce(order_totals.first_ordered_at, line_totals.first_event_at)', 'as_of.as_of_time') }}
            / 86400e0,
            30e0
        ) as orders_per_month,
        gap_totals.ipt_mean_days,
        gap_totals.ipt_cv,
        line_totals.distinct_products,
        least(greatest(coalesce(line_totals.returned, 0) / nullif(line_totals.bought, 0), 0e0), 1e0) as return_share,
        line_totals.share_morning,
        line_totals.share_afternoon,
        line_totals.share_evening,
        line_totals.share_night,
        session_totals.share_mobile,
        session_totals.share_desktop,
        session_totals.share_tablet,
        session_totals.conversion_rate,
        price_totals.premium_share,
        price_totals.budget_share,
        price_totals.new_arrival_share,
        line_totals.n_events as count__events,
        coalesce(session_totals.n_sessions, 0) as count__sessions,
        coalesce(price_totals.n_product_events, 0) as count__product_events,
        coalesce(price_totals.n_priced_product_events, 0) as count__priced_product_events,
        line_totals.bought_lines as count__bought_lines,
        as_of.as_of_time
    from line_totals
    cross join as_of
    left join order_totals
        on line_totals.customer_key = order_totals.customer_key
    left join gap_totals
        on line_totals.customer_key = gap_totals.customer_key
    left join session_totals
        on line_totals.customer_key = session_totals.customer_key
    left join price_totals
        on line_totals.customer_key = price_totals.customer_key
),

behaviour as (
    {%- for feature in order_features %}
    select
        customer_key,
        '{{ feature }}' as feature,
        cast({{ feature }} as double) as feature_value,
        as_of_time
    from wide
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
),

group_events as (
    select
        events.customer_key,
        product_groups.group_feature as feature,
        count(*) as n_events
    from events
    inner join product_groups
        on events.product_id = product_groups.product_id
    where events.event_type in ('product_view', 'add_to_cart', 'purchase')
    group by events.customer_key, product_groups.group_feature
),

group_counts as (
    select
        wide.customer_key,
        'count__group_events' as feature,
        cast(coalesce(sum(group_events.n_events), 0) as double) as feature_value,
        wide.as_of_time
    from wide
    left join group_events
        on wide.customer_key = group_events.customer_key
    group by wide.customer_key, wide.as_of_time
),

taste as (
    -- shares of the customer's product events in each group (as the category shares of
    -- int_customers__category_affinities); a group they never touched is 0 in the Python models
    select
        group_events.customer_key,
        group_events.feature,
        group_events.n_events / sum(group_events.n_events) over (partition by group_events.customer_key)
            as feature_value,
        as_of.as_of_time
    from group_events
    cross join as_of
),

final as (
    select * from behaviour
    union all
    select * from group_counts
    union all
    select * from taste
)

select * from final
{%- endmacro %}
