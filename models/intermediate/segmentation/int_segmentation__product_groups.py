"""One row per product with a product group, the "taste" of the customer features: the catalog's
top-level categories when it has them, else groups of product names (NMF topics,
segrec.segmentation.product_groups.taste_groups). Empty when neither works."""

import pyarrow as pa

from segrec.engine import to_output, to_pandas
from segrec.segmentation.product_groups import TASTE_COLUMNS, taste_groups

SCHEMA = pa.schema([
    ("product_id", pa.string()), ("product_group", pa.int64()), ("group_label", pa.string()),
    ("group_feature", pa.string()), ("source", pa.string()),
])


def model(dbt, session):
    products = to_pandas(dbt.ref("int_products__enriched"))[["product_id", "category", "product_name"]]
    groups = taste_groups(
        products,
        n_groups=int(dbt.config.get("product_groups")),
        random_state=int(dbt.config.get("random_state")),
    )
    print(f"product groups: {groups['product_group'].nunique()} groups of {len(groups)} products")
    table = pa.Table.from_pandas(groups[list(TASTE_COLUMNS)].astype({"product_id": str}), schema=SCHEMA,
                                 preserve_index=False)
    return to_output(table, session)
