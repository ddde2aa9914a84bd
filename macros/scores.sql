{#- Quintile score 1-5 from a percentile in [0, 1]; ties share a score (unlike ntile). -#}
{% macro quintile_score(percentile) -%}
    least(cast(floor({{ percentile }} * 5) as integer) + 1, 5)
{%- endmacro %}
