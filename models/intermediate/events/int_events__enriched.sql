-- Clean events with the unified customer_key, revenue in the base currency and local-time context.
with

validated as (
    select * from {{ ref('int_events__validated') }}
    where reason_code is null
),

base_rate as (
    select rate_to_base as base_rate
    from {{ ref('currency_rates') }}
    where currency = '{{ var("base_currency") }}'
),

localized as (
    select
        validated.*,
        {{ dbt.dateadd('hour', 'coalesce(validated.utc_offset_hours, 0)', 'validated.event_time') }}
            as local_event_time
    from validated
),

final as (
    select
        validated.event_id,
        {{ customer_key('validated.resolved_customer_id', 'validated.anonymous_id') }} as customer_key,
        validated.resolved_customer_id as customer_id,
        validated.anonymous_id,
        validated.event_time,
        validated.loaded_at,
        validated.event_type,
        validated.product_id,
        validated.order_id,
        case when validated.event_type in ('purchase', 'return') then coalesce(validated.quantity, 1) end
            as quantity,
        validated.event_type in ('purchase', 'return') and validated.quantity is null
            as is_quantity_imputed,
        validated.unit_price,
        case when validated.event_type in ('purchase', 'return') then validated.effective_currency end
            as currency,
        validated.event_type in ('purchase', 'return') and validated.is_currency_imputed
            as is_currency_imputed,
        case validated.event_type
            when 'purchase' then 1
            when 'return' then -1
            else 0
        end * coalesce(validated.quantity, 1) * coalesce(validated.unit_price, 0)
        * coalesce(validated.rate_to_base, 0) / base_rate.base_rate as revenue,
        validated.device_type,
        validated.is_device_type_inferred,
        validated.channel,
        validated.campaign,
        validated.country_code,
        validated.region,
        validated.city,
        {{ daypart('extract(hour from validated.local_event_time)') }} as daypart,
        {{ iso_day_of_week('validated.local_event_time') }} in (6, 7) as is_weekend,
        validated.source_session_id
    from localized as validated
    cross join base_rate
)

select * from final
