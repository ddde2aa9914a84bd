-- Business validation of the segments on the temporal hold-out, one row per (segmentation,
-- segment): the chosen candidate's segments built at the cutoff and the two baselines (spend
-- quintiles, R x F score groups) on the same customers, with what they did afterwards. r2 is
-- the segmentation's between-group R^2 of log_next_revenue (computed once, by
-- int_segmentation__candidates); passes_baseline: the segmentation explains at least as much as
-- the spend quintiles. Empty when the hold-out is disabled.
with

candidates as (
    select * from {{ ref('int_segmentation__candidates') }}
),

outcomes as (
    select * from {{ ref('int_segmentation__holdout_outcomes') }}
),

as_of as (
    select * from {{ ref('int_events__as_of') }}
),

validated as (
    select
        case when segmentation = 'candidate' then 'chosen' else segmentation end as segmentation,
        feature_set,
        k,
        silhouette,
        r2,
        cutoff_time,
        horizon_days,
        customer_keys,
        segment_names
    from candidates
    where is_chosen or segmentation != 'candidate'
),

baseline as (
    select r2 as baseline_r2
    from candidates
    where segmentation = 'spend_quintiles'
),

members as (
    select
        segmentation,
        {{ unnest_lists({'customer_key': 'customer_keys', 'segment_name': 'segment_names'}) }}
    from validated
),

segments as (
    select
        members.segmentation,
        members.segment_name,
        count(*) as n_customers,
        -- double literals: 1.0 is a decimal on Spark (shares to 5 digits, docs/spark.md)
        avg(case when outcomes.purchased then 1e0 else 0e0 end) as purchase_rate,
        avg(case when outcomes.retained then 1e0 when not outcomes.retained then 0e0 end) as retention_rate,
        avg(outcomes.next_revenue) as mean_next_revenue,
        sum(outcomes.next_revenue) as next_revenue
    from members
    inner join outcomes
        on members.customer_key = outcomes.customer_key
    group by members.segmentation, members.segment_name
),

final as (
    select
        as_of.as_of_time,
        validated.cutoff_time,
        validated.horizon_days,
        segments.segmentation,
        validated.feature_set,
        validated.k,
        segments.segment_name,
        segments.n_customers,
        segments.n_customers / sum(segments.n_customers) over (partition by segments.segmentation) as customer_share,
        segments.purchase_rate,
        segments.retention_rate,
        segments.mean_next_revenue,
        segments.next_revenue
        / nullif(sum(greatest(segments.next_revenue, 0)) over (partition by segments.segmentation), 0)
            as next_revenue_share,
        validated.r2,
        validated.silhouette,
        baseline.baseline_r2,
        validated.r2 >= baseline.baseline_r2 as passes_baseline
    from segments
    inner join validated
        on segments.segmentation = validated.segmentation
    cross join baseline
    cross join as_of
)

select * from final
