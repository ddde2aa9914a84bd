{#- Data tests of the recommendation lists (business rules), as generic tests. Arguments that
    are relations may also be subqueries, e.g. one cutoff of int_recommendation__products. -#}

{#- Per (listed customer, category): how many products the business rules allow: active ones,
    less those the customer bought unless their category is repeat-purchase.
    population: customer_key; products: product_id, category, is_active,
    is_repeat_purchase_category; purchases: customer_key, product_id, is_purchased. -#}
{% macro eligible_products_by_category(population, products, purchases) %}
    with

    active_by_category as (
        select
            category,
            count(*) as n_active
        from {{ products }} as products
        where is_active
        group by category
    ),

    blocked_by_category as (
        select
            purchases.customer_key,
            products.category,
            count(*) as n_blocked
        from {{ purchases }} as purchases
        inner join {{ products }} as products
            on purchases.product_id = products.product_id
        where purchases.is_purchased
            and products.is_active
            and not products.is_repeat_purchase_category
        group by purchases.customer_key, products.category
    )

    select
        population.customer_key,
        active_by_category.category,
        active_by_category.n_active - coalesce(blocked_by_category.n_blocked, 0) as n_eligible
    from (select distinct customer_key from {{ population }}) as population
    cross join active_by_category
    left join blocked_by_category
        on population.customer_key = blocked_by_category.customer_key
            and active_by_category.category is not distinct from blocked_by_category.category
{% endmacro %}

{#- Every customer of `population`, and only those, has a list of exactly list_length rows
    ranked 1..list_length (fewer only when fewer products are eligible, then ranked 1..n). -#}
{% test complete_top_n(model, list_length, population, products, purchases) %}

with

eligible as (
    {{ segrec.eligible_products_by_category(population, products, purchases) }}
),

expected as (
    select
        customer_key,
        least({{ list_length }}, sum(n_eligible)) as n_expected
    from eligible
    group by customer_key
),

lists as (
    select
        customer_key,
        count(*) as n_rows,
        count(distinct rank) as n_ranks,
        min(rank) as min_rank,
        max(rank) as max_rank
    from {{ model }}
    group by customer_key
),

compared as (
    select
        coalesce(expected.customer_key, lists.customer_key) as customer_key,
        expected.n_expected,
        lists.n_rows,
        lists.n_ranks,
        lists.min_rank,
        lists.max_rank
    from expected
    full outer join lists
        on expected.customer_key = lists.customer_key
)

select * from compared
where n_expected is null
    or coalesce(n_rows, 0) != n_expected
    or n_ranks != n_rows
    or min_rank != 1
    or max_rank != n_rows

{% endtest %}

{#- At most max_per_category products of one category per list, unless the eligible products
    cannot fill list_length under that cap (then the cap is relaxed). Unknown categories are
    not capped. -#}
{% test category_cap_where_possible(model, max_per_category, list_length, population, products, purchases) %}

with

eligible as (
    {{ segrec.eligible_products_by_category(population, products, purchases) }}
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
    from {{ model }} as lists
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

{#- No customer is recommended a product they bought, unless its category is repeat-purchase. -#}
{% test no_repurchase_outside_repeat_categories(model, products, purchases) %}

select
    lists.customer_key,
    lists.product_id
from {{ model }} as lists
inner join {{ purchases }} as purchases
    on lists.customer_key = purchases.customer_key
        and lists.product_id = purchases.product_id
inner join {{ products }} as products
    on lists.product_id = products.product_id
where purchases.is_purchased
    and not products.is_repeat_purchase_category

{% endtest %}

{#- Every value of column_name is a product that `to` (product_id, is_active) marks active. -#}
{% test is_active_product(model, column_name, to) %}

select lists.{{ column_name }}
from {{ model }} as lists
left join {{ to }} as products
    on lists.{{ column_name }} = products.product_id
where not coalesce(products.is_active, false)

{% endtest %}
