"""Everything the recommenders read, aligned to the rows and columns of one interaction matrix."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from segrec.errors import SegrecError
from segrec.recommend.interactions import (
    InteractionMatrix,
    Table,
    build_interaction_matrix,
    pair_matrix,
    require_columns,
)

# Product side columns and the value assumed when the products table lacks them.
PRODUCT_DEFAULTS: dict[str, object] = {
    "name": None,
    "category_path": None,
    "category": None,
    "subcategory": None,
    "brand": None,
    "color": None,
    "price_band": None,
    "margin": 0.0,
    "is_new": False,
    "is_active": True,
    "is_repeat_purchase_category": False,
}
CONTEXT_COLUMNS: tuple[str, ...] = ("usual_device", "usual_daypart", "region")
CUSTOMER_DEFAULTS: dict[str, object] = {"segment_name": None, "rule_segments": None} | {
    c: None for c in CONTEXT_COLUMNS
}
PATH_SEPARATOR = ">"


def normalize_label(label: object) -> str:
    """A comparable form of a segment label: 'Frequent Buyers' and 'frequent-buyer' agree."""
    text = re.sub(r"[^0-9a-z]+", "_", str(label).casefold()).strip("_")
    return text[:-1] if text.endswith("s") else text


def parse_rule_segments(value: object) -> tuple[str, ...]:
    """Rule segments as a sorted tuple of normalized labels, from a list or comma text."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ()
    parts = value.split(",") if isinstance(value, str) else list(value)
    return tuple(sorted({normalize_label(p) for p in parts if str(p).strip()}))


def is_text(value: object) -> bool:
    """True for a non-blank string (pandas may hold a missing text as None or NaN)."""
    return isinstance(value, str) and bool(value.strip())


def _text(column: pd.Series) -> pd.Series:
    """Trimmed text with blanks as missing (None), as object values; vectorized, because the
    customer side table has a row per customer."""
    stripped = column.astype("string").str.strip()
    keep = (stripped.str.len() > 0).fillna(False).to_numpy(dtype=bool)
    return pd.Series(np.where(keep, stripped.to_numpy(dtype=object), None), index=column.index, dtype=object)


def path_levels(path: object) -> list[str]:
    """The non-blank levels of an ``A > B > C`` category path."""
    return [s.strip() for s in path.split(PATH_SEPARATOR) if s.strip()] if is_text(path) else []


def _path_level(paths: pd.Series, level: int) -> pd.Series:
    """The ``level``-th part of ``A > B > C`` paths (None where the path is shorter)."""
    return paths.map(lambda p: path_levels(p)[level] if len(path_levels(p)) > level else None)


def _leaf(paths: pd.Series) -> pd.Series:
    return paths.map(lambda p: path_levels(p)[-1] if path_levels(p) else None)


def _as_bool(column: pd.Series, table: str, default: bool) -> np.ndarray:
    """Booleans from bool, 0/1 or true/false text; missing means ``default``."""
    mapping = {"true": True, "false": False, "1": True, "0": False, "t": True, "f": False}
    values = column.map(lambda v: default if pd.isna(v) else mapping.get(str(v).strip().casefold(), None))
    if values.isna().any():
        bad = column[values.isna()].iloc[0]
        raise SegrecError(f"{table}: column {column.name} has a non-boolean value {bad!r}")
    return values.to_numpy(dtype=bool)


def check_unique_keys(frame: pd.DataFrame, table: str, column: str) -> None:
    """Refuse a side table whose key column has nulls or repeats: the join would be ambiguous."""
    require_columns(frame, table, (column,))
    if frame[column].isna().any():
        raise SegrecError(f"{table}: column {column} has {int(frame[column].isna().sum())} null value(s)")
    duplicated = frame[column].duplicated()
    if duplicated.any():
        first = frame.loc[duplicated, column].iloc[0]
        raise SegrecError(f"{table}: {column} {first!r} appears more than once")


