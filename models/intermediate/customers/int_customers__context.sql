-- One customer with activity up to the as-of moment: the shares of their sessions by device
-- and of their events by local daypart and weekend, and their most frequent region.
with

events as (
    {{ rows_up_to_as_of(ref('int_events__sessionized'), 'event_time') }}
),

sessions as (
    {{ rows_up_to_as_of(ref('int_sessions__aggregated'), 'session_start') }}
),

devices as (
    select
        customer_key,
        avg(case when device_type = 'mobile' then 1e0 else 0e0 end) as share_mobile,
        avg(case when device_type = 'desktop' then 1e0 else 0e0 end) as share_desktop,
        avg(case when device_type = 'tablet' then 1e0 else 0e0 end) as share_tablet
    from sessions
    group by customer_key
),

moments as (
    select
        customer_key,
        avg(case when daypart = 'morning' then 1e0 else 0e0 end) as share_morning,
        avg(case when daypart = 'afternoon' then 1e0 else 0e0 end) as share_afternoon,
        avg(case when daypart = 'evening' then 1e0 else 0e0 end) as share_evening,
        avg(case when daypart = 'night' then 1e0 else 0e0 end) as share_night,
        avg(case when is_weekend then 1e0 else 0e0 end) as share_weekend,
        mode(region) as primary_region
    from events
    group by customer_key
),

final as (
    select
        coalesce(devices.customer_key, moments.customer_key) as customer_key,
        devices.share_mobile,
        devices.share_desktop,
        devices.share_tablet,
        moments.share_morning,
        moments.share_afternoon,
        moments.share_evening,
        moments.share_night,
        moments.share_weekend,
        moments.primary_region
    from devices
    full outer join moments
        on devices.customer_key = moments.customer_key
)

select * from final
