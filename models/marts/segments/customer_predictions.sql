-- One known customer with a clean purchase: expected purchases and value in the next 90 days,
-- probability of still being active, expected next order date and churn-risk band
-- (int_customers__value_scores.py: BG/NBD + Gamma-Gamma, segrec.clv).
-- Churn band: repeat buyers by their BG/NBD P(active) (var customer_value.churn_thresholds).
-- BG/NBD lets customers drop out only after a repeat purchase, so a one-time buyer has
-- P(active) = 1 however long ago they bought; their band compares the days since that purchase
-- with how long the repeat buyers took to come back (days to their second purchase day): beyond
-- the one_time_buyer_quantiles[1] quantile high, beyond [0] medium, else low.
{%- set quantiles = var('customer_value')['one_time_buyer_quantiles'] %}

with

scores as (
    select * from {{ ref('int_customers__value_scores') }}
),

repeat_gaps as (
    select
        percentile_cont({{ quantiles[0] }}) within group (order by days_to_second_purchase) as medium_after_days,
        percentile_cont({{ quantiles[1] }}) within group (order by days_to_second_purchase) as high_after_days
    from scores
    where repeat_purchase_days > 0
),

final as (
    select
        cast(scores.customer_key as {{ dbt.type_string() }}) as customer_key,
        cast(scores.as_of_date as date) as as_of_date,
        cast(scores.as_of_date as date) - cast(scores.days_since_first_purchase as integer) as first_purchase_date,
        cast(scores.as_of_date as date)
        - cast(scores.days_since_first_purchase - scores.days_first_to_last_purchase as integer) as last_purchase_date,
        cast(scores.repeat_purchase_days as bigint) + 1 as purchase_days,
        cast(scores.days_since_first_purchase - scores.days_first_to_last_purchase as bigint)
            as days_since_last_purchase,
        cast(scores.avg_repeat_value as double) as avg_repeat_value,
        cast(scores.expected_purchases_90d as double) as expected_purchases_90d,
        cast(scores.probability_active as double) as probability_active,
        cast(scores.predicted_value_90d as double) as predicted_value_90d,
        cast(scores.expected_next_order_date as date) as expected_next_order_date,
        case
            when scores.repeat_purchase_days > 0 then cast(scores.churn_risk_band as {{ dbt.type_string() }})
            when scores.days_since_first_purchase > repeat_gaps.high_after_days then 'high'
            when scores.days_since_first_purchase > repeat_gaps.medium_after_days then 'medium'
            else 'low'
        end as churn_risk_band,
        case
            when scores.repeat_purchase_days > 0 then 'probability_active'
            else 'days_since_first_purchase'
        end as churn_risk_basis,
        cast(scores.model_version as {{ dbt.type_string() }}) as model_version
    from scores
    cross join repeat_gaps
)

select * from final
