{#-
  sessionize(relation): every row of `relation` (customer_key, event_time, event_id, ...) with
  is_session_start, session_start and session_key added (and started_at: the event time on a
  session's first event, null on the others; callers select the columns they keep). Per customer_key, events ordered by
  event_time then event_id; a gap of MORE than `gap_minutes` (default var
  session_inactivity_minutes) starts a new session, a gap of exactly that many minutes does not.
  Session starts come from the previous event's time, found on the three key columns only; the
  full rows then take one window pass: the latest session start so far (event times only grow
  along the order, so the running max of start times is the current session's). A window sorts
  every column it carries, so the first pass on narrow rows instead of full ones cut the model
  by about a tenth at 1M events (docs/performance.md). `relation` is read twice: pass a table
  rather than a CTE where possible (DuckDB materializes a CTE read twice). event_id must be
  unique and not null (the starts are joined back on it).
-#}
{% macro sessionize(relation, gap_minutes=none) %}
    {%- set gap = gap_minutes if gap_minutes is not none else var('session_inactivity_minutes') -%}
    with

    ordered as (
        select
            customer_key,
            event_id,
            event_time,
            lag(event_time) over (partition by customer_key order by event_time, event_id)
                as previous_event_time
        from {{ relation }}
    ),

    session_starts as (
        select
            customer_key,
            event_id,
            event_time as started_at
        from ordered
        where coalesce(event_time > {{ dbt.dateadd('minute', gap, 'previous_event_time') }}, true)
    ),

    flagged as (
        select
            relation_rows.*,
            session_starts.started_at,
            session_starts.event_id is not null as is_session_start
        from {{ relation }} as relation_rows
        left join session_starts
            on relation_rows.customer_key = session_starts.customer_key
            and relation_rows.event_id = session_starts.event_id
    ),

    with_start as (
        select
            *,
            max(started_at) over (
                partition by customer_key
                order by event_time, event_id
                rows between unbounded preceding and current row
            ) as session_start
        from flagged
    )

    select
        *,
        {{ dbt.hash("customer_key || '|' || cast(session_start as " ~ dbt.type_string() ~ ")") }} as session_key
    from with_start
{% endmacro %}

{#- Deletes, after an incremental run, the rows of customers who no longer have any event in
    `source_relation` (all their events were quarantined later, or their anonymous key was
    stitched to a login). delete+insert on customer_key cannot: it only replaces customers
    that still have rows. -#}
{% macro delete_vanished_customers(source_relation) %}
    {%- if is_incremental() -%}
        delete from {{ this }} as target
        where not exists (
            select 1 from {{ source_relation }} as source
            where source.customer_key = target.customer_key
        )
    {%- endif -%}
{% endmacro %}

{#- The value of `column` on the session's first event (is_session_start of sessionize: the
    earliest by event_time, ties by event_id). -#}
{% macro first_in_session(column) -%}
    max(case when is_session_start then {{ column }} end)
{%- endmacro %}
