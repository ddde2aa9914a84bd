-- The kept model of the latest segmentation run in its scaled space: one row per (segment,
-- feature) with the centroid's value and how a raw feature value is scaled into that space
-- (segrec.segmentation.validation.apply_scaling). The service assigns a live visitor to the
-- nearest centroid with it (segrec.segmentation.online). Empty when the run clustered the SQL
-- matrix of var clustering_features, whose scaling is not recorded.
with

runs as (
    select * from {{ ref('int_segmentation__model_runs') }}
),

-- which run is the latest is decided once, in segmentation_runs
run_flags as (
    select * from {{ ref('segmentation_runs') }}
),

latest as (
    select runs.*
    from runs
    inner join run_flags
        on runs.run_id = run_flags.run_id
    where run_flags.is_latest
        and {{ list_length('runs.feature_scaling') }} = {{ list_length('runs.feature_names') }}
),

segments as (
    select
        run_id,
        model_version,
        feature_names,
        feature_scaling,
        {{ unnest_lists({'segment_id': 'centroid_segment_ids', 'centroid': 'centroids'}) }}
    from latest
),

cells as (
    select
        run_id,
        model_version,
        segment_id,
        {{ unnest_lists({
            'feature': 'feature_names',
            'centroid_value': 'centroid',
            'scaling': 'feature_scaling',
        }, position='feature_position') }}
    from segments
),

final as (
    select
        cells.run_id,
        cells.model_version,
        cells.segment_id,
        cells.feature_position,
        cells.feature,
        cells.centroid_value,
        cells.scaling.impute_value,
        cells.scaling.is_log,
        cells.scaling.clip_low,
        cells.scaling.clip_high,
        cells.scaling.center,
        cells.scaling.scale,
        cells.scaling.weight
    from cells
)

select * from final
