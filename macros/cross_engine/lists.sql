{#- Lists (DuckDB) and arrays (Spark). -#}

{#- Parallel lists as rows, in a select list: one row per position, the lists' elements side by
    side (`columns`: {output name: list expression}, in order), plus the 1-based position when
    `position` names it. A shorter list gives nulls; a null or empty list, no row. DuckDB zips
    several unnest() of one select; Spark has one generator per select: inline(arrays_zip(...)). -#}
{% macro unnest_lists(columns, position=none) -%}
    {{ return(adapter.dispatch('unnest_lists', 'segrec')(columns, position)) }}
{%- endmacro %}

{% macro default__unnest_lists(columns, position) -%}
    {%- set items = [] -%}
    {%- if position -%}
        {%- do items.append('generate_subscripts(' ~ (columns.values() | first) ~ ', 1) as ' ~ position) -%}
    {%- endif -%}
    {%- for name, expression in columns.items() -%}
        {%- do items.append('unnest(' ~ expression ~ ') as ' ~ name) -%}
    {%- endfor -%}
    {{ items | join(',\n        ') }}
{%- endmacro %}

{% macro spark__unnest_lists(columns, position) -%}
    {%- set arrays = columns.values() | list -%}
    {%- set names = columns.keys() | list -%}
    {%- if position -%}
        {#- transform's index, not sequence(1, size): sequence(1, 0) is [1, 0], not empty -#}
        {%- set arrays = ['transform(' ~ arrays[0] ~ ', (element, i) -> cast(i + 1 as bigint))'] + arrays -%}
        {%- set names = [position] + names -%}
    {%- endif -%}
    inline(arrays_zip({{ arrays | join(', ') }})) as ({{ names | join(', ') }})
{%- endmacro %}

{#- The number of elements of a list (null for a null list; Spark's size() gives -1). -#}
{% macro list_length(expression) -%}
    {{ return(adapter.dispatch('list_length', 'segrec')(expression)) }}
{%- endmacro %}

{% macro default__list_length(expression) -%}
    len({{ expression }})
{%- endmacro %}

{% macro spark__list_length(expression) -%}
    array_size({{ expression }})
{%- endmacro %}

{#- True when the list contains the value. -#}
{% macro list_contains(list_expression, value) -%}
    {{ return(adapter.dispatch('list_contains', 'segrec')(list_expression, value)) }}
{%- endmacro %}

{% macro default__list_contains(list_expression, value) -%}
    list_contains({{ list_expression }}, {{ value }})
{%- endmacro %}

{% macro spark__list_contains(list_expression, value) -%}
    array_contains({{ list_expression }}, {{ value }})
{%- endmacro %}

{#- The elements of a list of text joined by `separator` (nulls left out). -#}
{% macro list_join(list_expression, separator) -%}
    {{ return(adapter.dispatch('list_join', 'segrec')(list_expression, separator)) }}
{%- endmacro %}

{% macro default__list_join(list_expression, separator) -%}
    array_to_string({{ list_expression }}, '{{ separator }}')
{%- endmacro %}

{% macro spark__list_join(list_expression, separator) -%}
    array_join({{ list_expression }}, '{{ separator }}')
{%- endmacro %}
