-- One customer assigned to a variant of an experiment (the first assignment wins, see staging),
-- keyed by customer_key; customers who asked to be deleted are left out. An unparseable
-- assigned_at is null: all of that customer's activity then counts for the experiment.
with

assignments as (
    select * from {{ ref('stg_raw__experiment_assignments') }}
),

deleted as (
    select * from {{ ref('int_privacy__deleted_customers') }}
),

final as (
    select
        assignments.experiment_id,
        {{ customer_key('assignments.customer_id', 'null') }} as customer_key,
        assignments.variant,
        assignments.assigned_at
    from assignments
    where not exists (
            select 1 from deleted
            where deleted.customer_id = assignments.customer_id
        )
)

select * from final
