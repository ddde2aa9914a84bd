{#-
  sessionize(relation): every row of `relation` (customer_key, event_time, event_id, ...) with
  session_start and session_key added. Per customer_key, events ordered by event_time then
  event_id; a gap of MORE than `gap_minutes` (default var session_inactivity_minutes) starts a
  new session, a gap of exactly that many minutes does not.
-#}
{% macro sessionize(relation, gap_minutes=none) %}
    {%- set gap = gap_minutes if gap_minutes is not none else var('session_inactivity_minutes') -%}
    with

    ordered as (
        select
            *,
            lag(event_time) over (partition by customer_key order by event_time, event_id)
                as previous_event_time
        from {{ relation }}
    ),

    numbered as (
        select
            *,
            sum(
                case
                    when previous_event_time is null
                        or event_time > {{ dbt.dateadd('minute', gap, 'previous_event_time') }}
                        then 1
                    else 0
                end
            ) over (
                partition by customer_key
                order by event_time, event_id
                rows between unbounded preceding and current row
            ) as session_number
        from ordered
    ),

    with_start as (
        select
            *,
            min(event_time) over (partition by customer_key, session_number) as session_start
        from numbered
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

{#- The value of `column` on the earliest event (ties broken by event_id, so the result never
    depends on row order). -#}
{% macro first_by_time(column) -%}
    min_by({{ column }}, (event_time, event_id))
{%- endmacro %}
