-- Training interactions of the hold-out (macro weighted_interactions), one set per cutoff:
-- 'validation' = events before the validation window (ALS tuning), 'test' = events before the
-- test window (the offline evaluation), train_<k> = events before the learned ranker's earlier
-- training windows, each weighted and decayed as of its cutoff. With var
-- recommendation_holdout_split 'last_event' a customer's events in the window before their hit
-- (int_recommendation__holdout_truth) are input too: the session so far predicts its next item.
-- depends_on: {{ ref('int_recommendation__holdout_truth') }}
{%- set split = recommendation_holdout_split() %}
{%- set windows = ref('int_recommendation__windows') %}
{%- set cutoffs = recommendation_holdout_cutoffs() %}

with

events as (
    select * from {{ ref('int_interactions__events') }}
),

windows as (
    select * from {{ windows }}
),

{%- if split == 'last_event' %}

hit_moments as (
    select
        cutoff,
        customer_key,
        min(hit_time) as hit_time
    from {{ ref('int_recommendation__holdout_truth') }}
    group by cutoff, customer_key
),
{%- endif %}

{%- for cutoff, start in cutoffs %}

{{ cutoff }}_events as (
    select events.*
    from events
    cross join windows
    where events.event_time < windows.{{ start }}
    {%- if split == 'last_event' %}
    union all
    select events.*
    from events
    cross join windows
    inner join hit_moments
        on events.customer_key = hit_moments.customer_key
            and hit_moments.cutoff = '{{ cutoff }}'
    where events.event_time >= windows.{{ start }}
        and events.event_time < hit_moments.hit_time
    {%- endif %}
),

{{ cutoff }}_interactions as (
    {{ weighted_interactions(cutoff ~ '_events', '(select ' ~ start ~ ' from ' ~ windows ~ ')') }}
),
{%- endfor %}

final as (
    {%- for cutoff, _ in cutoffs %}
    select
        '{{ cutoff }}' as cutoff,
        *
    from {{ cutoff }}_interactions
    {{ 'union all' if not loop.last }}
    {%- endfor %}
)

select * from final
