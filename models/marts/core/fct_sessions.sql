-- A view: the sessions are built incrementally in int_sessions__aggregated.
{{ config(materialized='view') }}

select * from {{ ref('int_sessions__aggregated') }}
