with

source as (
    select * from {{ raw_table('promotion_responses') }}
),

final as (
    select
        {{ clean_text('customer_id') }} as customer_id,
        {{ clean_text('promotion_id') }} as promotion_id,
        lower({{ clean_text('promotion_type') }}) as promotion_type,
        {{ parse_utc_timestamp('offered_at') }} as offered_at,
        {{ parse_utc_timestamp('redeemed_at') }} as redeemed_at
    from source
)

select * from final
