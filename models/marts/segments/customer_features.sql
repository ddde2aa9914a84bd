-- The readable customer features (units as computed); built in int_customers__features from
-- the feature groups of models/intermediate/customers.
select * from {{ ref('int_customers__features') }}
