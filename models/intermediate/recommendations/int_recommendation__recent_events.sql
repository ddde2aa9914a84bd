-- Recent weighted product events at each cutoff, for trending (segrec.recommend.baselines.
-- trending_scores compares the last var recommendation_trending_window_days with the window
-- before): 'latest' up to the as-of moment, 'validation' and 'test' before their windows.
{%- set window_days = recommendation_whole_number('recommendation_trending_window_days', 1) %}

with

cutoffs as (
    {{ recommendation_cutoffs(ref('int_recommendation__windows')) }}
),

events as (
    select * from {{ ref('int_interactions__events') }}
),

final as (
    select
        cutoffs.cutoff,
        events.customer_key,
        events.product_id,
        events.event_type,
        events.event_time
    from events
    inner join cutoffs
        on events.event_time > {{ dbt.dateadd('day', -2 * window_days, 'cutoffs.cutoff_time') }}
            and {{ before_cutoff('events.event_time') }}
)

select * from final
