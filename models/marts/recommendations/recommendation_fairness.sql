-- Offline quality of the recommendations per customer group (segment, new or returning, age
-- band, gender, region, country) at k = var recommendation_fairness.k, for the model version
-- being served: NDCG, hit rate and catalog coverage beside the best group of the same dimension
-- and strategy, and how far each group's exposure (the category mix of its lists) is from
-- everybody's compared with how far its own history is. Groups smaller than min_group_customers
-- are shown but not judged. The flags feed warn-severity tests (_recommendations__models.yml).
{%- set settings = var('recommendation_fairness') %}
{%- if settings.k not in [5, 10, 20] %}
    {{ exceptions.raise_compiler_error(
        "var recommendation_fairness.k must be one of the evaluated list lengths 5, 10, 20, got " ~ settings.k) }}
{%- endif %}
{%- if settings.min_ratio is not number or settings.min_ratio <= 0 or settings.min_ratio > 1 %}
    {{ exceptions.raise_compiler_error(
        "var recommendation_fairness.min_ratio must be a number in (0, 1], got " ~ settings.min_ratio) }}
{%- endif %}
with

metrics as (
    select * from {{ ref('int_recommendation__holdout_metrics') }}
    where group_dimension != 'all'
        and k = {{ settings.k }}
),

serving as (
    select distinct model_version from {{ ref('int_recommendation__als_factors') }}
),

groups as (
    select
        strategy,
        group_dimension,
        group_name,
        k,
        max(case when metric = 'ndcg' then n_users end) as n_users,
        max(case when metric = 'ndcg' then value end) as ndcg,
        max(case when metric = 'hit_rate' then value end) as hit_rate,
        max(case when metric = 'coverage' then value end) as coverage,
        max(case when metric = 'exposure_divergence' then value end) as exposure_divergence,
        max(case when metric = 'history_divergence' then value end) as history_divergence
    from metrics
    group by strategy, group_dimension, group_name, k
),

judged as (
    select
        *,
        n_users >= {{ settings.min_group_customers }} as is_judged,
        group_dimension in ({{ "'" ~ settings.protected_attributes | join("', '") ~ "'" }}) as is_protected_attribute,
        strategy in ({{ "'" ~ settings.judged_strategies | join("', '") ~ "'" }}) as is_judged_strategy
    from groups
),

best as (
    select
        *,
        max(case when is_judged then ndcg end) over dimension as best_ndcg,
        max(case when is_judged then hit_rate end) over dimension as best_hit_rate,
        max(case when is_judged then coverage end) over dimension as best_coverage,
        min(case when is_judged then ndcg end) over dimension as worst_ndcg,
        min(case when is_judged then hit_rate end) over dimension as worst_hit_rate
    from judged
    window dimension as (partition by strategy, group_dimension)
),

final as (
    select
        serving.model_version,
        best.strategy,
        best.group_dimension,
        best.group_name,
        cast(best.k as integer) as k,
        best.n_users,
        best.ndcg,
        best.hit_rate,
        best.coverage,
        best.ndcg / nullif(best.best_ndcg, 0) as ndcg_ratio_to_best,
        best.hit_rate / nullif(best.best_hit_rate, 0) as hit_rate_ratio_to_best,
        best.coverage / nullif(best.best_coverage, 0) as coverage_ratio_to_best,
        best.worst_ndcg / nullif(best.best_ndcg, 0) as ndcg_worst_to_best,
        best.worst_hit_rate / nullif(best.best_hit_rate, 0) as hit_rate_worst_to_best,
        best.exposure_divergence,
        best.history_divergence,
        best.exposure_divergence - best.history_divergence as divergence_gap,
        best.is_judged,
        best.is_protected_attribute,
        coalesce(
            best.is_judged
            and best.is_judged_strategy
            and (
                best.ndcg < {{ settings.min_ratio }} * best.best_ndcg
                or best.hit_rate < {{ settings.min_ratio }} * best.best_hit_rate
            ),
            false
        ) as is_below_quality_ratio,
        coalesce(
            best.is_judged
            and best.is_judged_strategy
            and best.is_protected_attribute
            and best.exposure_divergence - best.history_divergence > {{ settings.max_divergence_gap }},
            false
        ) as is_exposure_divergent
    from best
    cross join serving
)

select * from final
