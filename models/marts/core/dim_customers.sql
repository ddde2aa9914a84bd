-- The unified customer profile. Personal data only hashed; missing demographics of known
-- customers imputed (median age, most frequent gender) and flagged; customer value outliers
-- flagged by Tukey fences and z-score, never dropped.
with

customers as (
    select * from {{ ref('int_customers__unified') }}
),

as_of as (
    select * from {{ ref('int_events__as_of') }}
),

aged as (
    select
        customers.*,
        {{ known_age('customers.stated_age', 'customers.birth_date', 'as_of.as_of_time') }} as known_age
    from customers
    cross join as_of
),

imputation as (
    select
        median(known_age) as median_age,
        mode(gender) filter (where gender is not null) as mode_gender
    from aged
    where not is_anonymous
),

imputed_age as (
    select
        aged.*,
        case
            when aged.known_age is not null then aged.known_age
            when not aged.is_anonymous then round(imputation.median_age)
        end as age
    from aged
    cross join imputation
),

value_stats as (
    select
        {{ percentile_cont('lifetime_revenue', 0.25) }} as q1,
        {{ percentile_cont('lifetime_revenue', 0.75) }} as q3,
        avg(lifetime_revenue) as mean_revenue,
        stddev_samp(lifetime_revenue) as sd_revenue
    from customers
    where n_orders > 0
),

final as (
    select
        aged.customer_key,
        aged.customer_id,
        aged.is_anonymous,
        aged.anonymous_id,
        aged.n_devices,
        aged.email_sha256,
        aged.has_email,
        cast(aged.age as integer) as age,
        {{ age_band('aged.age') }} as age_band,
        not aged.is_anonymous and aged.known_age is null as is_age_imputed,
        case when not aged.is_anonymous then coalesce(aged.gender, imputation.mode_gender) end as gender,
        not aged.is_anonymous and aged.gender is null as is_gender_imputed,
        aged.country_code,
        aged.region,
        aged.city,
        aged.signup_at,
        aged.first_seen_at,
        aged.last_seen_at,
        coalesce(aged.marketing_consent, false) as marketing_consent,
        aged.is_opted_out,
        not aged.is_anonymous and coalesce(aged.marketing_consent, false) and not aged.is_opted_out
            as can_market,
        aged.n_orders,
        coalesce(aged.lifetime_revenue, 0) as lifetime_revenue,
        case
            when aged.n_orders > 0 and value_stats.sd_revenue > 0
                then (aged.lifetime_revenue - value_stats.mean_revenue) / value_stats.sd_revenue
        end as monetary_z_score,
        aged.n_orders > 0 and (
            aged.lifetime_revenue > value_stats.q3 + {{ var('outlier_iqr_k') }} * (value_stats.q3 - value_stats.q1)
            or aged.lifetime_revenue < value_stats.q1 - {{ var('outlier_iqr_k') }} * (value_stats.q3 - value_stats.q1)
        ) as is_monetary_outlier_iqr,
        aged.n_orders > 0 and value_stats.sd_revenue > 0
        and abs(aged.lifetime_revenue - value_stats.mean_revenue) / value_stats.sd_revenue > {{ var('outlier_z') }}
            as is_monetary_outlier_z
    from imputed_age as aged
    cross join imputation
    cross join value_stats
)

select * from final
