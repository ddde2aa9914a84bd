-- Every run's members with their named segment: one row per (run, customer). The one place the
-- assignments meet the segment names; filter on is_latest_run for the current view.
with

members as (
    select * from {{ ref('int_segmentation__members') }}
),

segments as (
    select * from {{ ref('int_segmentation__segments') }}
),

final as (
    select
        members.*,
        segments.segment_name,
        segments.cluster_id
    from members
    inner join segments
        on members.run_id = segments.run_id
            and members.segment_id = segments.segment_id
)

select * from final
