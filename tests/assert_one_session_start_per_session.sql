-- Every session of fct_events has exactly one event flagged is_session_start (the first
-- event of the session): the session-level values (landing page, context) are read from it.
with

events as (
    select * from {{ ref('fct_events') }}
    where session_key is not null
),

starts as (
    select
        session_key,
        count(case when is_session_start then 1 end) as n_starts
    from events
    group by session_key
)

select *
from starts
where n_starts != 1
