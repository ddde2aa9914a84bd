{#- Monitoring: fails (use severity warn) with one row per scope of `metric` in a build
    history (build_history: invocation_id, built_at, metric, scope, metric_value) whose value in the
    latest build got worse than in the build before it by more than both `max_relative_change`
    (a share of the previous value) and `min_absolute_change`. `worse` is 'higher' (a
    quarantine rate) or 'lower' (silhouette, NDCG). `metric` may be a LIKE pattern
    ('ndcg@%'). The first build, and a scope new in the latest build, pass. -#}
{% test no_regression_against_previous_build(
    model, metric, worse, max_relative_change=0, min_absolute_change=0
) %}

{%- if worse not in ('higher', 'lower') -%}
    {{ exceptions.raise_compiler_error(
        "no_regression_against_previous_build: worse must be 'higher' or 'lower', got '" ~ worse ~ "'") }}
{%- endif %}
{%- set sign = 1 if worse == 'higher' else -1 %}

with

history as (
    select * from {{ model }}
    where metric like '{{ metric }}'
),

builds as (
    select
        invocation_id,
        dense_rank() over (order by built_at desc, invocation_id desc) as builds_ago
    from (select distinct invocation_id, built_at from history) as distinct_builds
),

latest as (
    select history.*
    from history
    inner join builds
        on history.invocation_id = builds.invocation_id
    where builds.builds_ago = 1
),

previous as (
    select history.*
    from history
    inner join builds
        on history.invocation_id = builds.invocation_id
    where builds.builds_ago = 2
),

compared as (
    select
        latest.metric,
        latest.scope,
        previous.metric_value as previous_value,
        latest.metric_value,
        {{ sign }} * (latest.metric_value - previous.metric_value) as worsening,
        previous.invocation_id as previous_invocation_id,
        latest.invocation_id
    from latest
    inner join previous
        on latest.metric = previous.metric
            and latest.scope = previous.scope
)

select * from compared
where worsening > {{ min_absolute_change }}
    and worsening > {{ max_relative_change }} * abs(previous_value)

{% endtest %}
