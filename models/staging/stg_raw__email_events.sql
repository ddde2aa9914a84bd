with

source as (
    select * from {{ raw_table('email_events') }}
),

final as (
    select
        {{ clean_text('customer_id') }} as customer_id,
        {{ clean_text('campaign_id') }} as campaign_id,
        case {{ alias_key('event_type') }}
            when 'sent' then 'sent'
            when 'send' then 'sent'
            when 'delivered' then 'sent'
            when 'open' then 'open'
            when 'opened' then 'open'
            when 'click' then 'click'
            when 'clicked' then 'click'
            when 'unsubscribe' then 'unsubscribe'
            when 'unsubscribed' then 'unsubscribe'
        end as email_event_type,
        {{ parse_utc_timestamp('event_time') }} as event_time
    from source
)

select * from final
