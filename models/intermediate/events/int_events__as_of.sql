-- The reference moment of every as-of computation (one row): var as_of_date, else the latest
-- clean event (macro as_of_time). Recency, tenure, age, windows and newness all join it.
with

final as (
    select {{ as_of_time(ref('int_events__enriched')) }} as as_of_time
)

select * from final