def align_products(products: pd.DataFrame, product_ids: np.ndarray) -> pd.DataFrame:
    """Product side data in column order of the matrix, with defaults filled in.

    Products that have interactions but no catalog row get ``is_active = False``: nothing
    is recommended that the catalog cannot describe. ``category`` and ``subcategory`` fall
    back to the first two levels of ``category_path``; ``leaf_category`` is its last level.
    """
    check_unique_keys(products, "products", "product_id")
    frame = products.copy()
    for column, default in PRODUCT_DEFAULTS.items():
        if column not in frame.columns:
            frame[column] = default
    in_catalog = pd.Index(frame["product_id"].to_numpy(dtype=object)).get_indexer(pd.Index(product_ids)) >= 0
    frame = frame.set_index(frame["product_id"].to_numpy(dtype=object)).reindex(product_ids)
    out = pd.DataFrame({"product_id": product_ids}, index=pd.RangeIndex(len(product_ids)))
    for column in ("name", "category_path", "category", "subcategory", "brand", "color", "price_band"):
        out[column] = _text(frame[column]).to_numpy(dtype=object)
    out["category"] = out["category"].where(out["category"].notna(), _path_level(out["category_path"], 0))
    out["subcategory"] = out["subcategory"].where(
        out["subcategory"].notna(), _path_level(out["category_path"], 1)
    )
    leaf = _leaf(out["category_path"])
    out["leaf_category"] = leaf.where(leaf.notna(), out["subcategory"].where(out["subcategory"].notna(),
                                                                             out["category"]))
    out["price_band"] = out["price_band"].map(lambda v: v.casefold() if is_text(v) else None)
    margin = pd.to_numeric(frame["margin"], errors="coerce").fillna(0.0).to_numpy(dtype=float)
    if ((margin < 0) | (margin > 1)).any():
        raise SegrecError("products: column margin must lie between 0 and 1")
    out["margin"] = margin
    out["is_new"] = _as_bool(frame["is_new"], "products", False)
    out["is_active"] = _as_bool(frame["is_active"], "products", True) & in_catalog
    out["is_repeat_purchase_category"] = _as_bool(frame["is_repeat_purchase_category"], "products", False)
    return out


def align_customers(customers: pd.DataFrame | None, customer_keys: np.ndarray) -> pd.DataFrame:
    """Customer context in row order of the matrix; unknown customers get empty context."""
    frame = pd.DataFrame({"customer_key": []}) if customers is None else customers.copy()
    check_unique_keys(frame, "customer context", "customer_key")
    for column, default in CUSTOMER_DEFAULTS.items():
        if column not in frame.columns:
            frame[column] = default
    frame = frame.set_index(frame["customer_key"].to_numpy(dtype=object)).reindex(customer_keys)
    out = pd.DataFrame({"customer_key": customer_keys}, index=pd.RangeIndex(len(customer_keys)))
    for column in ("segment_name", *CONTEXT_COLUMNS):
        out[column] = _text(frame[column]).to_numpy(dtype=object)
    # Lists (or texts) repeat a few combinations over many customers: normalize each one once.
    raw = [v if isinstance(v, str) or v is None else tuple(v) if np.ndim(v) else None
           for v in frame["rule_segments"].to_numpy(dtype=object)]
    parsed = {value: parse_rule_segments(value) for value in set(raw)}
    out["rule_segments"] = [parsed[v] for v in raw]
    return out


@dataclass(frozen=True)
class RecData:
    """Interactions, product side data, customer context and purchases on one index map.

    ``products`` has one row per matrix column, ``customers`` one row per matrix row, and
    ``purchased`` (users x items, 0/1) marks what each customer has bought.
    """

    interactions: InteractionMatrix
    products: pd.DataFrame
    customers: pd.DataFrame
    purchased: sp.csr_matrix

    @property
    def n_interacted(self) -> np.ndarray:
        """Distinct products each customer interacted with: how much we know of them."""
        return np.diff(self.interactions.matrix.indptr)


def prepare_data(
    interactions: Table,
    products: pd.DataFrame,
    customers: pd.DataFrame | None = None,
    purchases: Table | None = None,
) -> RecData:
    """Align the input tables of the recommenders.

    Parameters
    ----------
    interactions : ``customer_key``, ``product_id``, ``weight`` (pandas or Arrow).
    products : ``product_id`` plus any of the side columns of :data:`PRODUCT_DEFAULTS`.
    customers : optional context: ``customer_key``, ``segment_name``, ``rule_segments``
        (list or comma text), ``usual_device``, ``usual_daypart``, ``region``. Customers here
        without interactions are the cold-start rows.
    purchases : optional (``customer_key``, ``product_id``) pairs already bought (pandas or Arrow).

    The matrix covers every catalog product (so new products can be recommended) and every
    customer of ``interactions`` or ``customers``.
    """
    check_unique_keys(products, "products", "product_id")
    if customers is not None:
        check_unique_keys(customers, "customer context", "customer_key")
    matrix = build_interaction_matrix(
        interactions,
        customer_keys=None if customers is None else customers["customer_key"],
        product_ids=products["product_id"],
    )
    if purchases is None:
        bought = sp.csr_matrix(matrix.matrix.shape, dtype=np.float32)
    else:
        bought = pair_matrix(purchases, "purchases", matrix.customer_keys, matrix.product_ids)
        bought.data = np.ones_like(bought.data)
    return RecData(
        interactions=matrix,
        products=align_products(products, matrix.product_ids),
        customers=align_customers(customers, matrix.customer_keys),
        purchased=bought,
    )
