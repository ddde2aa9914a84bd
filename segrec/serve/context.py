"""Request context (device, daypart): what sells in each context, the cold-start lists of
unknown visitors, and the context re-rank of a known customer's list.

The lifts are the warehouse's own (:func:`segrec.recommend.rerank.fit_context_lifts`), fitted
at load on the published events: one row per (customer, device, daypart) the customer was
active in, so "people on mobile in the evening" means what they touched there.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse as sp

from segrec.generate.personas import DAYPARTS
from segrec.generate.reference import DEVICE_TYPES
from segrec.recommend.rerank import ContextLifts, context_scores, fit_context_lifts

# The warehouse's context columns (int_recommendation__customers.usual_device / usual_daypart).
DEVICE_COLUMN, DAYPART_COLUMN = "usual_device", "usual_daypart"


@dataclass(frozen=True)
class Context:
    """A request's context; None where the caller did not say."""

    device_type: str | None = None
    daypart: str | None = None

    def as_frame(self) -> pd.DataFrame:
        return pd.DataFrame({DEVICE_COLUMN: [self.device_type], DAYPART_COLUMN: [self.daypart]}, dtype=object)

    def label(self) -> str:
        return ",".join(v for v in (self.device_type, self.daypart) if v) or "any"


def parse_context(text: str | None) -> Context:
    """``"mobile,evening"`` (any order, either part optional) as a :class:`Context`.

    Raises ValueError naming the accepted values for anything else.
    """
    device, daypart = None, None
    for part in (p.strip().lower() for p in (text or "").split(",") if p.strip()):
        if part in DEVICE_TYPES and device is None:
            device = part
        elif part in DAYPARTS and daypart is None:
            daypart = part
        else:
            raise ValueError(
                f"context: unknown or repeated value {part!r}; give at most one device "
                f"({', '.join(DEVICE_TYPES)}) and one daypart ({', '.join(DAYPARTS)}), comma-separated"
            )
    return Context(device, daypart)


@dataclass(frozen=True)
class ContextModel:
    """Per active product: log global share and the context log-lifts."""

    product_ids: pd.Index
    log_share: np.ndarray
    lifts: ContextLifts

    def scores(self, context: Context) -> np.ndarray:
        """The mean context log-lift of every product (0 without a context)."""
        return context_scores(self.lifts, context.as_frame())[0]

    def cold_start(self, context: Context, n: int) -> list[tuple[str, float]]:
        """The ``n`` products most popular in ``context``: log share + context log-lift."""
        score = self.log_share + self.scores(context)
        top = np.lexsort((self.product_ids.to_numpy(dtype=object), -score))[:n]  # ties: product_id
        return [(str(self.product_ids[i]), float(score[i])) for i in top]


def fit_context_model(activity: pa.Table, product_ids: pd.Index, prior_strength: float = 20.0) -> ContextModel:
    """Fit the context model on ``activity`` (customer_key, device_type, daypart, product_id:
    the product events of the build) over the products ``product_ids`` (the active ones).

    Works on Arrow dictionary codes and integer arrays, not pandas objects: a reload fits this on
    millions of events in a thread beside the one answering requests, and Arrow's kernels release
    the GIL where pandas' object factorizing holds it for a second."""
    customer, _ = _codes(activity["customer_key"])
    device, devices = _codes(activity["device_type"])
    daypart, dayparts = _codes(activity["daypart"])
    product_code, products = _codes(activity["product_id"])
    product = product_ids.get_indexer(pd.Index(products, dtype=object))[product_code]
    keep = product >= 0
    combined = (customer[keep] * len(devices) + device[keep]) * len(dayparts) + daypart[keep]
    keys, row_of = np.unique(combined, return_inverse=True)
    n_rows = len(keys)
    binary = sp.csr_matrix(
        (np.ones(len(row_of), dtype=np.float32), (row_of, product[keep])), shape=(n_rows, len(product_ids)),
    )
    binary.data[:] = 1.0  # duplicates summed by the constructor: a product touched is 1
    contexts = pd.DataFrame({
        DEVICE_COLUMN: np.asarray(devices, dtype=object)[(keys // len(dayparts)) % len(devices)],
        DAYPART_COLUMN: np.asarray(dayparts, dtype=object)[keys % len(dayparts)],
    }, dtype=object)
    contexts = contexts.where(contexts.isin([*DEVICE_TYPES, *DAYPARTS]))  # 'unknown' device: no context
    lifts = fit_context_lifts(binary, contexts, columns=(DEVICE_COLUMN, DAYPART_COLUMN), prior_strength=prior_strength)
    customers = np.bincount(binary.indices, minlength=len(product_ids)).astype(np.float64)
    log_share = np.log((customers + 1.0) / (max(n_rows, 1) + 1.0))  # +1: never-touched products stay finite
    return ContextModel(product_ids=product_ids, log_share=log_share, lifts=lifts)


def _codes(column: pa.ChunkedArray) -> tuple[np.ndarray, list]:
    """(code per row, distinct values by code) of a column; null is the last code (value None)."""
    encoded = column.combine_chunks().dictionary_encode()
    values = encoded.dictionary.to_pylist()
    codes = pc.fill_null(encoded.indices, len(values)).to_numpy(zero_copy_only=False).astype(np.int64)
    return codes, [*values, None]
