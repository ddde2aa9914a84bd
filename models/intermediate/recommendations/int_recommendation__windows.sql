-- The moments of the recommendation models (one row): as_of_time for serving (var as_of_date,
-- else the latest clean event) and the temporal hold-out: the test window starts
-- var recommendation_test_days whole days before the day of as_of_time, the validation window
-- var recommendation_validation_days before that (segrec.recommend.evaluation.temporal_split draws the
-- same boundaries in memory), and how the windows split (var recommendation_holdout_split).
{%- set test_days = recommendation_whole_number('recommendation_test_days', 1) %}
{%- set validation_days = recommendation_whole_number('recommendation_validation_days', 0) %}
{%- set day_start = 'cast(' ~ dbt.date_trunc('day', 'as_of_time') ~ ' as ' ~ dbt.type_timestamp() ~ ')' %}

with

as_of as (
    select * from {{ ref('int_events__as_of') }}
),

final as (
    select
        as_of_time,
        {{ dbt.dateadd('day', -1 * (test_days + validation_days), day_start) }} as validation_start,
        {{ dbt.dateadd('day', -1 * test_days, day_start) }} as test_start,
        '{{ recommendation_holdout_split() }}' as holdout_split
    from as_of
)

select * from final
