{#-
  The engine-specific parts of raw_table() (macros/raw_table.sql):
  - raw_table_files(raw_dir, table_name): the Parquet files of a raw table, as paths under
    raw_dir (<raw_dir>/<table>.parquet, <raw_dir>/<table>/*.parquet), in a stable order.
  - raw_table_columns(table_name, files): the column names found in any of the files.
  - raw_table_read(files, column_names, present): the relation over the files (union by name),
    contract columns as text plus _source_file (the path as listed) and _source_row (0-based row
    number in its file).
-#}

{% macro raw_table_files(raw_dir, table_name) %}
    {{ return(adapter.dispatch('raw_table_files', 'segrec')(raw_dir, table_name)) }}
{% endmacro %}

{#- DuckDB: read_blob lists both patterns; fails on a file that is not Parquet (magic bytes). -#}
{% macro default__raw_table_files(raw_dir, table_name) %}
    {%- set listing -%}
        select
            filename,
            size >= 12 and content[1:4] = 'PAR1'::blob and content[-4:] = 'PAR1'::blob as is_parquet
        from read_blob([
            '{{ raw_dir }}/{{ table_name }}.parquet',
            '{{ raw_dir }}/{{ table_name }}/*.parquet'
        ])
        order by filename
    {%- endset -%}
    {%- set rows = run_query(listing).rows -%}
    {%- for row in rows if not row[1] -%}
        {{ exceptions.raise_compiler_error(
            "raw table " ~ table_name ~ ": file '" ~ row[0] ~ "' is not a readable Parquet file") }}
    {%- endfor -%}
    {{ return(rows | map(attribute=0) | list) }}
{% endmacro %}

{#- Spark: a binaryFile listing of raw_dir (recursive; Spark skips names starting with _ or .,
    like _truth/), without reading the contents, kept to the two patterns DuckDB reads. A file
    that is not Parquet fails later, at the read, with Spark's own message. -#}
{% macro spark__raw_table_files(raw_dir, table_name) %}
    {%- set root = raw_dir.rstrip('/') -%}
    {%- set listing -%}
        select path
        from binaryfile.`{{ root }}`
        where path like '%.parquet'
    {%- endset -%}
    {%- set root_name = root.split('/')[-1] -%}
    {%- set pattern = '/' ~ modules.re.escape(root_name) ~ '/(' ~ modules.re.escape(table_name)
        ~ '[.]parquet|' ~ modules.re.escape(table_name) ~ '/[^/]+[.]parquet)$' -%}
    {%- set files = [] -%}
    {%- for path in run_query(listing).columns[0].values() | sort -%}
        {%- set match = modules.re.search(pattern, path) -%}
        {%- if match -%}
            {%- do files.append(root ~ '/' ~ match.group(1)) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(files | sort) }}
{% endmacro %}

{% macro raw_table_columns(table_name, files) %}
    {{ return(adapter.dispatch('raw_table_columns', 'segrec')(table_name, files)) }}
{% endmacro %}

{% macro default__raw_table_columns(table_name, files) %}
    {%- set described = run_query(
        "select column_name from (describe select * from read_parquet(" ~ segrec.duckdb_file_list(files)
        ~ ", union_by_name = true))"
    ) -%}
    {{ return(described.rows | map(attribute=0) | list) }}
{% endmacro %}

{% macro spark__raw_table_columns(table_name, files) %}
    {%- set present = [] -%}
    {%- for file in files -%}
        {%- for name in segrec.spark_parquet_columns(file) if name not in present -%}
            {%- do present.append(name) -%}
        {%- endfor -%}
    {%- endfor -%}
    {{ return(present) }}
{% endmacro %}

{#- The column names of one Parquet file on Spark. -#}
{% macro spark_parquet_columns(file) %}
    {{ return(run_query('describe select * from parquet.`' ~ file ~ '`').columns[0].values() | list) }}
{% endmacro %}

{% macro raw_table_read(files, column_names, present) %}
    {{ return(adapter.dispatch('raw_table_read', 'segrec')(files, column_names, present)) }}
{% endmacro %}

{% macro default__raw_table_read(files, column_names, present) %}
    {%- set relation -%}
        (
            select
                {{ segrec.raw_table_projections(column_names, present) | join(',\n                ') }},
                filename as _source_file,
                file_row_number as _source_row
            from read_parquet({{ segrec.duckdb_file_list(files) }}, union_by_name = true, filename = true, file_row_number = true)
        )
    {%- endset -%}
    {{ return(relation) }}
{% endmacro %}

{#- Spark: one select per file (each with the columns that file has), unioned; the file's path
    as listed (the same text DuckDB's filename gives) and Parquet's row index. -#}
{% macro spark__raw_table_read(files, column_names, present) %}
    {%- set selects = [] -%}
    {%- for file in files -%}
        {%- set file_columns = segrec.spark_parquet_columns(file) if files | length > 1 else present -%}
        {%- set select -%}
            select
                {{ segrec.raw_table_projections(column_names, file_columns) | join(',\n                ') }},
                '{{ file }}' as _source_file,
                _metadata.row_index as _source_row
            from parquet.`{{ file }}`
        {%- endset -%}
        {%- do selects.append(select) -%}
    {%- endfor -%}
    {{ return('(\n' ~ selects | join('\n            union all\n') ~ '\n        )') }}
{% endmacro %}

{#- A DuckDB list literal of file paths. -#}
{% macro duckdb_file_list(files) -%}
    {{ return("['" ~ files | join("', '") ~ "']") }}
{%- endmacro %}
