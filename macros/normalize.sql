{#- Text normalizations shared by staging models. -#}

{#- Blank or whitespace-only text is null. -#}
{% macro clean_text(column) -%}
    nullif(trim({{ column }}), '')
{%- endmacro %}

{#- The key an alias seed is matched on: lower case without spaces, '_' and '-'
    ('addToCart', 'add-to-cart' and ' ADD_TO_CART ' all become 'addtocart'). -#}
{% macro alias_key(column) -%}
    nullif(regexp_replace(lower(trim({{ column }})), '[\s_\-]+', '', 'g'), '')
{%- endmacro %}

{#- ISO-8601 text to a UTC timestamp without time zone; naive text is UTC; unparseable is null. -#}
{% macro parse_utc_timestamp(column) -%}
    {{ return(adapter.dispatch('parse_utc_timestamp', 'segrec')(column)) }}
{%- endmacro %}

{% macro default__parse_utc_timestamp(column) -%}
    timezone('UTC', try_cast({{ segrec.clean_text(column) }} as timestamptz))
{%- endmacro %}

{#- Yes/no text in the spellings sources use; anything else is null. -#}
{% macro parse_boolean(column) -%}
    case
        when lower(trim({{ column }})) in ('true', 't', 'yes', 'y', '1') then true
        when lower(trim({{ column }})) in ('false', 'f', 'no', 'n', '0') then false
    end
{%- endmacro %}

{#- The key of a unified customer: a known customer_id, else the device's anonymous_id. -#}
{% macro customer_key(customer_id, anonymous_id) -%}
    case
        when {{ customer_id }} is not null then {{ dbt.hash("'customer:' || " ~ customer_id) }}
        else {{ dbt.hash("'anonymous:' || " ~ anonymous_id) }}
    end
{%- endmacro %}

{#- Salted SHA-256 of a normalized e-mail address or identifier. The salt is set on every
    connection by segrec.dbt_plugin from SEGREC_HASH_SALT and never appears in SQL. -#}
{% macro hash_pii(column) -%}
    sha256(getvariable('segrec_pii_salt') || lower(trim({{ column }})))
{%- endmacro %}
