-- Every run's segments unnested: one row per (run, segment) with name, description, rules and
-- drivers (the feature groups that set it apart, when the hold-out chose the features).
with

runs as (
    select
        run_id,
        {{ unnest_lists({'segment': 'segments'}) }}
    from {{ ref('int_segmentation__model_runs') }}
),

final as (
    select
        runs.run_id,
        segment.segment_id,
        segment.cluster_id,
        segment.segment_name,
        segment.description,
        segment.archetype,
        segment.rules,
        segment.drivers
    from runs
)

select * from final
