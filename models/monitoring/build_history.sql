{#-
  One row per (build, metric, scope), appended by every build that runs this model and kept
  across builds, so the warn-severity monitoring tests (tests/generic/no_regression_against_previous_build.sql)
  compare a build with the one before. Aggregates only, no customer data.
    quarantine_rate   share of raw event rows quarantined; scope 'all' and each reason_code
                      (0 when a reason is absent, so a new reason shows up as a spike)
    silhouette        of the latest segmentation run; scope the algorithm
    <metric>@<k>      recommendation_metrics over all customers (segment 'all'), scope the
                      strategy; only with var monitoring.recommendation_metrics = true
  A full refresh starts the history again. Appended (a build's rows carry its own invocation_id,
  so there is nothing to replace; the unique_combination_of_columns test checks it): dbt-spark
  has no delete+insert, and append is the same on both engines.
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='append_new_columns'
) }}

with

validated as (
    select reason_code from {{ ref('int_events__validated') }}
),

reasons as (
    select reason_code from {{ ref('quarantine_reasons') }}
),

raw_rows as (
    select count(*) as n_raw from validated
),

quarantine_by_reason as (
    select
        reasons.reason_code as scope,
        count(validated.reason_code) as n_quarantined
    from reasons
    left join validated
        on reasons.reason_code = validated.reason_code
    group by reasons.reason_code
),

quarantine as (
    select
        'quarantine_rate' as metric,
        'all' as scope,
        coalesce(sum(quarantine_by_reason.n_quarantined) / nullif(raw_rows.n_raw, 0), 0) as metric_value,
        raw_rows.n_raw as n
    from quarantine_by_reason
    cross join raw_rows
    group by raw_rows.n_raw
    union all
    select
        'quarantine_rate' as metric,
        quarantine_by_reason.scope,
        coalesce(quarantine_by_reason.n_quarantined / nullif(raw_rows.n_raw, 0), 0) as metric_value,
        raw_rows.n_raw as n
    from quarantine_by_reason
    cross join raw_rows
),

silhouette as (
    select
        'silhouette' as metric,
        algorithm as scope,
        silhouette as metric_value,
        n_customers as n
    from {{ ref('segmentation_runs') }}
    where is_latest and silhouette is not null
),

{% if var('monitoring')['recommendation_metrics'] %}
recommendations as (
    select
        lower(metric) || '@' || cast(k as {{ dbt.type_string() }}) as metric,
        strategy as scope,
        value as metric_value,  -- noqa: RF04
        n_users as n
    from {{ ref('recommendation_metrics') }}
    where segment_name = 'all' and value is not null  -- noqa: RF04
),
{% else %}
recommendations as (
    select
        cast(null as {{ dbt.type_string() }}) as metric,
        cast(null as {{ dbt.type_string() }}) as scope,
        cast(null as double) as metric_value,
        cast(null as bigint) as n
    where false
),
{% endif %}

measured as (
    select * from quarantine
    union all
    select * from silhouette
    union all
    select * from recommendations
),

final as (
    select
        '{{ invocation_id }}' as invocation_id,
        cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S.%f") }}' as timestamp) as built_at,
        metric,
        scope,
        cast(metric_value as double) as metric_value,
        cast(n as bigint) as n
    from measured
)

select * from final
