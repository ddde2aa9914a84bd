-- Every run's assignments unnested: one row per (run, customer).
with

runs as (
    select * from {{ ref('segmentation_model_runs') }}
),

final as (
    select
        run_id,
        model_version,
        previous_run_id,
        scored_at,
        unnest(customer_keys) as customer_key,
        unnest(segment_ids) as segment_id,
        unnest(confidences) as confidence,
        unnest(pca_x) as pca_x,
        unnest(pca_y) as pca_y,
        unnest(rule_segments) as rule_segments
    from runs
)

select * from final
