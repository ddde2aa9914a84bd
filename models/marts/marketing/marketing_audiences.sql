-- One (customer, audience): customers of the latest segmentation run who may be marketed to
-- (known, marketing consent, no opt-out; deleted customers are not in dim_customers) in every
-- audience of seeds/promotion_catalog.csv that one of their rule segments or their segment's
-- archetype maps to. People are identified only by salted SHA-256 (macro hash_pii);
-- hashed_with_demo_salt marks hashes made with the public demo salt, which `segrec export`
-- refuses outside the demo.
with

catalog as (
    select * from {{ ref('promotion_catalog') }}
),

members as (
    select * from {{ ref('customer_segments') }}
    where is_latest_run
),

segments as (
    select * from {{ ref('segment_profiles') }}
),

customers as (
    select * from {{ ref('dim_customers') }}
    where can_market
),

rule_lists as (
    -- the rule segments as a list, for matching (customer_segments holds them as display text)
    select
        run_id,
        customer_key,
        rule_segments as rule_segment_list
    from {{ ref('int_segmentation__members') }}
    where is_latest_run
),

marketable as (
    select
        members.customer_key,
        members.segment_id,
        members.segment_name,
        members.rule_segments,
        rule_lists.rule_segment_list,
        members.model_version,
        members.scored_at,
        segments.archetype,
        customers.customer_id,
        customers.email_sha256,
        customers.can_market
    from members
    inner join customers
        on members.customer_key = customers.customer_key
    inner join rule_lists
        on members.run_id = rule_lists.run_id
            and members.customer_key = rule_lists.customer_key
    left join segments
        on members.run_id = segments.run_id
            and members.segment_id = segments.segment_id
),

matched as (
    select
        marketable.*,
        catalog.audience,
        coalesce(catalog.rule_segment, catalog.archetype) as matched_segment,
        catalog.promotion_id,
        catalog.promotion_type,
        catalog.offer,
        catalog.channel,
        catalog.priority
    from marketable
    inner join catalog
        on marketable.archetype = catalog.archetype
            or {{ list_contains('marketable.rule_segment_list', 'catalog.rule_segment') }}
),

final as (
    select
        customer_key,
        audience,
        {{ hash_pii('customer_id') }} as hashed_customer_id,
        email_sha256 as hashed_email,
        -- bigint on both engines (Spark's row_number is an int)
        cast(row_number() over (partition by customer_key order by priority) as bigint) as audience_rank,
        matched_segment,
        segment_id,
        segment_name,
        rule_segments,
        promotion_id,
        promotion_type,
        offer,
        channel,
        can_market as consent_checked,
        cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S") }}' as timestamp) as consent_checked_at,
        {{ pii_salt_is_demo() }} as hashed_with_demo_salt,
        model_version,
        scored_at
    from matched
)

select * from final
