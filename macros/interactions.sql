{#- Interaction weighting for the recommenders: the single source of truth. The package's
    segrec.recommend.interactions_from_events is only an in-memory reference of it, checked
    equal in tests/python/test_dbt_recommendations.py. -#}

{#- Event types that may carry an interaction weight: product-level events, and clicks on shown
    recommendations (recommendation_impressions.clicked_at). -#}
{% macro recommendation_weighted_event_types() -%}
    {{ return(['product_view', 'add_to_cart', 'remove_from_cart', 'purchase', 'return', 'recommendation_click']) }}
{%- endmacro %}

{#- var recommendation_event_weights, checked: known event types, non-negative numbers. -#}
{% macro recommendation_event_weights() -%}
    {%- set weights = var('recommendation_event_weights') -%}
    {%- set allowed = segrec.recommendation_weighted_event_types() -%}
    {%- if weights is not mapping or weights | length == 0 -%}
        {{ exceptions.raise_compiler_error(
            "var recommendation_event_weights must map event types to weights, got " ~ weights) }}
    {%- endif -%}
    {%- for event_type, weight in weights.items() -%}
        {%- if event_type not in allowed -%}
            {{ exceptions.raise_compiler_error(
                "var recommendation_event_weights: unknown event type '" ~ event_type ~ "'; use "
                ~ allowed | join(', ')) }}
        {%- endif -%}
        {%- if weight is not number or weight < 0 -%}
            {{ exceptions.raise_compiler_error(
                "var recommendation_event_weights: the weight of " ~ event_type
                ~ " must be a number >= 0, got " ~ weight) }}
        {%- endif -%}
    {%- endfor -%}
    {{ return(weights) }}
{%- endmacro %}

{#- A var that must be a whole number of at least `minimum`. -#}
{% macro recommendation_whole_number(name, minimum) -%}
    {%- set value = var(name) -%}
    {%- if value is not integer or value < minimum -%}
        {{ exceptions.raise_compiler_error(
            "var " ~ name ~ " must be a whole number >= " ~ minimum ~ ", got " ~ value) }}
    {%- endif -%}
    {{ return(value) }}
{%- endmacro %}

{#- var recommendation_holdout_split, checked: 'window' or 'last_event'. -#}
{% macro recommendation_holdout_split() -%}
    {%- set split = var('recommendation_holdout_split') -%}
    {%- if split not in ['window', 'last_event'] -%}
        {{ exceptions.raise_compiler_error(
            "var recommendation_holdout_split must be 'window' or 'last_event', got " ~ split) }}
    {%- endif -%}
    {{ return(split) }}
{%- endmacro %}

{#-
  weighted_interactions(events, as_of): the customer x product interactions of `events`
  (customer_key, product_id, event_type, event_time; the caller chooses which, e.g. those up to
  the cutoff), weighted as of the moment `as_of` (a SQL expression), one row per pair:
  - weight: the sum over the pair's events of var recommendation_event_weights[event_type]
    (0 for other types) x 0.5 ^ (age in days / var recommendation_half_life_days), the age
    counted back from `as_of`, 0 for a later event (no decay when the half-life is null);
  - n_events, last_event_time, n_purchase_days (distinct UTC days with a purchase), is_purchased;
  - meets_min_activity: a positive weight, and the customer has at least
    var recommendation_min_customer_products such products and the product at least
    var recommendation_min_product_customers such customers (counted once, not iterated).
-#}
{% macro weighted_interactions(events, as_of) %}
    {%- set weights = segrec.recommendation_event_weights() -%}
    {%- set half_life = var('recommendation_half_life_days') -%}
    {%- if half_life is not none and (half_life is not number or half_life <= 0) -%}
        {{ exceptions.raise_compiler_error(
            "var recommendation_half_life_days must be a positive number or null, got " ~ half_life) }}
    {%- endif -%}
    {%- set min_customer_products = segrec.recommendation_whole_number('recommendation_min_customer_products', 1) -%}
    {%- set min_product_customers = segrec.recommendation_whole_number('recommendation_min_product_customers', 1) -%}
    with

    event_weights as (
        select *
        from (
            values
            {%- for event_type in weights | sort %}
                ('{{ event_type }}', cast({{ weights[event_type] }} as double)){{ ',' if not loop.last }}
            {%- endfor %}
        ) as event_weights (event_type, event_weight)
    ),

    weighted_events as (
        select
            events.customer_key,
            events.product_id,
            events.event_type,
            events.event_time,
            coalesce(event_weights.event_weight, 0e0)
            {%- if half_life %}
            * power(0.5e0, greatest(0, {{ segrec.seconds_between('events.event_time', as_of) }}) / 86400e0 / {{ half_life }})
            {%- endif %} as weight
        from {{ events }} as events
        left join event_weights
            on events.event_type = event_weights.event_type
    ),

    pairs as (
        select
            customer_key,
            product_id,
            sum(weight) as weight,
            count(*) as n_events,
            count(distinct case when event_type = 'purchase' then cast(event_time as date) end) as n_purchase_days,
            max(event_time) as last_event_time
        from weighted_events
        group by customer_key, product_id
    ),

    activity as (
        select
            *,
            sum(case when weight > 0 then 1 else 0 end) over (partition by customer_key) as n_customer_products,
            sum(case when weight > 0 then 1 else 0 end) over (partition by product_id) as n_product_customers
        from pairs
    )

    select
        customer_key,
        product_id,
        weight,
        n_events,
        n_purchase_days,
        n_purchase_days > 0 as is_purchased,
        last_event_time,
        weight > 0
        and n_customer_products >= {{ min_customer_products }}
        and n_product_customers >= {{ min_product_customers }} as meets_min_activity
    from activity
{% endmacro %}

{#- The label of the largest of several share columns ({label: column}, first label wins a
    tie); null when every share is missing or zero. -#}
{% macro largest_share_label(shares) -%}
    {%- set largest -%}
        greatest({% for column in shares.values() %}coalesce({{ column }}, 0){{ ', ' if not loop.last }}{% endfor %})
    {%- endset -%}
    case
        when {{ largest }} <= 0 then null
        {%- for label, column in shares.items() %}
        when coalesce({{ column }}, 0) = {{ largest }} then '{{ label }}'
        {%- endfor %}
    end
{%- endmacro %}

{#- The learned ranker's extra training windows before the validation window: train_1 just
    before it, train_2 before that, ... (var recommendation_ranker.train_windows - 1 of them,
    none without a validation window). -#}
{% macro recommendation_train_windows() %}
    {%- set train_windows = var('recommendation_ranker').get('train_windows', 1) %}
    {%- if train_windows is not integer or train_windows < 1 %}
        {{ exceptions.raise_compiler_error(
            "var recommendation_ranker.train_windows must be a whole number >= 1, got " ~ train_windows) }}
    {%- endif %}
    {%- set names = [] %}
    {%- if segrec.recommendation_whole_number('recommendation_validation_days', 0) > 0 %}
        {%- for k in range(1, train_windows) %}{% do names.append('train_' ~ k) %}{% endfor %}
    {%- endif %}
    {{ return(names) }}
{% endmacro %}

{#- The hold-out cutoffs and the column of int_recommendation__windows where each starts:
    validation, test, then the ranker's train_<k> windows. -#}
{% macro recommendation_holdout_cutoffs() %}
    {%- set cutoffs = [('validation', 'validation_start'), ('test', 'test_start')] %}
    {%- for name in segrec.recommendation_train_windows() %}{% do cutoffs.append((name, name ~ '_start')) %}{% endfor %}
    {{ return(cutoffs) }}
{% endmacro %}

{#- The training cutoffs of the recommendation models, one row each, from the one-row
    `windows` relation (int_recommendation__windows): cutoff ('latest' for serving,
    'validation', 'test' and train_<k> for the hold-out), cutoff_time, and is_inclusive (events
    at cutoff_time belong to the cutoff's past; only for 'latest', as in weighted_interactions). -#}
{% macro recommendation_cutoffs(windows) %}
    select
        'latest' as cutoff,
        as_of_time as cutoff_time,
        true as is_inclusive
    from {{ windows }}
    {%- for cutoff, start in segrec.recommendation_holdout_cutoffs() %}
    union all
    select
        '{{ cutoff }}' as cutoff,
        {{ start }} as cutoff_time,
        false as is_inclusive
    from {{ windows }}
    {%- endfor %}
{% endmacro %}

{#- `time_column` lies in the past of a cutoff row (recommendation_cutoffs) named `cutoffs`. -#}
{% macro before_cutoff(time_column, cutoffs='cutoffs') -%}
    ({{ time_column }} < {{ cutoffs }}.cutoff_time
        or ({{ cutoffs }}.is_inclusive and {{ time_column }} = {{ cutoffs }}.cutoff_time))
{%- endmacro %}
