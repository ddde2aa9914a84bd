{#- An order-independent checksum of a set of text values (xor of their 64-bit hashes):
    equal sets give equal checksums, so incremental models can find what changed. -#}
{% macro checksum_agg(expression) %}
    {{ return(adapter.dispatch('checksum_agg', 'segrec')(expression)) }}
{% endmacro %}

{% macro default__checksum_agg(expression) -%}
    bit_xor(hash({{ expression }}))
{%- endmacro %}

{#- Spark's hash() is 32-bit: xxhash64 keeps 64 bits. The checksums differ from DuckDB's, which
    is harmless: they are only compared with checksums of the same engine. -#}
{% macro spark__checksum_agg(expression) -%}
    bit_xor(xxhash64({{ expression }}))
{%- endmacro %}
