{#- No customer is recommended a product they bought, unless its category is repeat-purchase. -#}
{% test no_repurchase_outside_repeat_categories(model, products, purchases) %}

with

lists as (
    select * from {{ model }}
)

select
    lists.customer_key,
    lists.product_id
from lists
inner join {{ purchases }} as purchases
    on lists.customer_key = purchases.customer_key
        and lists.product_id = purchases.product_id
inner join {{ products }} as products
    on lists.product_id = products.product_id
where purchases.is_purchased
    and not products.is_repeat_purchase_category

{% endtest %}
