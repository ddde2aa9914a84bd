-- One (experiment, metric, variant): exposed customers (or sessions, orders, impressions), the
-- metric's value, and for each treatment its lift over the control with a confidence interval,
-- p-value and test, the sample-ratio-mismatch check and a warning when the test is
-- underpowered. Statistics from int_experiment__statistics.py (segrec.experiments).
{%- set settings = var('experiments') %}

with

statistics as (
    select * from {{ ref('int_experiment__statistics') }}
),

final as (
    select
        experiment_id,
        metric,
        variant,
        test is null as is_control,
        cast(n as bigint) as n,
        -- a keyword, but the published name (the model contract in _marketing__models.yml)
        cast(value as double) as value,  -- noqa: RF04
        cast(lift as double) as lift,
        cast(ci_low as double) as ci_low,
        cast(ci_high as double) as ci_high,
        cast(p_value as double) as p_value,
        test,
        case when test is not null then p_value < 1 - {{ settings['confidence'] }} end as is_significant,
        cast(difference as double) as difference,
        cast(difference_ci_low as double) as difference_ci_low,
        cast(difference_ci_high as double) as difference_ci_high,
        cast(minimum_detectable_lift as double) as minimum_detectable_lift,
        underpowered,
        cast(srm_p_value as double) as srm_p_value,
        srm_ok,
        nullif(concat_ws(
            '; ',
            case when not srm_ok then 'sample ratio mismatch: the variant split differs from the plan' end,
            case
                when underpowered then 'underpowered: cannot detect a '
                    || cast(round(100 * {{ settings['minimum_effect'] }}) as integer) || '% lift with '
                    || cast(round(100 * {{ settings['power'] }}) as integer) || '% power'
            end
        ), '') as warning,
        cast({{ settings['confidence'] }} as double) as confidence_level
    from statistics
)

select * from final
