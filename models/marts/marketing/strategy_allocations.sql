-- One (segment, layout variant, recommendation strategy): the Beta posterior of the strategy's
-- reward rate (clicks or conversions per impression, var strategy_allocation), its credible
-- interval, the probability that it is the best strategy there, and the traffic share it should
-- get next period (Thompson sampling with an exploration floor). segment_name 'all' is everyone;
-- layout_variant 'none' when no layout experiment is named. From
-- int_experiment__strategy_allocations.py (segrec.bandits).
with

allocations as (
    select * from {{ ref('int_experiment__strategy_allocations') }}
),

final as (
    select
        segment_name,
        layout_variant,
        strategy,
        reward,
        n_impressions,
        n_rewards,
        weighted_impressions,
        weighted_rewards,
        posterior_alpha,
        posterior_beta,
        posterior_mean,
        ci_low,
        ci_high,
        prob_best,
        traffic_share,
        as_of
    from allocations
)

select * from final
