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

{#- `expression` with every match of `pattern` replaced by the text `replacement`. DuckDB needs
    the 'g' flag for all matches; Spark replaces all matches always (and its fourth argument is
    a position: 'g' gives null with ANSI off). -#}
{% macro regexp_replace_all(expression, pattern, replacement) -%}
    {{ return(adapter.dispatch('regexp_replace_all', 'segrec')(expression, pattern, replacement)) }}
{%- endmacro %}

{% macro default__regexp_replace_all(expression, pattern, replacement) -%}
    regexp_replace({{ expression }}, '{{ pattern }}', '{{ replacement }}', 'g')
{%- endmacro %}

{% macro spark__regexp_replace_all(expression, pattern, replacement) -%}
    regexp_replace({{ expression }}, r'{{ pattern }}', '{{ replacement }}')
{%- endmacro %}

{#- `expression` without leading and trailing `characters` (each character of the text). DuckDB
    takes trim(text, characters); Spark's two-argument trim reads them the other way round. -#}
{% macro trim_characters(expression, characters) -%}
    {{ return(adapter.dispatch('trim_characters', 'segrec')(expression, characters)) }}
{%- endmacro %}

{% macro default__trim_characters(expression, characters) -%}
    trim({{ expression }}, '{{ characters }}')
{%- endmacro %}

{% macro spark__trim_characters(expression, characters) -%}
    trim(both '{{ characters }}' from {{ expression }})
{%- endmacro %}
