{#- ISO day of week of a date or timestamp: Monday 1 ... Sunday 7. Spark's dayofweek starts on
    Sunday, its weekday is 0-based from Monday. -#}
{% macro iso_day_of_week(expression) -%}
    {{ return(adapter.dispatch('iso_day_of_week', 'segrec')(expression)) }}
{%- endmacro %}

{% macro default__iso_day_of_week(expression) -%}
    extract(isodow from {{ expression }})
{%- endmacro %}

{% macro spark__iso_day_of_week(expression) -%}
    (weekday({{ expression }}) + 1)
{%- endmacro %}
