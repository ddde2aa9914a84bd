-- One ALS parameter combination tried on the validation window, with its score; is_selected
-- marks the parameters the serving model (model_version) and the evaluation were trained with.
with

grid as (
    select * from {{ ref('int_recommendation__als_grid') }}
),

serving as (
    select distinct model_version from {{ ref('int_recommendation__als_factors') }}
),

final as (
    select
        serving.model_version,
        grid.factors,
        grid.regularization,
        grid.alpha,
        grid.iterations,
        grid.metric,
        cast(grid.k as integer) as k,
        grid.value,
        grid.n_users,
        grid.is_selected,
        grid.split_description
    from grid
    cross join serving
)

select * from final
