-- Built in int_customers__category_affinities (the clustering matrix reads it there too).
select * from {{ ref('int_customers__category_affinities') }}
