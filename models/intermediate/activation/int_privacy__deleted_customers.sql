-- One customer who asked to be deleted, with the customer_key the marts use: every model over
-- a side table keyed by customer_id (impressions, experiments, audiences) leaves these out.
with

privacy as (
    select * from {{ ref('int_customers__privacy_status') }}
    where is_deleted
),

final as (
    select
        customer_id,
        {{ customer_key('customer_id', 'null') }} as customer_key,
        deletion_requested_at
    from privacy
)

select * from final
