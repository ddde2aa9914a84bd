-- One session an assigned customer started at or after their assignment, per experiment, and
-- whether it converted (the visit-level conversion the experiments act on).
with

assignments as (
    select * from {{ ref('int_experiment__assignments') }}
),

sessions as (
    select * from {{ ref('int_sessions__aggregated') }}
),

final as (
    select
        assignments.experiment_id,
        assignments.customer_key,
        sessions.session_key,
        sessions.session_start,
        sessions.converted
    from assignments
    inner join sessions
        on assignments.customer_key = sessions.customer_key
            and (assignments.assigned_at is null or assignments.assigned_at <= sessions.session_start)
)

select * from final
