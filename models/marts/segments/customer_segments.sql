-- One customer per scoring run: behavioural segment (named, explained), the rule segments it
-- also carries (as display text, comma-separated: the list is in int_segmentation__members),
-- confidence, 2-D projection for plots. is_latest_run marks the current view.
with

members as (
    select * from {{ ref('int_segmentation__member_segments') }}
),

final as (
    select
        members.customer_key,
        members.run_id,
        members.segment_id,
        members.segment_name,
        nullif({{ list_join('members.rule_segments', ',') }}, '') as rule_segments,
        members.cluster_id,
        members.confidence,
        members.pca_x,
        members.pca_y,
        members.model_version,
        members.scored_at,
        members.is_latest_run
    from members
)

select * from final
