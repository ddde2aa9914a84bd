{#- JSON text built in SQL (model_fits). DuckDB has a JSON type and functions; Spark builds the text
    with to_json. The texts are the same JSON values, not always the same characters: Spark writes
    doubles as Java does (1.0E-5 where DuckDB writes 1e-05) and json_merge keeps the left text as it
    is where DuckDB re-serializes it. -#}

{#- A JSON object of `pairs`, a list of [key, value] SQL expressions, keys in order; null values
    are kept as null. Spark: each pair is to_json(map(key, value)) (one value per map keeps its
    type, and a key may be any text expression), the fragments joined into one object. -#}
{% macro json_object(pairs) -%}
    {{ return(adapter.dispatch('json_object', 'segrec')(pairs)) }}
{%- endmacro %}

{% macro default__json_object(pairs) -%}
    json_object({% for pair in pairs %}{{ pair[0] }}, {{ pair[1] }}{{ ', ' if not loop.last }}{% endfor %})
{%- endmacro %}

{% macro spark__json_object(pairs) -%}
    {%- set members = [] -%}
    {%- for pair in pairs -%}
        {%- set fragment = 'to_json(map(' ~ pair[0] ~ ', ' ~ pair[1] ~ '))' -%}
        {%- do members.append('substr(' ~ fragment ~ ', 2, length(' ~ fragment ~ ') - 2)') -%}
    {%- endfor -%}
    {%- if members -%}
        concat('{', concat_ws(',', {{ members | join(', ') }}), '}')
    {%- else -%}
        '{}'
    {%- endif -%}
{%- endmacro %}

{#- An aggregate: the JSON object of the group's (key, value) pairs (keys must be distinct). -#}
{% macro json_group_object(key, value) -%}
    {{ return(adapter.dispatch('json_group_object', 'segrec')(key, value)) }}
{%- endmacro %}

{% macro default__json_group_object(key, value) -%}
    json_group_object({{ key }}, {{ value }})
{%- endmacro %}

{#- no rows: '{}' where DuckDB gives null (model_fits coalesces to an empty object on both) -#}
{% macro spark__json_group_object(key, value) -%}
    to_json(map_from_entries(collect_list(struct({{ key }}, {{ value }}))))
{%- endmacro %}

{#- The JSON object `left` with the members of the object `right` added. Spark joins the texts, so
    the keys of `right` must not be in `left` (json_merge_patch would replace them). -#}
{% macro json_merge(left, right) -%}
    {{ return(adapter.dispatch('json_merge', 'segrec')(left, right)) }}
{%- endmacro %}

{% macro default__json_merge(left, right) -%}
    json_merge_patch({{ left }}, {{ right }})
{%- endmacro %}

{% macro spark__json_merge(left, right) -%}
    case
        when trim({{ right }}) rlike r'^\{\s*\}$' then {{ left }}
        when trim({{ left }}) rlike r'^\{\s*\}$' then {{ right }}
        else concat(substr(trim({{ left }}), 1, length(trim({{ left }})) - 1), ',', substr(trim({{ right }}), 2))
    end
{%- endmacro %}

{#- The type of a JSON value: DuckDB's json, text on Spark. -#}
{% macro type_json() -%}
    {{ return(adapter.dispatch('type_json', 'segrec')()) }}
{%- endmacro %}

{% macro default__type_json() -%}
    json
{%- endmacro %}

{% macro spark__type_json() -%}
    {{ dbt.type_string() }}
{%- endmacro %}
