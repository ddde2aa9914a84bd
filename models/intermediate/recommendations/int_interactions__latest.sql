-- Serving interactions: every customer x product pair of int_interactions__events up to the
-- as-of moment (inclusive), weighted and decayed as of that moment (macro weighted_interactions).
{%- set windows = ref('int_recommendation__windows') %}

with

events as (
    select * from {{ ref('int_interactions__events') }}
),

windows as (
    select * from {{ windows }}
),

served_events as (
    select events.*
    from events
    cross join windows
    where events.event_time <= windows.as_of_time
),

interactions as (
    {{ weighted_interactions('served_events', '(select as_of_time from ' ~ windows ~ ')') }}
),

final as (
    select * from interactions
)

select * from final
