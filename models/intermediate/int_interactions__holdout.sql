-- Training interactions of the temporal hold-out (macro weighted_interactions), one set per
-- cutoff: 'validation' = events before the validation window (ALS tuning), 'test' = events
-- before the test window (the offline evaluation), each weighted and decayed as of its cutoff.
{%- set windows = ref('int_recommendation__windows') %}

with

validation as (
    {{ weighted_interactions(
        ref('int_interactions__events'), '(select validation_start from ' ~ windows ~ ')', inclusive=false
    ) }}
),

test as (
    {{ weighted_interactions(
        ref('int_interactions__events'), '(select test_start from ' ~ windows ~ ')', inclusive=false
    ) }}
),

final as (
    select
        'validation' as cutoff,
        *
    from validation
    union all
    select
        'test' as cutoff,
        *
    from test
)

select * from final
