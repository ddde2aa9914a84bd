-- One product: catalog attributes, price band, margin and newness, for content features,
-- recommendations and BI. Products seen in events but missing from the catalog are kept
-- (is_in_catalog = false) so no event points nowhere.
select * from {{ ref('int_products__enriched') }}
