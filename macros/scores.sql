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
    cast(sum(cast({{ expression }} as decimal(18, 4))) as double)
{%- endmacro %}
