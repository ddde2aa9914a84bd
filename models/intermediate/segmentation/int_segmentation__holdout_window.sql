-- The temporal hold-out that validates segments (one row): features as of cutoff_time, outcomes
-- in the horizon_days after it. horizon_days is var segmentation.validation.horizon_days, or half
-- the span of the data when that is shorter (the features need history too); below
-- min_horizon_days, or with validation disabled, is_enabled is false, cutoff_time null and the
-- reason says why (the segmentation then runs without the hold-out choice).
{%- set validation = var('segmentation')['validation'] %}

with

as_of as (
    select * from {{ ref('int_events__as_of') }}
),

events as (
    select * from {{ ref('int_events__sessionized') }}
),

span as (
    select
        as_of.as_of_time,
        min(events.event_time) as data_start,
        {{ days_between('min(events.event_time)', 'as_of.as_of_time') }} as span_days
    from as_of
    left join events
        on as_of.as_of_time >= events.event_time
    group by as_of.as_of_time
),

horizon as (
    select
        as_of_time,
        data_start,
        span_days,
        least({{ validation['horizon_days'] }}, cast(floor(coalesce(span_days, 0) / 2) as integer)) as horizon_days
    from span
),

final as (
    select
        as_of_time,
        data_start,
        span_days,
        {{ validation['enabled'] }} and horizon_days >= {{ validation['min_horizon_days'] }} as is_enabled,
        case
            when not {{ validation['enabled'] }} then 'validation disabled (var segmentation.validation.enabled)'
            when horizon_days < {{ validation['min_horizon_days'] }}
                then 'the data spans ' || coalesce(span_days, 0) || ' days: a hold-out of at least '
                    || {{ validation['min_horizon_days'] }} || ' days after a cutoff needs twice that'
            when horizon_days < {{ validation['horizon_days'] }}
                then 'horizon shortened to half the span of the data'
            else 'ok'
        end as reason,
        case
            when {{ validation['enabled'] }} and horizon_days >= {{ validation['min_horizon_days'] }}
                then horizon_days
        end as horizon_days,
        case
            when {{ validation['enabled'] }} and horizon_days >= {{ validation['min_horizon_days'] }}
                then {{ dbt.dateadd('day', '-1 * horizon_days', 'as_of_time') }}
        end as cutoff_time
    from horizon
)

select * from final
