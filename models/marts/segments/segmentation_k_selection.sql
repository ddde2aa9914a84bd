-- Quality of every candidate k evaluated when a run refitted (silhouette by k).
with

runs as (
    select
        run_id,
        model_version,
        scored_at,
        {{ unnest_lists({'candidate': 'k_selection'}) }}
    from {{ ref('int_segmentation__model_runs') }}
    where is_refit
),

final as (
    select
        runs.run_id,
        runs.model_version,
        runs.scored_at,
        cast(candidate.k as integer) as k,
        candidate.silhouette,
        candidate.calinski_harabasz,
        candidate.davies_bouldin,
        candidate.inertia
    from runs
)

select * from final
