-- One model fit per row, the four kinds the build trains: segmentation (refitted runs only: a
-- run that kept the previous centroids fitted nothing), the serving ALS, the learned ranker of
-- each served cutoff and customer value. Built from what the fitting models already record
-- (nothing is refitted here); `segrec track` pushes new rows to MLflow, fit_id as the tag.
-- fitted_at: a segmentation run's scored_at; the other models are tables fitted in every build,
-- so their fits are as old as the dbt invocation that built them (build model_fits with them).
-- The ALS artifact is its factor marts: built with model_fits, so `segrec track` finds them.
-- depends_on: {{ ref('recommendation_user_factors') }}, {{ ref('recommendation_item_factors') }}
with

segmentation_runs as (
    select * from {{ ref('int_segmentation__model_runs') }}
    where is_refit
),

als_factors as (
    select * from {{ ref('int_recommendation__als_factors') }}
),

als_grid as (
    select * from {{ ref('int_recommendation__als_grid') }}
    where is_selected
),

ranker_lists as (
    select * from {{ ref('int_recommendation__ranker_lists') }}
),

ranker_metrics as (
    select * from {{ ref('int_recommendation__holdout_metrics') }}
    -- a prefix test without LIKE's escape: Spark's string literals read the backslash as one
    where substr(strategy, 1, 7) = 'ranker_' and group_dimension = 'all'
),

value_scores as (
    select * from {{ ref('int_customers__value_scores') }}
),

build as (
    select cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S") }}' as timestamp) as started_at
),

segmentation_fits as (
    select
        'segmentation' as model_kind,
        model_version,
        data_version,
        parameters,
        {{ json_object([
            ["'silhouette'", 'silhouette'],
            ["'calinski_harabasz'", 'calinski_harabasz'],
            ["'davies_bouldin'", 'davies_bouldin'],
            ["'noise_share'", 'noise_share'],
            ["'stability_vs_previous'", 'stability_vs_previous'],
            ["'tree_fidelity'", 'tree_fidelity'],
            ["'n_clusters'", 'n_clusters'],
            ["'n_customers'", 'n_customers'],
        ]) }} as metrics,
        -- the centroids are small: the fitted model itself, in the scaled feature space
        {{ json_object([
            ["'feature_names'", 'feature_names'],
            ["'centroid_segment_ids'", 'centroid_segment_ids'],
            ["'centroids'", 'centroids'],
        ]) }} as artifact,
        scored_at as fitted_at
    from segmentation_runs
),

als_fit as (
    select distinct
        model_version,
        data_version,
        parameters
    from als_factors
),

als_fits as (
    select
        'als' as model_kind,
        als_fit.model_version,
        als_fit.data_version,
        als_fit.parameters,
        -- the selected grid row's score on the validation window (NaN: untried, nothing to choose)
        {{ json_object([
            ["'validation_' || als_grid.metric || '_at_' || als_grid.k",
             'case when not isnan(als_grid.value) then als_grid.value end'],
            ["'validation_users'", 'als_grid.n_users'],
        ]) }} as metrics,
        -- the factors are large: they stay in their marts, filtered on model_version
        {% set factor_tables = dbt.array_construct(
            ["'recommendation_user_factors'", "'recommendation_item_factors'"]) %}
        {{ json_object([["'tables'", factor_tables]]) }} as artifact,
        build.started_at as fitted_at
    from als_fit
    cross join als_grid
    cross join build
),

ranker_fit as (
    select distinct
        cutoff,
        model_version,
        data_version,
        parameters,
        ranker_status
    from ranker_lists
),

ranker_scores as (
    select {{ json_group_object("strategy || '.' || metric || '_at_' || k", 'value') }} as metrics
    from ranker_metrics
    where not isnan(value)
),

ranker_fits as (
    select
        'ranker' as model_kind,
        ranker_fit.model_version,
        ranker_fit.data_version,
        {{ json_merge('ranker_fit.parameters', json_object([
            ["'cutoff'", 'ranker_fit.cutoff'], ["'ranker_status'", 'ranker_fit.ranker_status'],
        ])) }} as parameters,  -- noqa: RF04
        -- judged on the test window only; the latest ranker is the same procedure one window later
        case
            when ranker_fit.cutoff = 'test' then coalesce(ranker_scores.metrics, {{ json_object([]) }})
            else {{ json_object([]) }}
        end as metrics,
        cast(null as {{ type_json() }}) as artifact,  -- not kept: retrained from its logged windows and settings
        build.started_at as fitted_at
    from ranker_fit
    cross join ranker_scores
    cross join build
),

value_fits as (
    select
        'customer_value' as model_kind,
        any_value(value_scores.model_version) as model_version,
        any_value(value_scores.data_version) as data_version,
        -- the fitted BG/NBD and Gamma-Gamma coefficients are the model: its parameters
        any_value(value_scores.model_parameters) as parameters,  -- noqa: RF04
        {{ json_object([
            ["'n_scored_customers'", 'count(*)'],
            ["'mean_probability_active'", 'avg(value_scores.probability_active)'],
            ["'predicted_value_90d'", 'sum(value_scores.predicted_value_90d)'],
        ]) }} as metrics,
        cast(null as {{ type_json() }}) as artifact,
        any_value(build.started_at) as fitted_at
    from value_scores
    cross join build
    having count(*) > 0  -- no model fitted: no row
),

-- the same columns in the same order: a positional union (DuckDB's union all by name is not Spark SQL)
fits as (
    select * from segmentation_fits
    union all
    select * from als_fits
    union all
    select * from ranker_fits
    union all
    select * from value_fits
),

final as (
    select
        model_kind || ':' || model_version as fit_id,
        model_kind,
        model_version,
        data_version,
        cast(parameters as {{ dbt.type_string() }}) as parameters,  -- noqa: RF04
        cast(metrics as {{ dbt.type_string() }}) as metrics,
        cast(artifact as {{ dbt.type_string() }}) as artifact,
        cast(fitted_at as timestamp) as fitted_at
    from fits
)

select * from final
