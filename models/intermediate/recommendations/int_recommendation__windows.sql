-- The moments of the recommendation models (one row): as_of_time for serving (var as_of_date,
-- else the latest clean event) and the temporal hold-out: the test window starts
-- var recommendation_test_days whole days before the day of as_of_time, the validation window
-- var recommendation_validation_days before that (segrec.recommend.evaluation.temporal_split draws the
-- same boundaries in memory), and how the windows split (var recommendation_holdout_split).
-- train_<k>_start: the learned ranker also learns from recommendation_ranker.train_windows - 1
-- earlier windows of the validation window's length (train_1 just before it, then train_2, ...);
-- ranker_train_start is the earliest start.
{%- set test_days = recommendation_whole_number('recommendation_test_days', 1) %}
{%- set validation_days = recommendation_whole_number('recommendation_validation_days', 0) %}
{%- set train_windows = recommendation_train_windows() %}
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
        {%- for name in train_windows %}
        {{ dbt.dateadd('day', -1 * (test_days + validation_days * (1 + loop.index)), day_start) }} as {{ name }}_start,
        {%- endfor %}
        {{ dbt.dateadd('day', -1 * (test_days + validation_days * (1 + train_windows | length)), day_start) }}
            as ranker_train_start,
        '{{ recommendation_holdout_split() }}' as holdout_split
    from as_of
)

select * from final
