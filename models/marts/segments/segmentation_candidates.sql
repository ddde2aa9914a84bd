-- Every segmentation candidate (feature set x k) judged on the temporal hold-out, with the one
-- chosen and the baselines (int_segmentation__candidates without the per-customer lists).
select
    segmentation,
    feature_set,
    k,
    silhouette,
    r2,
    min_share,
    is_chosen,
    cutoff_time,
    horizon_days,
    n_customers
from {{ ref('int_segmentation__candidates') }}
