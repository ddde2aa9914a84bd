-- Product events that can carry an interaction weight (macro weighted_interactions): clean
-- product events (int_events__sessionized) of the weighted types (purchases always, for the
-- already-bought rule) and, when var recommendation_event_weights weighs them, clicks on shown
-- recommendations (recommendation_impressions.clicked_at) as event_type 'recommendation_click',
-- so clicked recommendations feed back. Clicks count only for known customers and products:
-- a deleted customer is not in int_customers__unified.
{%- set weights = recommendation_event_weights() %}
{%- set event_types = (weights.keys() | list + ['purchase']) | unique | sort %}

with

events as (
    select
        customer_key,
        product_id,
        event_type,
        event_time
    from {{ ref('int_events__sessionized') }}
    where product_id is not null
        and event_type in (
            {%- for event_type in event_types %}
            '{{ event_type }}'{{ ',' if not loop.last }}
            {%- endfor %}
        )
),

{%- if 'recommendation_click' in weights %}

impressions as (
    select * from {{ ref('stg_raw__recommendation_impressions') }}
    where clicked_at is not null
),

customers as (
    select
        customer_key,
        customer_id
    from {{ ref('int_customers__unified') }}
    where not is_anonymous
),

products as (
    select product_id from {{ ref('int_products__enriched') }}
),

clicks as (
    select
        customers.customer_key,
        impressions.product_id,
        'recommendation_click' as event_type,
        impressions.clicked_at as event_time
    from impressions
    inner join customers
        on impressions.customer_id = customers.customer_id
    inner join products
        on impressions.product_id = products.product_id
),

{%- endif %}

final as (
    select * from events
    {%- if 'recommendation_click' in weights %}
    union all
    select * from clicks
    {%- endif %}
)

select * from final
