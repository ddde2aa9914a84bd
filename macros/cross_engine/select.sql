{#- `*` without some columns: DuckDB `* exclude (...)`, Spark `* except (...)`. `relation`
    qualifies the star (e.g. 'checked' gives checked.* exclude (checked.a)). -#}
{% macro star_except(columns, relation=none) -%}
    {{ return(adapter.dispatch('star_except', 'segrec')(columns, relation)) }}
{%- endmacro %}

{% macro default__star_except(columns, relation) -%}
    {{ segrec.star_except_sql('exclude', columns, relation) }}
{%- endmacro %}

{% macro spark__star_except(columns, relation) -%}
    {{ segrec.star_except_sql('except', columns, relation) }}
{%- endmacro %}

{% macro star_except_sql(keyword, columns, relation) -%}
    {%- set prefix = relation ~ '.' if relation else '' -%}
    {{ prefix }}* {{ keyword }} ({{ prefix }}{{ columns | join(', ' ~ prefix) }})
{%- endmacro %}
