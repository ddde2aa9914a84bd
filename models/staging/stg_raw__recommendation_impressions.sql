with

source as (
    select * from {{ raw_table('recommendation_impressions') }}
),

final as (
    select
        {{ clean_text('customer_id') }} as customer_id,
        {{ clean_text('product_id') }} as product_id,
        lower({{ clean_text('strategy') }}) as strategy,
        {{ parse_utc_timestamp('shown_at') }} as shown_at,
        {{ parse_utc_timestamp('clicked_at') }} as clicked_at
    from source
)

select * from final
