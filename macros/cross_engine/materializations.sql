{#- The materialization of the models that are incremental by whole customers
    (int_events__sessionized, int_sessions__aggregated): DuckDB swaps changed customers with
    delete+insert. dbt-spark has no delete+insert, and its merge needs Delta, Iceberg or Hudi
    (a merge on customer_key cannot replace a customer's many rows either), so on Spark and
    Databricks these models are rebuilt in full, which gives the same rows. -#}
{% macro by_customer_materialization() -%}
    {{ return(adapter.dispatch('by_customer_materialization', 'segrec')()) }}
{%- endmacro %}

{% macro default__by_customer_materialization() -%}
    {{ return('incremental') }}
{%- endmacro %}

{% macro spark__by_customer_materialization() -%}
    {{ return('table') }}
{%- endmacro %}
