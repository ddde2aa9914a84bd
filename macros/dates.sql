{#- The reference moment for recency, tenure and age: var as_of_date, else the latest clean event. -#}
{% macro as_of_time(events_relation) -%}
    {%- if var('as_of_date') -%}
        cast('{{ var("as_of_date") }}' as timestamp)
    {%- else -%}
        (select max(event_time) from {{ events_relation }})
    {%- endif -%}
{%- endmacro %}

{#- The rows of `relation` whose `time_column` is at or before the as-of moment
    (int_events__as_of): what a customer had done by then. -#}
{% macro rows_up_to_as_of(relation, time_column) -%}
    select rows_up_to.*
    from {{ relation }} as rows_up_to
    cross join {{ ref('int_events__as_of') }} as as_of
    where rows_up_to.{{ time_column }} <= as_of.as_of_time
{%- endmacro %}

{#- Age band of an age in years. -#}
{% macro age_band(age) -%}
    case
        when {{ age }} is null then null
        when {{ age }} < 25 then '18-24'
        when {{ age }} < 35 then '25-34'
        when {{ age }} < 45 then '35-44'
        when {{ age }} < 55 then '45-54'
        when {{ age }} < 65 then '55-64'
        else '65+'
    end
{%- endmacro %}

{#- A customer's age in years at a moment when it is plausible (13 to 110): the stated age, else
    the age from the birth date; null otherwise (dim_customers imputes it, fairness reports it as unknown). -#}
{% macro known_age(stated_age, birth_date, moment) -%}
    case
        when {{ stated_age }} between 13 and 110 then {{ stated_age }}
        when {{ segrec.age_in_years(birth_date, moment) }} between 13 and 110
            then {{ segrec.age_in_years(birth_date, moment) }}
    end
{%- endmacro %}

{#- Whole years between a birth date and a moment. -#}
{% macro age_in_years(birth_date, moment) -%}
    {{ return(adapter.dispatch('age_in_years', 'segrec')(birth_date, moment)) }}
{%- endmacro %}

{% macro default__age_in_years(birth_date, moment) -%}
    floor({{ segrec.days_between(birth_date, 'cast(' ~ moment ~ ' as date)') }} / 365.25)
{%- endmacro %}

{#- Whole seconds from `start` to `end`. -#}
{% macro seconds_between(start, end) -%}
    {{ return(adapter.dispatch('seconds_between', 'segrec')(start, end)) }}
{%- endmacro %}

{% macro default__seconds_between(start, end) -%}
    date_diff('second', {{ start }}, {{ end }})
{%- endmacro %}

{#- Spark: the difference of whole epoch seconds (DuckDB's second boundaries crossed). -#}
{% macro spark__seconds_between(start, end) -%}
    (unix_seconds({{ end }}) - unix_seconds({{ start }}))
{%- endmacro %}

{#- Whole days (date boundaries crossed) from `start` to `end`. -#}
{% macro days_between(start, end) -%}
    {{ return(adapter.dispatch('days_between', 'segrec')(start, end)) }}
{%- endmacro %}

{% macro default__days_between(start, end) -%}
    date_diff('day', {{ start }}, {{ end }})
{%- endmacro %}

{#- Spark: datediff of the (UTC) dates, which is what DuckDB's day boundaries count; a bigint,
    as DuckDB's. -#}
{% macro spark__days_between(start, end) -%}
    cast(datediff({{ end }}, {{ start }}) as bigint)
{%- endmacro %}
