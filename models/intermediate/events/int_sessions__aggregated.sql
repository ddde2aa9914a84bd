{#-
  One session per row; the mart fct_sessions is a view over it. Incremental by whole customers,
  like int_events__sessionized: a customer's sessions are rebuilt when the checksum of their
  event ids in int_events__sessionized differs from the one stored with their sessions
  (new, late, quarantined or re-stitched events), so the result equals a full refresh.
-#}
{{ config(
    materialized=segrec.by_customer_materialization(),
    unique_key='customer_key',
    incremental_strategy='delete+insert',
    on_schema_change='append_new_columns',
    post_hook="{{ delete_vanished_customers(ref('int_events__sessionized')) }}"
) }}

with

events as (
    select * from {{ ref('int_events__sessionized') }}
),

{% if is_incremental() %}

event_checksums as (
    select
        customer_key,
        {{ checksum_agg('event_id') }} as event_checksum,
        count(*) as n_events
    from events
    group by customer_key
),

session_checksums as (
    select
        customer_key,
        bit_xor(event_checksum) as event_checksum,
        sum(n_events) as n_events
    from {{ this }}
    group by customer_key
),

changed_customers as (
    select event_checksums.customer_key
    from event_checksums
    left join session_checksums
        on event_checksums.customer_key = session_checksums.customer_key
    where session_checksums.customer_key is null
        or session_checksums.event_checksum != event_checksums.event_checksum
        or session_checksums.n_events != event_checksums.n_events
),

scoped as (
    select events.*
    from events
    inner join changed_customers
        on events.customer_key = changed_customers.customer_key
),

{% else %}

scoped as (
    select * from events
),

{% endif %}

sessions as (
    select
        session_key,
        customer_key,
        min(event_time) as session_start,
        max(event_time) as session_end,
        count(*) as n_events,
        count(case when event_type = 'page_view' then 1 end) as n_page_views,
        count(case when event_type = 'product_view' then 1 end) as n_product_views,
        count(case when event_type = 'search' then 1 end) as n_searches,
        count(case when event_type = 'add_to_cart' then 1 end) as n_add_to_carts,
        count(case when event_type = 'remove_from_cart' then 1 end) as n_remove_from_carts,
        count(case when event_type = 'begin_checkout' then 1 end) as n_begin_checkouts,
        count(case when event_type = 'purchase' then 1 end) as n_purchases,
        count(case when event_type = 'return' then 1 end) as n_returns,
        count(
            distinct case when event_type = 'purchase' then {{ order_key() }} end
        ) as n_orders,
        {{ sum_money("revenue") }} as revenue,
        count(case when event_type = 'purchase' then 1 end) > 0 as converted,
        {{ first_in_session('device_type') }} as device_type,
        {{ first_in_session('channel') }} as channel,
        {{ first_in_session('campaign') }} as campaign,
        {{ first_in_session('country_code') }} as country_code,
        {{ first_in_session('region') }} as region,
        {{ first_in_session('daypart') }} as landing_daypart,
        {{ first_in_session('source_session_id') }} as source_session_id,
        max(loaded_at) as last_loaded_at,
        {{ checksum_agg('event_id') }} as event_checksum
    from scoped
    group by session_key, customer_key
),

final as (
    select
        session_key,
        customer_key,
        session_start,
        session_end,
        {{ seconds_between('session_start', 'session_end') }} as duration_seconds,
        n_events,
        n_page_views,
        n_product_views,
        n_searches,
        n_add_to_carts,
        n_remove_from_carts,
        n_begin_checkouts,
        n_purchases,
        n_returns,
        n_orders,
        revenue,
        converted,
        device_type,
        channel,
        campaign,
        country_code,
        region,
        landing_daypart,
        source_session_id,
        last_loaded_at,
        event_checksum
    from sessions
)

select * from final
