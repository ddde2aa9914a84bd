{#- An order-independent checksum of a set of text values (xor of their 64-bit hashes):
    equal sets give equal checksums, so incremental models can find what changed. -#}
{% macro checksum_agg(expression) %}
    {{ return(adapter.dispatch('checksum_agg', 'segrec')(expression)) }}
{% endmacro %}

{% macro default__checksum_agg(expression) -%}
    bit_xor(hash({{ expression }}))
{%- endmacro %}
