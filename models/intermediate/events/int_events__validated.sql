-- Every raw event row with the first reason that disqualifies it (docs/cleaning-rules.md);
-- reason_code is null for a clean row. Raw rows in = rows out, always.
with

events as (
    select * from {{ ref('stg_raw__events') }}
),

device_owners as (
    select * from {{ ref('int_identity__device_owners') }}
),

privacy as (
    select * from {{ ref('int_customers__privacy_status') }}
),

currency_rates as (
    select * from {{ ref('currency_rates') }}
),

bot_user_agents as (
    select * from {{ ref('bot_user_agents') }}
),

resolved as (
    select
        events.*,
        coalesce(events.customer_id, device_owners.customer_id) as resolved_customer_id,
        -- the actor whose behaviour is judged for bot traffic: the device, else the login
        coalesce('anonymous:' || events.anonymous_id, 'customer:' || events.customer_id) as actor_id,
        coalesce(events.currency, '{{ var("default_currency") }}') as effective_currency,
        events.currency is null as is_currency_imputed,
        currency_rates.rate_to_base
    from events
    left join device_owners
        on events.anonymous_id = device_owners.anonymous_id
    left join currency_rates
        on coalesce(events.currency, '{{ var("default_currency") }}') = currency_rates.currency
),

checked as (
    select
        resolved.*,
        case
            when privacy.is_deleted then 'privacy_deleted'
            when resolved.event_id is null then 'missing_event_id'
            when resolved.event_id_occurrence > 1 then 'duplicate_event'
            when resolved.event_time is null then 'invalid_event_time'
            when resolved.event_time
                > {{ dbt.dateadd('minute', var('future_tolerance_minutes'), 'resolved.loaded_at') }}
                then 'future_event_time'
            when resolved.event_type is null then 'unknown_event_type'
            when resolved.customer_id is null and resolved.anonymous_id is null then 'missing_identity'
            when resolved.event_type in ('product_view', 'add_to_cart', 'remove_from_cart')
                and resolved.product_id is null then 'missing_product'
            when resolved.event_type in ('purchase', 'return')
                and resolved.product_id is null and resolved.order_id is null then 'missing_product'
            when resolved.event_type in ('purchase', 'return')
                and {{ clean_text('resolved.raw_quantity') }} is not null
                and coalesce(resolved.quantity <= 0, true) then 'invalid_quantity'
            when resolved.event_type in ('purchase', 'return')
                and coalesce(resolved.unit_price <= 0, true) then 'invalid_price'
            when resolved.event_type in ('purchase', 'return')
                and resolved.rate_to_base is null then 'unknown_currency'
        end as pre_bot_reason
    from resolved
    left join privacy
        on resolved.resolved_customer_id = privacy.customer_id
),

user_agents as (
    select distinct
        actor_id,
        lower(user_agent) as user_agent
    from checked
    where user_agent is not null
),

bots_by_user_agent as (
    select distinct user_agents.actor_id
    from user_agents
    inner join bot_user_agents
        on user_agents.user_agent like '%' || lower(bot_user_agents.pattern) || '%'
),

events_per_minute as (
    -- the lines of one order are one action: a wholesale invoice is not a burst
    select
        actor_id,
        date_trunc('minute', event_time) as event_minute,
        count(distinct case
            when event_type in ('purchase', 'return') and order_id is not null then 'order:' || order_id
            else event_id
        end) as n_events
    from checked
    where pre_bot_reason is null
    group by actor_id, date_trunc('minute', event_time)
),

bots_by_rate as (
    select distinct actor_id
    from events_per_minute
    where n_events > {{ var('bot_max_events_per_minute') }}
),

bots as (
    select actor_id from bots_by_user_agent
    union
    select actor_id from bots_by_rate
),

final as (
    select
        {{ star_except(['pre_bot_reason'], 'checked') }},
        coalesce(
            checked.pre_bot_reason,
            case when bots.actor_id is not null then 'bot_traffic' end
        ) as reason_code
    from checked
    left join bots
        on checked.actor_id = bots.actor_id
)

select * from final
