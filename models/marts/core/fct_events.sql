-- A view: the sessionized events are built incrementally in int_events__sessionized.
{{ config(materialized='view') }}

select * from {{ ref('int_events__sessionized') }}
