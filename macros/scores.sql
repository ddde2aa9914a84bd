{#- Quintile score 1-5 from a percentile in [0, 1]; ties share a score (unlike ntile). -#}
{% macro quintile_score(percentile) -%}
    least(cast(floor({{ percentile }} * 5) as integer) + 1, 5)
{%- endmacro %}

{#- The classic RFM segment names on the recency x frequency grid of 1-5 scores. -#}
{% macro rfm_segment_name(r_score, f_score) -%}
    case
        when {{ r_score }} >= 4 and {{ f_score }} >= 4 then 'Champions'
        when {{ r_score }} >= 3 and {{ f_score }} >= 3 then 'Loyal'
        when {{ r_score }} >= 4 and {{ f_score }} >= 2 then 'Potential Loyalists'
        when {{ r_score }} = 5 then 'New Customers'
        when {{ r_score }} = 4 then 'Promising'
        when {{ r_score }} = 3 then 'Need Attention'
        when {{ f_score }} = 5 then 'Cannot Lose Them'
        when {{ f_score }} >= 3 then 'At Risk'
        when {{ r_score }} = 2 then 'Hibernating'
        else 'Lost'
    end
{%- endmacro %}

{#- Sum of money amounts, exact: DuckDB sums doubles in parallel in no fixed order, so the last
    bits of a double sum can change from run to run; a decimal sum cannot. -#}
{% macro sum_money(expression) -%}
    {{ return(adapter.dispatch('sum_money', 'segrec')(expression)) }}
{%- endmacro %}

{% macro default__sum_money(expression) -%}
    cast(sum(cast({{ expression }} as decimal(18, 4))) as double)
{%- endmacro %}

{#- Spark casts a double to a decimal from its exact binary value (1.00005 is 1.0000499...: 1.0000),
    DuckDB from the scaled value (10000.5: 1.0001). Rounding the scaled value half away from zero
    gives DuckDB's ten-thousandths; the sum of those integers is exact, as DuckDB's decimal sum.
    In parentheses: a caller's `sum_money(a) / sum_money(b)` must not divide by 10000 twice. -#}
{% macro spark__sum_money(expression) -%}
    (cast(sum(cast(round({{ expression }} * 10000) as bigint)) as double) / 10000)
{%- endmacro %}

{#- Per customer_key of `relation`: the non-null value of `column` on most of their rows (ties:
    the alphabetically first) as `name`, and the share of their non-null rows it takes as
    `name`_share. -#}
{% macro most_frequent_value(relation, column, name) -%}
    {#- counted first: Spark does not take an aggregate inside a window of QUALIFY -#}
    select
        customer_key,
        {{ column }} as {{ name }},
        n_rows / sum(n_rows) over (partition by customer_key) as {{ name }}_share
    from (
        select
            customer_key,
            {{ column }},
            count(*) as n_rows
        from {{ relation }}
        where {{ column }} is not null
        group by customer_key, {{ column }}
    ) as counted
    qualify row_number() over (partition by customer_key order by n_rows desc, {{ column }}) = 1
{%- endmacro %}
