{#- Text normalizations shared by staging models. -#}

{#- Blank or whitespace-only text is null. -#}
{% macro clean_text(column) -%}
    nullif(trim({{ column }}), '')
{%- endmacro %}

{#- The key an alias seed is matched on: lower case without spaces, '_' and '-'
    ('addToCart', 'add-to-cart' and ' ADD_TO_CART ' all become 'addtocart'). -#}
{% macro alias_key(column) -%}
    nullif({{ segrec.regexp_replace_all('lower(trim(' ~ column ~ '))', '[\s_\-]+', '') }}, '')
{%- endmacro %}

{#- ISO-8601 text to a UTC timestamp without time zone; naive text is UTC; unparseable is null. -#}
{% macro parse_utc_timestamp(column) -%}
    {{ return(adapter.dispatch('parse_utc_timestamp', 'segrec')(column)) }}
{%- endmacro %}

{% macro default__parse_utc_timestamp(column) -%}
    timezone('UTC', try_cast({{ segrec.clean_text(column) }} as timestamptz))
{%- endmacro %}

{#- Spark reads offsets in the text and naive text in the session time zone, which the spark and
    databricks targets set to UTC (spark.sql.session.timeZone). -#}
{% macro spark__parse_utc_timestamp(column) -%}
    try_cast({{ segrec.clean_text(column) }} as timestamp)
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

{#- Salted SHA-256 (lower-case hex) of a normalized e-mail address or identifier. The salt
    comes from SEGREC_HASH_SALT and never appears in compiled SQL (macro pii_salt). -#}
{% macro hash_pii(column) -%}
    {{ return(adapter.dispatch('hash_pii', 'segrec')(column)) }}
{%- endmacro %}

{% macro default__hash_pii(column) -%}
    sha256({{ segrec.pii_salt() }} || lower(trim({{ column }})))
{%- endmacro %}

{% macro spark__hash_pii(column) -%}
    sha2(concat({{ segrec.pii_salt() }}, lower(trim({{ column }}))), 256)
{%- endmacro %}

{#- The salt as SQL. DuckDB: a variable segrec.dbt_plugin sets on every connection. Local Spark:
    the session setting spark.segrec.pii_salt (profiles.yml), substituted by Spark's parser.
    Databricks: the secret pii_salt in the secret scope segrec. -#}
{% macro pii_salt() -%}
    {{ return(adapter.dispatch('pii_salt', 'segrec')()) }}
{%- endmacro %}

{% macro default__pii_salt() -%}
    getvariable('segrec_pii_salt')
{%- endmacro %}

{% macro spark__pii_salt() -%}
    '${spark.segrec.pii_salt}'
{%- endmacro %}

{#- True when the salt is the public demo salt (segrec.dbt_plugin.DEMO_SALT): the hashes are not
    private (marketing_audiences.hashed_with_demo_salt). DuckDB: a variable the plugin sets (unset
    counts as the demo salt); Spark and Databricks compare the salt itself. -#}
{% macro pii_salt_is_demo() -%}
    {{ return(adapter.dispatch('pii_salt_is_demo', 'segrec')()) }}
{%- endmacro %}

{% macro default__pii_salt_is_demo() -%}
    coalesce(getvariable('segrec_pii_salt_is_demo'), true)
{%- endmacro %}

{% macro spark__pii_salt_is_demo() -%}
    coalesce({{ segrec.pii_salt() }} = 'segrec-demo-salt', true)
{%- endmacro %}

{% macro databricks__pii_salt() -%}
    secret('segrec', 'pii_salt')
{%- endmacro %}
