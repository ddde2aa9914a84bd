{#- The continuous (interpolated) quantile `fraction` of `expression`, an aggregate; a FILTER
    clause may follow. DuckDB quantile_cont; Spark percentile (exact, linear interpolation: the
    same values). -#}
{% macro percentile_cont(expression, fraction) -%}
    {{ return(adapter.dispatch('percentile_cont', 'segrec')(expression, fraction)) }}
{%- endmacro %}

{% macro default__percentile_cont(expression, fraction) -%}
    quantile_cont({{ expression }}, {{ fraction }})
{%- endmacro %}

{% macro spark__percentile_cont(expression, fraction) -%}
    percentile({{ expression }}, {{ fraction }})
{%- endmacro %}

{#- A list of the non-null values of `expressions` (SQL texts), in their order. -#}
{% macro array_without_nulls(expressions) -%}
    {{ return(adapter.dispatch('array_without_nulls', 'segrec')(expressions)) }}
{%- endmacro %}

{% macro default__array_without_nulls(expressions) -%}
    list_filter([{{ expressions | join(', ') }}], lambda element: element is not null)
{%- endmacro %}

{% macro spark__array_without_nulls(expressions) -%}
    filter(array({{ expressions | join(', ') }}), element -> element is not null)
{%- endmacro %}
