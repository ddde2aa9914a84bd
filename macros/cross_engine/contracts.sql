{#- Model contracts on Spark. The yml files give DuckDB's type names (the default engine); dbt
    checks a contract by casting nulls to those types, and Spark has no bare `varchar`,
    `integer[]` or unsigned types, so on Spark (and Databricks, which falls back to spark__)
    each declared type is read as its Spark equivalent (spark_data_type) first. -#}
{% macro spark__get_empty_schema_sql(columns) %}
    {%- set translated = {} -%}
    {%- for name in columns -%}
        {%- set column = columns[name] -%}
        {%- set copy = column.copy() if column is mapping else column -%}
        {%- if column.get('data_type') is not none -%}
            {%- do copy.update({'data_type': segrec.spark_data_type(column['data_type'])}) -%}
        {%- endif -%}
        {%- do translated.update({name: copy}) -%}
    {%- endfor -%}
    {{ return(dbt.default__get_empty_schema_sql(translated)) }}
{% endmacro %}

{#- A DuckDB type name as Spark's: varchar/text -> string, integer -> int, ubigint -> bigint
    (segrec's only unsigned column is a checksum, signed 64-bit on Spark: checksum_agg),
    <type>[] -> array<type>; others (double, bigint, boolean, date, timestamp) are the same. -#}
{% macro spark_data_type(data_type) %}
    {%- set type = data_type | trim | lower -%}
    {%- if type.endswith('[]') -%}
        {{ return('array<' ~ segrec.spark_data_type(type[:-2]) ~ '>') }}
    {%- endif -%}
    {%- set names = {'varchar': 'string', 'text': 'string', 'integer': 'int', 'ubigint': 'bigint',
                     'timestamptz': 'timestamp', 'timestamp with time zone': 'timestamp'} -%}
    {{ return(names.get(type, type)) }}
{% endmacro %}
