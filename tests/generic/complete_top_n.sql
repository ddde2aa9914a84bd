{#- Every customer of `population`, and only those, has a list of exactly list_length rows
    ranked 1..list_length (fewer only when fewer products are eligible, then ranked 1..n). -#}
{% test complete_top_n(model, list_length, population, products, purchases, repurchase_rule='repeat_categories') %}

with

eligible as (
    {{ segrec.eligible_products_by_category(population, products, purchases, repurchase_rule) }}
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
