-- One row per raw event row, parsed and normalized but not yet judged: the validation
-- in int_events__validated decides clean or quarantined, so nothing is filtered here.
with

source as (
    select * from {{ raw_table('events') }}
),

event_type_aliases as (
    select * from {{ ref('event_type_aliases') }}
),

device_type_aliases as (
    select * from {{ ref('device_type_aliases') }}
),

countries as (
    select * from {{ ref('country_regions') }}
),

parsed as (
    select
        {{ clean_text('source.event_id') }} as event_id,
        {{ parse_utc_timestamp('source.event_time') }} as event_time,
        {{ parse_utc_timestamp('source.loaded_at') }} as loaded_at,
        event_type_aliases.event_type,
        {{ clean_text('source.customer_id') }} as customer_id,
        {{ clean_text('source.anonymous_id') }} as anonymous_id,
        {{ clean_text('source.session_id') }} as source_session_id,
        {{ clean_text('source.product_id') }} as product_id,
        {{ clean_text('source.order_id') }} as order_id,
        try_cast(source.quantity as double) as quantity,
        try_cast(source.unit_price as double) as unit_price,
        upper({{ clean_text('source.currency') }}) as currency,
        coalesce(
            device_type_aliases.device_type,
            case
                when {{ regexp_full_match('lower(source.user_agent)', '.*(ipad|tablet).*') }} then 'tablet'
                when {{ regexp_full_match('lower(source.user_agent)', '.*(mobi|android|iphone).*') }} then 'mobile'
                when {{ clean_text('source.user_agent') }} is not null then 'desktop'
            end,
            'unknown'
        ) as device_type,
        device_type_aliases.device_type is null as is_device_type_inferred,
        {{ clean_text('source.user_agent') }} as user_agent,
        countries.country_code,
        countries.region,
        countries.utc_offset_hours,
        {{ clean_text('source.city') }} as city,
        lower({{ clean_text('source.channel') }}) as channel,
        {{ clean_text('source.campaign') }} as campaign,

        -- raw text kept for quarantine and for checks that need to know a value was present
        source.event_id as raw_event_id,
        source.event_time as raw_event_time,
        source.loaded_at as raw_loaded_at,
        source.event_type as raw_event_type,
        source.customer_id as raw_customer_id,
        source.anonymous_id as raw_anonymous_id,
        source.product_id as raw_product_id,
        source.order_id as raw_order_id,
        source.quantity as raw_quantity,
        source.unit_price as raw_unit_price,
        source.currency as raw_currency,
        source.device_type as raw_device_type,
        source.user_agent as raw_user_agent,
        source.country as raw_country,
        source.city as raw_city,
        source._source_file,
        source._source_row
    from source
    left join event_type_aliases
        on {{ alias_key('source.event_type') }} = event_type_aliases.alias_key
    left join device_type_aliases
        on {{ alias_key('source.device_type') }} = device_type_aliases.alias_key
    left join countries
        on upper(trim(source.country)) = countries.country_key
),

final as (
    select
        *,
        -- first load wins: later copies of an event_id are duplicates (exact or replayed)
        row_number() over (
            partition by event_id
            order by loaded_at asc nulls last, _source_file asc, _source_row asc
        ) as event_id_occurrence
    from parsed
)

select * from final
