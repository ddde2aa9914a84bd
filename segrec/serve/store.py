"""One published build in memory: everything a request needs, looked up by dict.

:func:`load_build` reads the marts of an export folder (each checked against the manifest's
sha256) into a frozen :class:`ServingBuild`. The service swaps whole builds (see
:mod:`segrec.serve.reload`), so a build is never changed after loading.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from segrec.bandits import ASSIGNMENT_SCHEMA
from segrec.contract import PRODUCT_EVENT_TYPES
from segrec.segmentation.online import CentroidModel, ProductFacts
from segrec.serve.context import ContextModel, fit_context_model
from segrec.serve.lookup import GroupedRows, group_rows
from segrec.serve.published import mart_file, read_manifest, read_mart

SIMILARITY_METHODS: tuple[str, ...] = ("cooccurrence", "content", "als")
# The columns of customer_recommendations a list item carries in responses (the mart's names).
ITEM_COLUMNS: tuple[str, ...] = ("rank", "product_id", "score", "strategy", "reason")
SEGMENT_COLUMNS: tuple[str, ...] = ("segment_id", "segment_name", "rule_segments", "confidence", "run_id",
                                    "model_version", "scored_at")
PREDICTION_COLUMNS: tuple[str, ...] = ("predicted_value_90d", "expected_purchases_90d", "probability_active",
                                       "churn_risk_band")
SIMILAR_COLUMNS: tuple[str, ...] = ("method", "rank", "similar_product_id", "score")
# A customer's strategy of the period (strategy_assignments): what the shop shows and logs.
ASSIGNMENT_COLUMNS: tuple[str, ...] = ("strategy", "traffic_share", "list_type", "period_start")
# list_type of a request for the list of the customer's allocated strategy (blended when none).
ALLOCATED = "allocated"
# The marts the service reads; each must match the manifest.
SERVED_MARTS: tuple[str, ...] = ("customer_recommendations", "item_similarities", "customer_segments",
                                 "customer_predictions", "segment_profiles", "dim_customers", "dim_products",
                                 "fct_events")
# Served when the export has them (a build without impressions, or an older export, has none);
# the last three re-assign live visitors' segments (segrec.serve.segments).
OPTIONAL_MARTS: tuple[str, ...] = ("strategy_assignments", "segment_centroids", "customer_segment_features",
                                   "product_groups")


@dataclass(frozen=True)
class ServingBuild:
    """A published build, indexed for lookups.

    Attributes
    ----------
    export_dir, manifest_sha256, generated_at, model_versions : where it came from and what made it
        (the manifest, and the sha256 of its file).
    customer_keys : ``{customer_id: customer_key}`` (dim_customers; anonymous visitors have none).
    recommendations : customer_recommendations by ``(customer_key, list_type)``, in rank order.
    segments : the latest run's customer_segments row by customer_key.
    predictions : customer_predictions by customer_key.
    strategies : strategy_assignments by customer_key (empty when the export has none).
    similar : item_similarities by product_id, ordered by method and rank.
    segment_profiles : segment_profiles rows, by segment_id.
    categories : ``{product_id: category}`` of the active products.
    context : the context model (cold-start lists and context lifts).
    list_length : the longest list in the build (var recommendation_list_length).
    row_counts : rows of every served mart.
    segment_model : the latest run's centroids and scaling (segment_centroids); None when the
        export has none (then live visitors keep their published segment).
    segment_features : the customers' raw features as of the build (customer_segment_features).
    product_facts : what live features need of each product (dim_products, product_groups).
    """

    export_dir: Path
    manifest_sha256: str
    generated_at: str
    model_versions: dict
    customer_keys: dict[str, str]
    recommendations: GroupedRows
    segments: GroupedRows
    predictions: GroupedRows
    strategies: GroupedRows
    similar: GroupedRows
    segment_profiles: list[dict]
    categories: dict[str, str]
    context: ContextModel
    list_length: int
    row_counts: dict[str, int]
    segment_model: CentroidModel | None
    segment_features: FeatureTable
    product_facts: dict[str, ProductFacts]


def load_build(export_dir: str | Path) -> ServingBuild:
    """Load the export in ``export_dir``; raises SegrecError when any served file does not
    match the manifest (a half-written or damaged export is never loaded)."""
    export_dir = Path(export_dir)
    manifest, fingerprint = read_manifest(export_dir)
    marts = {name: read_mart(export_dir, manifest, name) for name in SERVED_MARTS}
    listed = manifest.get("files") or {}
    marts |= {name: read_mart(export_dir, manifest, name) for name in OPTIONAL_MARTS if mart_file(name) in listed}
    assignments = marts.get("strategy_assignments", ASSIGNMENT_SCHEMA.empty_table())
    # the period as a date string: JSON-ready
    assignments = assignments.set_column(assignments.schema.get_field_index("period_start"), "period_start",
                                         pc.strftime(assignments["period_start"], format="%Y-%m-%d"))

    customers = marts["dim_customers"].filter(pc.invert(pc.is_null(marts["dim_customers"]["customer_id"])))
    products = marts["dim_products"].filter(pc.equal(marts["dim_products"]["is_active"], True))
    segments = marts["customer_segments"].filter(pc.equal(marts["customer_segments"]["is_latest_run"], True))
    recommendations = marts["customer_recommendations"]
    active = pd.Index(sorted(products["product_id"].to_pylist()))
    model, features, facts = _segment_parts(marts, marts["dim_products"])
    events = marts["fct_events"].select(["customer_key", "device_type", "daypart", "product_id", "event_type"])
    events = events.filter(pc.is_in(events["event_type"], pa.array([*PRODUCT_EVENT_TYPES, "purchase"])))
    return ServingBuild(
        export_dir=export_dir,
        manifest_sha256=fingerprint,
        generated_at=str(manifest.get("generated_at")),
        model_versions=dict(manifest.get("model_versions") or {}),
        customer_keys=dict(zip(customers["customer_id"].to_pylist(), customers["customer_key"].to_pylist(),
                               strict=True)),
        recommendations=group_rows(recommendations.select(["customer_key", "list_type", *ITEM_COLUMNS]),
                                   ["customer_key", "list_type"], ["rank"]),
        segments=group_rows(segments.select(["customer_key", *SEGMENT_COLUMNS]), ["customer_key"]),
        predictions=group_rows(marts["customer_predictions"].select(["customer_key", *PREDICTION_COLUMNS]),
                               ["customer_key"]),
        strategies=group_rows(assignments.select(["customer_key", *ASSIGNMENT_COLUMNS]), ["customer_key"]),
        similar=group_rows(marts["item_similarities"].select(["product_id", *SIMILAR_COLUMNS]),
                           ["product_id"], ["method", "rank"]),
        segment_profiles=sorted(marts["segment_profiles"].to_pylist(), key=lambda row: row["segment_id"]),
        categories=dict(zip(products["product_id"].to_pylist(), products["category"].to_pylist(), strict=True)),
        context=fit_context_model(events, active),
        list_length=int(pc.max(recommendations["rank"]).as_py() or 0),
        row_counts={name: table.num_rows for name, table in marts.items()},
        segment_model=model,
        segment_features=features,
        product_facts=facts,
    )


@dataclass(frozen=True)
class FeatureTable:
    """Raw features by customer_key as one float matrix (NaN: none), ``as_of`` their moment."""

    rows: dict[str, int]
    names: list[str]
    values: np.ndarray
    as_of: pd.Timestamp | None

    def features(self, customer_key: str | None) -> dict[str, float]:
        """The customer's features ({} for a customer without any)."""
        row = self.rows.get(customer_key) if customer_key is not None else None
        return {} if row is None else dict(zip(self.names, self.values[row].tolist(), strict=True))


