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

-- the four columns the occurrence of an event_id is ranked on, from a read of their own: ranking
-- the whole parsed row sorted (and at 10M events spilled) every column, and a second reference
-- to parsed makes DuckDB keep all of it (docs/performance.md)
source_keys as (
    select
        {{ clean_text('raw_keys.event_id') }} as event_id,
        {{ parse_utc_timestamp('raw_keys.loaded_at') }} as loaded_at,
        raw_keys._source_file,
        raw_keys._source_row
    from {{ raw_table('events') }} as raw_keys
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

duplicated_ids as (
    select event_id
    from source_keys
    where event_id is not null
    group by event_id
    having count(*) > 1
),

-- first load wins: later copies of an event_id are duplicates (exact or replayed); only
-- duplicated ids need ranking, every other row is its id's first
occurrences as (
    select
        source_keys._source_file,
        source_keys._source_row,
        row_number() over (
            partition by source_keys.event_id
            order by source_keys.loaded_at asc nulls last, source_keys._source_file asc, source_keys._source_row asc
        ) as event_id_occurrence
    from source_keys
    inner join duplicated_ids
        on source_keys.event_id = duplicated_ids.event_id
),

final as (
    select
        parsed.*,
        coalesce(occurrences.event_id_occurrence, 1) as event_id_occurrence
    from parsed
    left join occurrences
        on parsed._source_file = occurrences._source_file
            and parsed._source_row = occurrences._source_row
)

select * from final
