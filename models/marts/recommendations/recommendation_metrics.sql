-- One (strategy, segment, k, metric) of the offline evaluation on the temporal hold-out, for the
-- model version being served: precision, recall, MAP, NDCG, hit rate, AUC, catalog coverage,
-- novelty, intra-list diversity and the popularity-bias and calibration metrics (exposure Gini,
-- long-tail share, popularity lift, category KL; definitions in segrec/recommend/evaluation.py),
-- overall and per segment, each mean with its 95% interval over customers; and overall, the
-- served lists' (ranker_blended) NDCG over the better of popularity and buy_again with a paired
-- bootstrap interval (ndcg_ratio_to_baseline). The other customer groups are in recommendation_fairness.
with

metrics as (
    select * from {{ ref('int_recommendation__holdout_metrics') }}
    where group_dimension in ('all', 'segment')
        and metric not in ('exposure_divergence', 'history_divergence')
),

serving as (
    select distinct model_version from {{ ref('int_recommendation__als_factors') }}
),

final as (
    select
        serving.model_version,
        metrics.strategy,
        metrics.group_name as segment_name,
        cast(metrics.k as integer) as k,
        metrics.metric,
        metrics.value,
        metrics.n_users,
        metrics.ci_low,
        metrics.ci_high,
        metrics.split_description,
        metrics.parameters as als_parameters
    from metrics
    cross join serving
)

select * from final
