{#- Distinct non-null values of `column` in `relation`, sorted; [] while parsing. -#}
{% macro column_values(relation, column) %}
    {#- nothing while parsing, nor before the relation is first built (dbt compile, sqlfluff) -#}
    {%- if not execute or adapter.get_relation(relation.database, relation.schema, relation.identifier) is none -%}
        {{ return([]) }}
    {%- endif -%}
    {%- set query -%}
        select distinct {{ column }} from {{ relation }} where {{ column }} is not null order by 1
    {%- endset -%}
    {{ return(run_query(query).columns[0].values() | list) }}
{% endmacro %}
