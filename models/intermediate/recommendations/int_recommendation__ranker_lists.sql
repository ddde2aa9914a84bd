-- The learned ranker's lists of both cutoffs in one relation: test (int_recommendation__ranker_holdout,
-- judged offline) and latest (int_recommendation__ranker_latest, served). Two models so that the offline
-- evaluation runs beside the served lists.
{{ config(materialized='view') }}

with

holdout as (
    select * from {{ ref('int_recommendation__ranker_holdout') }}
),

latest as (
    select * from {{ ref('int_recommendation__ranker_latest') }}
),

final as (
    select * from holdout
    union all
    select * from latest
)

select * from final
