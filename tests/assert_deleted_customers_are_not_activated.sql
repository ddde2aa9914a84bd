-- Customers who asked to be deleted are in no activation input or mart: experiment
-- assignments, recommendation impressions, marketing audiences (one row per leak).
with

deleted as (
    select customer_key from {{ ref('int_privacy__deleted_customers') }}
),

activated as (
    select
        'int_experiment__assignments' as model_name,
        customer_key
    from {{ ref('int_experiment__assignments') }}
    union all
    select
        'int_privacy__recommendation_impressions' as model_name,
        customer_key
    from {{ ref('int_privacy__recommendation_impressions') }}
    union all
    select
        'marketing_audiences' as model_name,
        customer_key
    from {{ ref('marketing_audiences') }}
)

select activated.*
from activated
inner join deleted
    on activated.customer_key = deleted.customer_key
