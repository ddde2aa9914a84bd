-- The clustering input: one row per customer in int_customers__features, one column per feature of
-- var clustering_features plus cat_share__<category>; skewed features log-transformed, missing
-- values set to the feature's median, then standardized (population standard deviation; a
-- constant feature becomes 0). Built in long form so any number of categories fits.
{%- set features = var('clustering_features') %}
{%- set category_features = column_values(ref('int_customers__category_affinities'), 'category_feature') %}

with

customers as (
    select * from {{ ref('int_customers__features') }}
),

affinities as (
    select * from {{ ref('int_customers__category_affinities') }}
),

categories as (
    select distinct
        category,
        category_feature as feature
    from affinities
),

behaviour as (
    {%- for feature in features %}
    select
        customer_key,
        '{{ feature }}' as feature,
        {{ feature in var('clustering_log_features') }} as is_skewed,
        cast({{ feature }} as double) as raw_value
    from customers
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
),

category_shares as (
    -- a category the customer never touched has share 0, not a missing value
    select
        customers.customer_key,
        categories.feature,
        false as is_skewed,
        coalesce(affinities.category_share, 0) as raw_value
    from customers
    cross join categories
    left join affinities
        on customers.customer_key = affinities.customer_key
            and categories.category = affinities.category
),

long_values as (
    select * from behaviour
    union all
    select * from category_shares
),

transformed as (
    select
        customer_key,
        feature,
        case
            when is_skewed then sign(raw_value) * ln(1 + abs(raw_value))
            else raw_value
        end as feature_value
    from long_values
),

imputed as (
    select
        customer_key,
        feature,
        coalesce(feature_value, median(feature_value) over (partition by feature)) as feature_value
    from transformed
),

standardized as (
    select
        customer_key,
        feature,
        coalesce(
            (feature_value - avg(feature_value) over (partition by feature))
            / nullif(stddev_pop(feature_value) over (partition by feature), 0),
            0
        ) as feature_value
    from imputed
),

final as (
    select
        {%- for feature in features + category_features %}
        max(case when feature = '{{ feature }}' then feature_value end) as {{ feature }},
        {%- endfor %}
        customer_key
    from standardized
    group by customer_key
)

select * from final
