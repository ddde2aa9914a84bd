-- Every run's assignments unnested: one row per (run, customer). Customers who asked to be
-- deleted leave every run's history here (the raw run artifact keeps only their md5 key until a
-- full refresh of int_segmentation__model_runs; see README, Privacy and retention).
-- is_latest_run marks the run scored last; rule_segments is the customer's list of rule segments.
with

runs as (
    select
        *,
        scored_at = max(scored_at) over () as is_latest_run
    from {{ ref('int_segmentation__model_runs') }}
),

deleted as (
    select customer_key from {{ ref('int_privacy__deleted_customers') }}
),

unnested as (
    select
        run_id,
        model_version,
        previous_run_id,
        scored_at,
        is_latest_run,
        {{ unnest_lists({
            'customer_key': 'customer_keys',
            'segment_id': 'segment_ids',
            'confidence': 'confidences',
            'pca_x': 'pca_x',
            'pca_y': 'pca_y',
            'rule_segments': 'rule_segments',
        }) }}
    from runs
),

final as (
    select unnested.*
    from unnested
    left join deleted
        on unnested.customer_key = deleted.customer_key
    where deleted.customer_key is null
)

select * from final
