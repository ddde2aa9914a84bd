{#- At most max_per_category products of one category per list, unless the eligible products
    cannot fill list_length under that cap (then the cap is relaxed). Unknown categories are
    not capped. -#}
{% test category_cap_where_possible(model, max_per_category, list_length, population, products, purchases, repurchase_rule='repeat_categories') %}

with

lists as (
    select * from {{ model }}
),

eligible as (
    {{ segrec.eligible_products_by_category(population, products, purchases, repurchase_rule) }}
),

feasible as (
    select
        customer_key,
        sum(
            case when category is null then n_eligible else least({{ max_per_category }}, n_eligible) end
        ) >= {{ list_length }} as cap_can_hold
    from eligible
    group by customer_key
),

per_category as (
    select
        lists.customer_key,
        products.category,
        count(*) as n_products
    from lists
    inner join {{ products }} as products
        on lists.product_id = products.product_id
    where products.category is not null
    group by lists.customer_key, products.category
)

select per_category.*
from per_category
inner join feasible
    on per_category.customer_key = feasible.customer_key
where feasible.cap_can_hold
    and per_category.n_products > {{ max_per_category }}

{% endtest %}
