{#-
  raw_table(table_name): a relation over raw table `table_name` in var('raw_dir'), every
  contract column as text plus the lineage columns _source_file and _source_row.

  - Reads <raw_dir>/<table>.parquet and/or <raw_dir>/<table>/*.parquet (several loads).
  - Fails with one clear message when the table is required but absent, when a file is not
    Parquet, or when a required column (meta.required in _staging__sources.yml) is missing.
  - An absent optional table is an empty relation with the contract columns.
  - Optional columns missing from the files are null.
  The engine-specific parts (listing the files, reading their columns, the read itself) are
  dispatched: DuckDB reads them with read_blob/read_parquet, Spark with its file sources
  (macros/cross_engine/raw_files.sql).
-#}
{% macro raw_table(table_name) %}
    {#- source() records the lineage; the read itself is built here -#}
    {%- set _lineage = source('raw', table_name) -%}
    {%- if not execute -%}
        {{ return('(select 1 as placeholder)') }}
    {%- endif -%}

    {%- set spec = graph.sources['source.segrec.raw.' ~ table_name] -%}
    {%- set columns = spec.columns.values() | list -%}
    {%- set raw_dir = var('raw_dir') | string -%}
    {%- set files = segrec.raw_table_files(raw_dir, table_name) -%}
    {%- set text_type = dbt.type_string() -%}

    {%- if files | length == 0 -%}
        {%- if spec.meta.get('required_table') -%}
            {{ exceptions.raise_compiler_error(
                "raw table " ~ table_name ~ ": no data found in raw_dir '" ~ raw_dir ~ "' (expected "
                ~ raw_dir ~ "/" ~ table_name ~ ".parquet or " ~ raw_dir ~ "/" ~ table_name ~ "/*.parquet)") }}
        {%- endif -%}
        {%- set empty_columns = [] -%}
        {%- for column in columns -%}
            {%- do empty_columns.append('cast(null as ' ~ text_type ~ ') as ' ~ column.name) -%}
        {%- endfor -%}
        {{ return('(select ' ~ empty_columns | join(', ')
            ~ ', cast(null as ' ~ text_type ~ ') as _source_file, cast(null as bigint) as _source_row where false)') }}
    {%- endif -%}

    {%- set present = segrec.raw_table_columns(table_name, files) -%}
    {%- for column in columns -%}
        {%- if column.meta.get('required') and column.name not in present -%}
            {{ exceptions.raise_compiler_error(
                "raw table " ~ table_name ~ ": missing required column '" ~ column.name ~ "' in "
                ~ files | join(', ') ~ " (columns found: " ~ present | join(', ') ~ ")") }}
        {%- endif -%}
    {%- endfor -%}

    {{ return(segrec.raw_table_read(files, columns | map(attribute='name') | list, present)) }}
{% endmacro %}

{#- `cast(<column> as text) as <column>` for each contract column in `present`, else a typed null. -#}
{% macro raw_table_projections(column_names, present) %}
    {%- set projections = [] -%}
    {%- for name in column_names -%}
        {%- if name in present -%}
            {%- do projections.append('cast(' ~ adapter.quote(name) ~ ' as ' ~ dbt.type_string() ~ ') as ' ~ name) -%}
        {%- else -%}
            {%- do projections.append('cast(null as ' ~ dbt.type_string() ~ ') as ' ~ name) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(projections) }}
{% endmacro %}
