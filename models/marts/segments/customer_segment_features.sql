-- The raw features the latest segmentation run clusters, per customer as of the build, with the
-- counts their shares and means are taken over (count__*): what the service updates with a
-- visitor's live events before assigning them to the nearest centroid (segment_centroids,
-- segrec.segmentation.online). Long form; a product-group share missing here is 0. Empty when
-- segment_centroids is.
with

centroids as (
    select * from {{ ref('segment_centroids') }}
),

features as (
    select * from {{ ref('int_customers__value_features') }}
),

model_features as (
    select distinct feature from centroids
),

final as (
    select
        features.customer_key,
        features.feature,
        features.feature_value,
        features.as_of_time
    from features
    where features.feature in (select model_features.feature from model_features)
        or (
            left(features.feature, 7) = 'count__'
            and exists (select 1 from model_features)
        )
)

select * from final
