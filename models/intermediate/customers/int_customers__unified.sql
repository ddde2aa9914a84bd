-- One row per unified customer_key: known customers (from events or the customer table) and
-- anonymous devices never tied to a login, with their activity and raw profile values.
-- Customers who asked to be deleted are left out. A table, so the e-mail is kept only as its
-- salted hash (clear-text personal data stays in the staging views over raw).
with

events as (
    select * from {{ ref('int_events__enriched') }}
),

profiles as (
    select * from {{ ref('stg_raw__customers') }}
),

privacy as (
    select * from {{ ref('int_customers__privacy_status') }}
),

activity as (
    select
        customer_key,
        max(customer_id) as customer_id,
        max(case when customer_id is null then anonymous_id end) as anonymous_id,
        count(distinct anonymous_id) as n_devices,
        min(event_time) as first_seen_at,
        max(event_time) as last_seen_at,
        count(distinct case when event_type = 'purchase' then {{ order_key() }} end) as n_orders,
        {{ sum_money("revenue") }} as lifetime_revenue,
        mode(country_code) as event_country_code,
        mode(region) as event_region,
        mode(city) as event_city
    from events
    group by customer_key
),

profile_only as (
    select
        {{ customer_key('profiles.customer_id', 'null') }} as customer_key,
        profiles.customer_id,
        cast(null as {{ dbt.type_string() }}) as anonymous_id,
        0 as n_devices,
        cast(null as timestamp) as first_seen_at,
        cast(null as timestamp) as last_seen_at,
        0 as n_orders,
        0.0 as lifetime_revenue,
        cast(null as {{ dbt.type_string() }}) as event_country_code,
        cast(null as {{ dbt.type_string() }}) as event_region,
        cast(null as {{ dbt.type_string() }}) as event_city
    from profiles
    where not exists (
            select 1 from events
            where events.customer_id = profiles.customer_id
        )
),

all_customers as (
    select * from activity
    union all
    select * from profile_only
),

final as (
    select
        all_customers.*,
        all_customers.customer_id is null as is_anonymous,
        case when profiles.email is not null then {{ hash_pii('profiles.email') }} end as email_sha256,
        profiles.email is not null as has_email,
        profiles.birth_date,
        profiles.age as stated_age,
        profiles.gender,
        coalesce(profiles.country_code, all_customers.event_country_code) as country_code,
        coalesce(profiles.region, all_customers.event_region) as region,
        coalesce(profiles.city, all_customers.event_city) as city,
        profiles.signup_at,
        profiles.marketing_consent,
        coalesce(privacy.is_opted_out, false) as is_opted_out
    from all_customers
    left join profiles
        on all_customers.customer_id = profiles.customer_id
    left join privacy
        on all_customers.customer_id = privacy.customer_id
    where not coalesce(privacy.is_deleted, false)
)

select * from final
