{#- The order an event belongs to: its order_id, or the event itself for a purchase logged
    without one (each such purchase is then an order of its own). `relation` qualifies the
    columns (e.g. 'purchases'). -#}
{% macro order_key(relation=none) -%}
    {%- set prefix = relation ~ '.' if relation else '' -%}
    coalesce({{ prefix }}order_id, {{ prefix }}event_id)
{%- endmacro %}
