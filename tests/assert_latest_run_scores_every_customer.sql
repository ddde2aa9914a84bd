-- The latest segmentation run has exactly one row for every customer in customer_features
-- (when there is a run: data with too few customers records none).
with

features as (
    select customer_key from {{ ref('customer_features') }}
    where exists (select 1 from {{ ref('segmentation_runs') }})
),

latest as (
    select customer_key from {{ ref('customer_segments') }}
    where is_latest_run
),

missing as (
    select
        customer_key,
        'not scored' as problem
    from features
    except
    select
        customer_key,
        'not scored' as problem
    from latest
),

extra as (
    select
        customer_key,
        'scored but not a customer' as problem
    from latest
    except
    select
        customer_key,
        'scored but not a customer' as problem
    from features
)

select * from missing
union all
select * from extra
