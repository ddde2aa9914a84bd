-- One row per customer_id: the latest version by updated_at (later files win ties).
with

source as (
    select * from {{ raw_table('customers') }}
),

countries as (
    select * from {{ ref('country_regions') }}
),

parsed as (
    select
        {{ clean_text('source.customer_id') }} as customer_id,
        lower({{ clean_text('source.email') }}) as email,
        try_cast({{ clean_text('source.birth_date') }} as date) as birth_date,
        try_cast(source.age as integer) as age,
        case
            when lower(trim(source.gender)) in ('f', 'female', 'woman', 'w') then 'female'
            when lower(trim(source.gender)) in ('m', 'male', 'man') then 'male'
            when {{ clean_text('source.gender') }} is not null then 'other'
        end as gender,
        countries.country_code,
        countries.region,
        {{ clean_text('source.city') }} as city,
        {{ parse_utc_timestamp('source.signup_at') }} as signup_at,
        {{ parse_boolean('source.marketing_consent') }} as marketing_consent,
        {{ parse_utc_timestamp('source.updated_at') }} as updated_at,
        source._source_file,
        source._source_row
    from source
    left join countries
        on upper(trim(source.country)) = countries.country_key
),

final as (
    select {{ star_except(['_source_file', '_source_row']) }}
    from parsed
    where customer_id is not null
    qualify row_number() over (
            partition by customer_id
            order by updated_at desc nulls last, _source_file desc, _source_row desc
        ) = 1
)

select * from final
