-- What customers did in the hold-out windows, the hits of the offline evaluation: one row per
-- (cutoff, customer_key, product_id) with an event of var recommendation_truth_event_types;
-- cutoff 'validation' = the validation window, 'test' = the test window up to the as-of moment.
{%- set truth_types = var('recommendation_truth_event_types') %}
{%- if truth_types is string or truth_types | length == 0 %}
    {{ exceptions.raise_compiler_error(
        "var recommendation_truth_event_types must be a non-empty list of event types, got " ~ truth_types) }}
{%- endif %}

with

windows as (
    select * from {{ ref('int_recommendation__windows') }}
),

events as (
    select
        customer_key,
        product_id,
        event_time
    from {{ ref('fct_events') }}
    where product_id is not null
        and event_type in (
            {%- for event_type in truth_types %}
            '{{ event_type }}'{{ ',' if not loop.last }}
            {%- endfor %}
        )
),

labelled as (
    select
        events.customer_key,
        events.product_id,
        case when events.event_time >= windows.test_start then 'test' else 'validation' end as cutoff
    from events
    cross join windows
    where events.event_time >= windows.validation_start
        and events.event_time <= windows.as_of_time
),

final as (
    select distinct
        cutoff,
        customer_key,
        product_id
    from labelled
)

select * from final
