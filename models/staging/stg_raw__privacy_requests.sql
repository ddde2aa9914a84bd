with

source as (
    select * from {{ raw_table('privacy_requests') }}
),

final as (
    select
        {{ clean_text('customer_id') }} as customer_id,
        case {{ alias_key('request_type') }}
            when 'delete' then 'delete'
            when 'deletion' then 'delete'
            when 'erase' then 'delete'
            when 'optout' then 'opt_out'
        end as request_type,
        {{ parse_utc_timestamp('requested_at') }} as requested_at
    from source
)

select * from final
