-- Latest privacy state per customer_id: deleted (erase everywhere) and opted out of marketing.
with

requests as (
    select * from {{ ref('stg_raw__privacy_requests') }}
    where customer_id is not null and request_type is not null
),

final as (
    select
        customer_id,
        bool_or(request_type = 'delete') as is_deleted,
        bool_or(request_type = 'opt_out') as is_opted_out,
        max(case when request_type = 'delete' then requested_at end) as deletion_requested_at
    from requests
    group by customer_id
)

select * from final
