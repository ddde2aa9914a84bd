{#- Helper of the generic tests of the recommendation lists (tests/generic/complete_top_n.sql,
    category_cap_where_possible.sql). Arguments that are relations may also be subqueries,
    e.g. one cutoff of int_recommendation__products. -#}

{#- Per (listed customer, category): how many products the business rules allow: active ones,
    less (with repurchase_rule 'repeat_categories', the hybrid's and the opt-in rule of the served
    lists) those the customer bought unless their category is repeat-purchase; with 'learned'
    (the served lists' default) a bought product stays eligible.
    population: customer_key; products: product_id, category, is_active,
    is_repeat_purchase_category; purchases: customer_key, product_id, is_purchased. -#}
{% macro eligible_products_by_category(population, products, purchases, repurchase_rule='repeat_categories') %}
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
            and '{{ repurchase_rule }}' = 'repeat_categories'
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
