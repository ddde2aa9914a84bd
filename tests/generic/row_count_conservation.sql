{#- Rows are neither lost nor invented: the row count of `model` equals the sum of the row
    counts of `parts` (e.g. raw events = clean events + quarantined events). Fails with one
    row showing both counts when they differ. -#}
{% test row_count_conservation(model, parts) %}

with

model_rows as (
    select count(*) as n_rows from {{ model }}
),

part_rows as (
    {%- for part in parts %}
    select count(*) as n_rows from {{ part }}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
),

compared as (
    select
        model_rows.n_rows as model_rows,
        (select sum(n_rows) from part_rows) as part_rows
    from model_rows
)

select * from compared
where model_rows != part_rows

{% endtest %}
