-- One recommendation impression with its outcomes: clicked, and converted (the shown product
-- bought within var feedback_attribution_days), the customer's behavioural segment in the latest
-- segmentation run ('unsegmented' when not scored) and, when var strategy_allocation names a
-- layout experiment, the customer's variant in it ('none' when not assigned). Read by the
-- feedback mart and the strategy allocation (bandit).
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

latest_segments as (
    select * from {{ ref('int_segmentation__member_segments') }}
    where is_latest_run
),

assignments as (
    select * from {{ ref('int_experiment__assignments') }}
    {%- set layout_experiment = var('strategy_allocation')['layout_experiment'] %}
    where {% if layout_experiment %}experiment_id = '{{ layout_experiment }}'{% else %}false{% endif %}
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
        coalesce(latest_segments.segment_name, 'unsegmented') as segment_name,
        coalesce(assignments.variant, 'none') as layout_variant
    from impressions
    left join latest_segments
        on impressions.customer_key = latest_segments.customer_key
    left join assignments
        on impressions.customer_key = assignments.customer_key
)

select * from final
