{#- Text matching with one meaning on every engine. DuckDB's regular expressions are RE2; Spark's
    are Java's, and its string literals treat backslashes as escapes, so Spark gets raw literals
    (r'...'). Patterns here stick to the syntax both read alike. -#}

{#- True when the whole of `expression` matches `pattern` (SQL's SIMILAR TO: `.` does not match
    a newline). -#}
{% macro regexp_full_match(expression, pattern) -%}
    {{ return(adapter.dispatch('regexp_full_match', 'segrec')(expression, pattern)) }}
{%- endmacro %}

{% macro default__regexp_full_match(expression, pattern) -%}
    {{ expression }} similar to '{{ pattern }}'
{%- endmacro %}

{#- Java: (?d) makes only \n a line terminator (RE2's `.`), \z anchors at the very end. -#}
{% macro spark__regexp_full_match(expression, pattern) -%}
    {{ expression }} rlike r'(?d)^(?:{{ pattern }})\z'
{%- endmacro %}

{#- `expression` with every match of `pattern` removed. DuckDB needs the 'g' flag for all
    matches; Spark replaces all matches always (and its 'g' argument would be a position). -#}
{% macro regexp_remove_all(expression, pattern) -%}
    {{ return(adapter.dispatch('regexp_remove_all', 'segrec')(expression, pattern)) }}
{%- endmacro %}

{% macro default__regexp_remove_all(expression, pattern) -%}
    regexp_replace({{ expression }}, '{{ pattern }}', '', 'g')
{%- endmacro %}

{% macro spark__regexp_remove_all(expression, pattern) -%}
    regexp_replace({{ expression }}, r'{{ pattern }}', '')
{%- endmacro %}