def _segment_parts(marts: dict[str, pa.Table], products: pa.Table) -> tuple[
        CentroidModel | None, FeatureTable, dict[str, ProductFacts]]:
    """The centroid model, the customers' features and the product facts of a live visitor's
    segment; no model and no features when the export lacks them or the run recorded no scaling."""
    empty = FeatureTable({}, [], np.empty((0, 0)), None)
    if any(name not in marts for name in ("segment_centroids", "customer_segment_features", "product_groups")) \
            or marts["segment_centroids"].num_rows == 0:
        return None, empty, {}
    model = CentroidModel.from_rows(marts["segment_centroids"].to_pandas())
    long = marts["customer_segment_features"].to_pandas()
    wide = long.pivot(index="customer_key", columns="feature", values="feature_value")
    features = FeatureTable({key: i for i, key in enumerate(wide.index)}, list(wide.columns),
                            wide.to_numpy(dtype=np.float64), long["as_of_time"].max() if len(long) else None)
    groups = dict(zip(marts["product_groups"]["product_id"].to_pylist(),
                      marts["product_groups"]["group_feature"].to_pylist(), strict=True))
    launched = products["launched_at"].to_pandas()
    facts = {product: ProductFacts(band, None if pd.isna(at) else pd.Timestamp(at), groups.get(product))
             for product, band, at in zip(products["product_id"].to_pylist(), products["price_band"].to_pylist(),
                                          launched, strict=True)}
    return model, features, facts
