-- From-segment -> to-segment counts between each run and the run before it. Customers new in
-- a run have no from-segment; customers gone from it have no to-segment.
with

members as (
    select * from {{ ref('int_segmentation__members') }}
),

segments as (
    select * from {{ ref('int_segmentation__segments') }}
),

runs as (
    select
        run_id,
        previous_run_id,
        scored_at
    from {{ ref('int_segmentation__model_runs') }}
    where previous_run_id is not null
),

current_members as (
    select
        runs.run_id,
        members.customer_key,
        members.segment_id
    from runs
    inner join members
        on runs.run_id = members.run_id
),

previous_members as (
    select
        runs.run_id,
        members.customer_key,
        members.segment_id
    from runs
    inner join members
        on runs.previous_run_id = members.run_id
),

pairs as (
    select
        coalesce(current_members.run_id, previous_members.run_id) as run_id,
        previous_members.segment_id as from_segment_id,
        current_members.segment_id as to_segment_id
    from current_members
    full outer join previous_members
        on current_members.run_id = previous_members.run_id
            and current_members.customer_key = previous_members.customer_key
),

counted as (
    select
        run_id,
        from_segment_id,
        to_segment_id,
        count(*) as n_customers
    from pairs
    group by run_id, from_segment_id, to_segment_id
),

final as (
    select
        counted.run_id,
        runs.previous_run_id,
        runs.scored_at,
        counted.from_segment_id,
        from_segments.segment_name as from_segment_name,
        counted.to_segment_id,
        to_segments.segment_name as to_segment_name,
        counted.n_customers,
        coalesce(counted.from_segment_id = counted.to_segment_id, false) as is_same_segment
    from counted
    inner join runs
        on counted.run_id = runs.run_id
    left join segments as from_segments
        on runs.previous_run_id = from_segments.run_id
            and counted.from_segment_id = from_segments.segment_id
    left join segments as to_segments
        on counted.run_id = to_segments.run_id
            and counted.to_segment_id = to_segments.segment_id
)

select * from final
