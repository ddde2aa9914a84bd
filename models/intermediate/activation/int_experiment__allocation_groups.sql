-- One known customer with the group the strategy allocation is made for: the behavioural segment
-- of the latest segmentation run ('unsegmented' when not scored) and, when var
-- strategy_allocation names a layout experiment, the customer's variant in it ('none' when not
-- named or not assigned). Impressions are counted (int_experiment__impression_outcomes) and
-- customers assigned a strategy (int_experiment__strategy_assignments) by these groups.
with

customers as (
    select customer_key from {{ ref('int_customers__unified') }}
),

latest_segments as (
    select * from {{ ref('int_segmentation__member_segments') }}
    where is_latest_run
),

assignments as (
    select * from {{ ref('int_experiment__assignments') }}
    {%- set layout_experiment = var('strategy_allocation')['layout_experiment'] %}
    where {% if layout_experiment %}experiment_id = '{{ layout_experiment }}'{% else %}false{% endif %}
),

final as (
    select
        customers.customer_key,
        coalesce(latest_segments.segment_name, 'unsegmented') as segment_name,
        coalesce(assignments.variant, 'none') as layout_variant
    from customers
    left join latest_segments
        on customers.customer_key = latest_segments.customer_key
    left join assignments
        on customers.customer_key = assignments.customer_key
)

select * from final
