{#-
  The clean events with their session (macro sessionize); the mart fct_events is a view over it.
  Incremental by whole customers: a run re-sessionizes every customer whose events changed,
  (1) events loaded since the last load processed minus the lookback window that are new to
  that customer (late events included), and (2) events that left a customer (now quarantined
  as bot or deleted, or moved to a login by identity stitching). delete+insert on customer_key
  then swaps those customers' rows, so the result equals a full refresh.
-#}
{{ config(
    materialized=segrec.by_customer_materialization(),
    unique_key='customer_key',
    incremental_strategy='delete+insert',
    on_schema_change='append_new_columns',
    post_hook="{{ delete_vanished_customers(ref('int_events__enriched')) }}"
) }}

with

{% if is_incremental() %}

events as (
    select * from {{ ref('int_events__enriched') }}
),

watermark as (
    select
        {{ dbt.dateadd('hour', -1 * var('incremental_lookback_hours'), 'max(loaded_at)') }} as since
    from {{ this }}
),

customers_with_new_events as (
    select distinct events.customer_key
    from events
    cross join watermark
    left join {{ this }} as existing
        on events.event_id = existing.event_id
        and events.customer_key = existing.customer_key
    where (events.loaded_at > watermark.since or events.loaded_at is null or watermark.since is null)
        and existing.event_id is null
),

customers_who_lost_events as (
    select distinct existing.customer_key
    from {{ this }} as existing
    left join events
        on existing.event_id = events.event_id
        and existing.customer_key = events.customer_key
    where events.event_id is null
),

changed_customers as (
    select customer_key from customers_with_new_events
    union
    select customer_key from customers_who_lost_events
),

scoped as (
    select events.*
    from events
    inner join changed_customers
        on events.customer_key = changed_customers.customer_key
),

{% endif %}

sessionized as (
    {#- A full refresh hands sessionize the table itself, not an import CTE: sessionize reads its
        input twice, and DuckDB would first copy a CTE read twice (all of int_events__enriched). -#}
    {{ sessionize('scoped' if is_incremental() else ref('int_events__enriched')) }}
),

final as (
    select
        event_id,
        customer_key,
        session_key,
        session_start,
        is_session_start,
        event_time,
        event_type,
        product_id,
        order_id,
        quantity,
        unit_price,
        currency,
        revenue,
        device_type,
        channel,
        campaign,
        country_code,
        region,
        city,
        daypart,
        is_weekend,
        source_session_id,
        loaded_at,
        is_quantity_imputed,
        is_currency_imputed,
        is_device_type_inferred
    from sessionized
)

select * from final
