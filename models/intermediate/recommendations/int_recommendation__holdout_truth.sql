-- What customers did in the hold-out windows, the hits of the offline evaluation: one row per
-- (cutoff, customer_key, product_id) with an event of var recommendation_truth_event_types;
-- cutoff 'validation' = the validation window, 'test' = the test window up to the as-of moment,
-- 'train_<k>' = the k-th window of the validation window's length before it (what the learned
-- ranker also learns from, back to int_recommendation__windows.ranker_train_start).
-- var recommendation_holdout_split 'window': every hit of the window counts; 'last_event' (the
-- next-item protocol of session-based recommenders): only the customer's last hit in the window,
-- the window events before it become input (int_interactions__holdout).
{%- set truth_types = var('recommendation_truth_event_types') %}
{%- if truth_types is string or truth_types | length == 0 %}
    {{ exceptions.raise_compiler_error(
        "var recommendation_truth_event_types must be a non-empty list of event types, got " ~ truth_types) }}
{%- endif %}
{%- set split = recommendation_holdout_split() %}
{%- set validation_days = recommendation_whole_number('recommendation_validation_days', 0) %}
{#- train windows exist only with a validation window; 1 keeps the unused branch defined without one #}
{#- a whole number of seconds, divided as a double (e0): 86400.0 would be a decimal on Spark #}
{%- set validation_seconds = [validation_days, 1] | max * 86400 %}

with

windows as (
    select * from {{ ref('int_recommendation__windows') }}
),

events as (
    select
        customer_key,
        product_id,
        event_time
    from {{ ref('int_events__sessionized') }}
    where product_id is not null
        and event_type in (
            {%- for event_type in truth_types %}
            '{{ event_type }}'{{ ',' if not loop.last }}
            {%- endfor %}
        )
),

in_windows as (
    select
        events.customer_key,
        events.product_id,
        events.event_time,
        windows.test_start,
        windows.validation_start,
        {{ dbt.datediff('events.event_time', 'windows.validation_start', 'second') }} as seconds_before_validation  -- noqa: LT05
    from events
    cross join windows
    where events.event_time >= windows.ranker_train_start
        and events.event_time <= windows.as_of_time
),

labelled as (
    select
        customer_key,
        product_id,
        event_time,
        case
            when event_time >= test_start then 'test'
            when event_time >= validation_start then 'validation'
            -- train_k is [validation_start - k windows, validation_start - (k - 1) windows): an event
            -- exactly on a window's start belongs to it (ceil, not floor + 1)
            else 'train_' || cast(ceil(seconds_before_validation / {{ validation_seconds }}e0) as integer)
        end as cutoff
    from in_windows
),

hits as (
    {%- if split == 'last_event' %}
    select *
    from labelled
    qualify event_time = max(event_time) over (partition by cutoff, customer_key)
    {%- else %}
    select * from labelled
    {%- endif %}
),

final as (
    select
        cutoff,
        customer_key,
        product_id,
        min(event_time) as hit_time
    from hits
    group by cutoff, customer_key, product_id
)

select * from final
