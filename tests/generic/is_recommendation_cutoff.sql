{#- Every value of column_name names a cutoff of the recommendation models: validation, test, the
    ranker's train_<k> windows (macro recommendation_holdout_cutoffs) and, with include_latest,
    latest. -#}
{% test is_recommendation_cutoff(model, column_name, include_latest=true) %}

{%- set names = [] %}
{%- for cutoff, _ in segrec.recommendation_holdout_cutoffs() %}{% do names.append(cutoff) %}{% endfor %}
{%- if include_latest %}{% do names.append('latest') %}{% endif %}

select {{ column_name }}
from {{ model }}
where {{ column_name }} is null
    or {{ column_name }} not in (
        {%- for name in names %}
        '{{ name }}'{{ ',' if not loop.last }}
        {%- endfor %}
    )

{% endtest %}
