-- The customers recommendation lists are for: every known customer (int_customers__unified;
-- deleted customers are already gone) and, with var recommendation_include_anonymous, every
-- anonymous visitor too, with the behavioural segment and rule segments (a list) of the latest
-- segmentation run and their usual context: the device and local daypart with the largest
-- share of their activity and their primary region (int_customers__features), and the groups the
-- offline evaluation reports quality for (fairness): age band of the known age (not imputed),
-- gender as stated, country. Customers without
-- history are the cold-start rows (segment popularity and content picks). is_evaluated marks the
-- evaluation sample: var recommendation_evaluation_customers customers (null: all) in the order of
-- a hash of their key, the same sample every run; the offline evaluation, the ALS grid and the
-- learned ranker's training windows read only these, so their cost stops growing with the shop.
{%- set sample_size = var('recommendation_evaluation_customers') %}
{%- if sample_size is not none and (sample_size is not number or sample_size < 1) %}
    {{ exceptions.raise_compiler_error(
        "var recommendation_evaluation_customers must be a whole number >= 1 or null, got " ~ sample_size) }}
{%- endif %}
with

customers as (
    select
        customer_key,
        stated_age,
        birth_date,
        gender,
        country_code
    from {{ ref('int_customers__unified') }}
    {%- if not var('recommendation_include_anonymous') %}
    where not is_anonymous
    {%- endif %}
),

segments as (
    select
        customer_key,
        segment_name,
        rule_segments
    from {{ ref('int_segmentation__member_segments') }}
    where is_latest_run
),

features as (
    select * from {{ ref('int_customers__features') }}
),

as_of as (
    select * from {{ ref('int_events__as_of') }}
),

final as (
    select
        customers.customer_key,
        segments.segment_name,
        segments.rule_segments,
        {{ largest_share_label({
            'mobile': 'features.share_mobile',
            'desktop': 'features.share_desktop',
            'tablet': 'features.share_tablet',
        }) }} as usual_device,
        {{ largest_share_label({
            'morning': 'features.share_morning',
            'afternoon': 'features.share_afternoon',
            'evening': 'features.share_evening',
            'night': 'features.share_night',
        }) }} as usual_daypart,
        features.primary_region as region,
        {{ age_band(known_age('customers.stated_age', 'customers.birth_date', 'as_of.as_of_time')) }} as age_band,
        customers.gender,
        customers.country_code,
        {%- if sample_size is none %}
        true as is_evaluated
        {%- else %}
        row_number() over (
            order by {{ dbt.hash('customers.customer_key') }}, customers.customer_key
        ) <= {{ sample_size }} as is_evaluated
        {%- endif %}
    from customers
    left join segments
        on customers.customer_key = segments.customer_key
    left join features
        on customers.customer_key = features.customer_key
    cross join as_of
)

select * from final
