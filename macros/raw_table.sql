{#-
  raw_table(table_name): a relation over raw table `table_name` in var('raw_dir'), every
  contract column as text plus the lineage columns _source_file and _source_row.

  - Reads <raw_dir>/<table>.parquet and/or <raw_dir>/<table>/*.parquet (several loads).
  - Fails with one clear message when the table is required but absent, when a file is not
    Parquet, or when a required column (meta.required in _staging__sources.yml) is missing.
  - An absent optional table is an empty relation with the contract columns.
  - Optional columns missing from the files are null.
-#}
{% macro raw_table(table_name) %}
    {{ return(adapter.dispatch('raw_table', 'segrec')(table_name)) }}
{% endmacro %}

{% macro default__raw_table(table_name) %}
    {#- source() records the lineage; the read itself is built here -#}
    {%- set _lineage = source('raw', table_name) -%}
    {%- if not execute -%}
        {{ return('(select 1 as placeholder)') }}
    {%- endif -%}

    {%- set spec = graph.sources['source.segrec.raw.' ~ table_name] -%}
    {%- set columns = spec.columns.values() | list -%}
    {%- set raw_dir = var('raw_dir') | string -%}
    {%- set files = segrec.raw_table_files(raw_dir, table_name) -%}

    {%- if files | length == 0 -%}
        {%- if spec.meta.get('required_table') -%}
            {{ exceptions.raise_compiler_error(
                "raw table " ~ table_name ~ ": no data found in raw_dir '" ~ raw_dir ~ "' (expected "
                ~ raw_dir ~ "/" ~ table_name ~ ".parquet or " ~ raw_dir ~ "/" ~ table_name ~ "/*.parquet)") }}
        {%- endif -%}
        {%- set empty_columns = [] -%}
        {%- for column in columns -%}
            {%- do empty_columns.append('cast(null as varchar) as ' ~ column.name) -%}
        {%- endfor -%}
        {{ return('(select ' ~ empty_columns | join(', ')
            ~ ', cast(null as varchar) as _source_file, cast(null as bigint) as _source_row where false)') }}
    {%- endif -%}

    {%- set file_list = "['" ~ files | join("', '") ~ "']" -%}
    {%- set present = segrec.raw_table_columns(table_name, file_list) -%}
    {%- for column in columns -%}
        {%- if column.meta.get('required') and column.name not in present -%}
            {{ exceptions.raise_compiler_error(
                "raw table " ~ table_name ~ ": missing required column '" ~ column.name ~ "' in "
                ~ files | join(', ') ~ " (columns found: " ~ present | join(', ') ~ ")") }}
        {%- endif -%}
    {%- endfor -%}

    {%- set projections = [] -%}
    {%- for column in columns -%}
        {%- if column.name in present -%}
            {%- do projections.append('cast(' ~ adapter.quote(column.name) ~ ' as varchar) as ' ~ column.name) -%}
        {%- else -%}
            {%- do projections.append('cast(null as varchar) as ' ~ column.name) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- set relation -%}
        (
            select
                {{ projections | join(',\n                ') }},
                filename as _source_file,
                file_row_number as _source_row
            from read_parquet({{ file_list }}, union_by_name = true, filename = true, file_row_number = true)
        )
    {%- endset -%}
    {{ return(relation) }}
{% endmacro %}

{#- The Parquet files of a raw table, in a stable order; fails on a file that is not Parquet. -#}
{% macro raw_table_files(raw_dir, table_name) %}
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

{% macro raw_table_columns(table_name, file_list) %}
    {%- set described = run_query(
        "select column_name from (describe select * from read_parquet(" ~ file_list ~ ", union_by_name = true))"
    ) -%}
    {{ return(described.rows | map(attribute=0) | list) }}
{% endmacro %}
