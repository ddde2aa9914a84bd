-- One rejected raw event row: its raw values as they arrived, the reason and where it came from.
-- Rows of customers who asked to be deleted keep no identifying values.
with

validated as (
    select * from {{ ref('int_events__validated') }}
    where reason_code is not null
),

reasons as (
    select * from {{ ref('quarantine_reasons') }}
),

final as (
    select
        validated.raw_event_id as event_id,
        validated.raw_event_time as event_time,
        validated.raw_loaded_at as loaded_at,
        validated.raw_event_type as event_type,
        case when validated.reason_code != 'privacy_deleted' then validated.raw_customer_id end as customer_id,
        case when validated.reason_code != 'privacy_deleted' then validated.raw_anonymous_id end as anonymous_id,
        validated.raw_product_id as product_id,
        validated.raw_order_id as order_id,
        validated.raw_quantity as quantity,
        validated.raw_unit_price as unit_price,
        validated.raw_currency as currency,
        validated.raw_device_type as device_type,
        case when validated.reason_code != 'privacy_deleted' then validated.raw_user_agent end as user_agent,
        validated.raw_country as country,
        case when validated.reason_code != 'privacy_deleted' then validated.raw_city end as city,
        validated.reason_code,
        reasons.description as reason_description,
        validated._source_file as source_file,
        validated._source_row as source_row,
        cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S") }}' as timestamp) as quarantined_at
    from validated
    left join reasons
        on validated.reason_code = reasons.reason_code
)

select * from final
