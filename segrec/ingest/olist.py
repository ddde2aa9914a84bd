"""Olist catalog -> ``products`` with English categories (no events: the order tables are absent).

Input: ``olist_products_dataset.csv(.gz)`` and ``product_category_name_translation.csv``
(files are recognized by their columns, so a directory works too; the sellers table is
skipped because the raw contract has no seller table). The translation is required.

Each product line is one ``products`` row:

* ``category_path`` = the English category (``cama_mesa_banho`` -> ``bed_bath_table``), one
  level, in Olist's own snake-case names. The two categories missing from the translation
  (``pc_gamer``, ``portateis_cozinha_e_preparadores_de_alimentos``) are translated by
  :data:`EXTRA_TRANSLATIONS` (counted as ``translated_here``); any other untranslated
  category keeps its Portuguese name (``untranslated_category``); a product without category
  has an empty path (``missing_category``).
* ``name``, ``brand``, ``price``: not in the catalog, left empty (the upstream name/description
  *lengths* and the dimensions are not contract columns).
* a repeated ``product_id`` is dropped after its first line (``duplicate_product_id``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from segrec.errors import SegrecError
from segrec.ingest.common import (
    IngestResult,
    Source,
    canonical_columns,
    count_true,
    make_result,
    read_text_file,
)

NAME = "olist"
PRODUCT_COLUMNS = ("product_id", "product_category_name")
TRANSLATION_COLUMNS = ("product_category_name", "product_category_name_english")
# Categories that upstream's translation table lacks (translated here, same naming style).
EXTRA_TRANSLATIONS = {
    "pc_gamer": "pc_gamer",
    "portateis_cozinha_e_preparadores_de_alimentos": "portable_kitchen_and_food_preparers",
}


def read(paths: Sequence[Path]) -> pd.DataFrame:
    """Product lines (``product_id``, ``product_category_name``) with the English name
    from the translation file in ``product_category_name_english``."""
    products, translations = [], []
    for path in paths:
        frame = read_text_file(path)
        columns = set(frame.columns)
        if "product_category_name_english" in columns:
            translations.append(canonical_columns(frame, {}, TRANSLATION_COLUMNS, str(path)))
        elif "product_id" in columns:
            products.append(canonical_columns(frame, {}, PRODUCT_COLUMNS, str(path)))
        elif "seller_id" not in columns:
            raise SegrecError(
                f"olist: {path} is neither the products table nor the category translation "
                f"(columns: {', '.join(frame.columns)})"
            )
    if not products:
        raise SegrecError("olist: no products file (with product_id, product_category_name) given")
    if not translations:
        raise SegrecError("olist: the category translation file (product_category_name_translation.csv) "
                          "is needed for English categories")
    english = pd.concat(translations).drop_duplicates("product_category_name")
    english = english.set_index("product_category_name")["product_category_name_english"]
    lines = pd.concat(products, ignore_index=True)
    return lines.assign(product_category_name_english=lines["product_category_name"].map(english))


def to_raw(lines: pd.DataFrame) -> IngestResult:
    """Map catalog lines to the raw ``products`` table."""
    lines = lines.apply(lambda c: c.astype("string").str.strip()).reset_index(drop=True)
    portuguese = lines["product_category_name"]
    extra = portuguese.map(EXTRA_TRANSLATIONS).astype("string")
    english = lines["product_category_name_english"].fillna(extra)
    path = english.fillna(portuguese)
    duplicate = lines["product_id"].duplicated()
    products = pd.DataFrame({"product_id": lines["product_id"], "category_path": path})[~duplicate]
    special = count_true(
        translated_here=lines["product_category_name_english"].isna() & extra.notna(),
        untranslated_category=english.isna() & portuguese.notna(),
        missing_category=portuguese.isna(),
    )
    return make_result(
        NAME, {"products": products.reset_index(drop=True)},
        rows_read={"products": len(lines)}, special_cases=special,
        dropped={"duplicate_product_id": int(duplicate.sum())}, primary_table="products",
    )


SOURCE = Source(
    name=NAME,
    description="Olist catalog (products + category translation CSVs): products with English categories",
    read=read,
    to_raw=to_raw,
)
