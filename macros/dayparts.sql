{#- Daypart of a local hour: morning 6-12, afternoon 12-18, evening 18-24, night 0-6. -#}
{% macro daypart(hour_expression) -%}
    case
        when {{ hour_expression }} < 6 then 'night'
        when {{ hour_expression }} < 12 then 'morning'
        when {{ hour_expression }} < 18 then 'afternoon'
        else 'evening'
    end
{%- endmacro %}
