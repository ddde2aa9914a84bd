-- One segmentation run: algorithm, k, parameters, quality metrics and stability against the
-- previous run. model_version names the fitted model (unchanged between refits); run_id the run.
select
    run_id,
    model_version,
    previous_run_id,
    scored_at,
    algorithm,
    n_clusters as k,
    is_refit,
    refit_reason,
    n_customers,
    silhouette,
    calinski_harabasz,
    davies_bouldin,
    noise_share,
    stability_vs_previous,
    tree_fidelity,
    parameters,
    data_version,
    scored_at = max(scored_at) over () as is_latest
from {{ ref('int_segmentation__model_runs') }}
