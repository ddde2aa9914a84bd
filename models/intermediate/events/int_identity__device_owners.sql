-- Identity stitching: each device (anonymous_id) belongs to the customer of its first login,
-- so a customer's anonymous browsing before logging in counts as theirs.
with

events as (
    select * from {{ ref('stg_raw__events') }}
),

logins as (
    select
        anonymous_id,
        customer_id,
        event_time,
        event_id
    from events
    where anonymous_id is not null
        and customer_id is not null
        and event_time is not null
),

final as (
    select
        anonymous_id,
        customer_id,
        event_time as first_login_at
    from logins
    qualify row_number() over (partition by anonymous_id order by event_time, event_id) = 1
)

select * from final
