-- Configuration check: the base currency (var base_currency) and the default currency must be
-- in seeds/currency_rates.csv, or revenue could not be converted. Fails before any model uses them.
with

required as (
    select '{{ var("base_currency") }}' as currency
    union all
    select '{{ var("default_currency") }}' as currency
)

select required.currency as missing_currency
from required
left join {{ ref('currency_rates') }} as rates
    on required.currency = rates.currency
where rates.currency is null
