-- Serving interactions: every customer x product pair of int_interactions__events up to the
-- as-of moment, weighted and decayed as of that moment (macro weighted_interactions).
with

interactions as (
    {{ weighted_interactions(
        ref('int_interactions__events'),
        '(select as_of_time from ' ~ ref('int_recommendation__windows') ~ ')',
        inclusive=true
    ) }}
),

final as (
    select * from interactions
)

select * from final
