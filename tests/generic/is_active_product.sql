{#- Every value of column_name is a product that `to` (product_id, is_active) marks active. -#}
{% test is_active_product(model, column_name, to) %}

with

lists as (
    select * from {{ model }}
)

select lists.{{ column_name }}
from lists
left join {{ to }} as products
    on lists.{{ column_name }} = products.product_id
where not coalesce(products.is_active, false)

{% endtest %}
