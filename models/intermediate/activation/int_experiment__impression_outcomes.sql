-- One recommendation impression with its outcomes: clicked, and converted (the shown product
-- bought within var feedback_attribution_days) and the customer's allocation group (segment and
-- layout variant, int_experiment__allocation_groups). Read by the feedback mart and the strategy
-- allocation (bandit).
with

impressions as (
    select * from {{ ref('int_privacy__recommendation_impressions') }}
),

purchases as (
    select
        customer_key,
        product_id,
        event_time
    from {{ ref('int_events__sessionized') }}
    where event_type = 'purchase' and product_id is not null
),

allocation_groups as (
    select * from {{ ref('int_experiment__allocation_groups') }}
),

final as (
    select
        impressions.customer_key,
        impressions.product_id,
        impressions.strategy,
        impressions.shown_at,
        impressions.clicked,
        exists(
            select 1 from purchases
            where purchases.customer_key = impressions.customer_key
                and purchases.product_id = impressions.product_id
                and purchases.event_time >= impressions.shown_at
                and purchases.event_time
                <= {{ dbt.dateadd('day', var('feedback_attribution_days'), 'impressions.shown_at') }}
        ) as converted,
        allocation_groups.segment_name,
        allocation_groups.layout_variant
    from impressions
    -- every impression is of a known customer (deleted ones are gone already); a left join so a
    -- missing one shows as a null group (not_null tests) instead of a lost impression
    left join allocation_groups
        on impressions.customer_key = allocation_groups.customer_key
)

select * from final
