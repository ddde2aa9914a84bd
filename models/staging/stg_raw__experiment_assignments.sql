-- One row per (experiment, customer): the first assignment wins.
with

source as (
    select * from {{ raw_table('experiment_assignments') }}
),

parsed as (
    select
        {{ clean_text('experiment_id') }} as experiment_id,
        {{ clean_text('customer_id') }} as customer_id,
        {{ clean_text('variant') }} as variant,
        {{ parse_utc_timestamp('assigned_at') }} as assigned_at,
        _source_file,
        _source_row
    from source
),

final as (
    select {{ star_except(['_source_file', '_source_row']) }}
    from parsed
    where experiment_id is not null and customer_id is not null and variant is not null
    qualify row_number() over (
            partition by experiment_id, customer_id
            order by assigned_at nulls last, _source_file, _source_row
        ) = 1
)

select * from final
