-- One recommendation impression shown to an assigned customer at or after their assignment,
-- per experiment (the click-through rate of the experiment analysis).
with

assignments as (
    select * from {{ ref('int_experiment__assignments') }}
),

impressions as (
    select * from {{ ref('int_privacy__recommendation_impressions') }}
    where shown_at is not null
),

final as (
    select
        assignments.experiment_id,
        assignments.customer_key,
        impressions.product_id,
        impressions.strategy,
        impressions.shown_at,
        impressions.clicked
    from assignments
    inner join impressions
        on assignments.customer_key = impressions.customer_key
            and (assignments.assigned_at is null or assignments.assigned_at <= impressions.shown_at)
)

select * from final
