"""Segmentation on real purchases: the CDNOW cohort (23,570 customers, RFM only).

CDNOW's known shape: most of the cohort bought once or twice in early 1997 and never came
back, a minority kept buying. The pipeline must find that split, name it, explain it and
keep it stable when refitted on most of the same customers.
"""

import numpy as np
import pandas as pd
import pytest

from segrec.segmentation import (
    assign_to_nearest,
    explain_segments,
    fit_segmentation,
    match_clusters,
    name_segments,
    prepare_features,
    stability,
)

from .dbt_harness import datasets_dir

DATASETS = datasets_dir()
CDNOW = DATASETS / "cdnow_lifetimes" / "CDNOW_master.csv.gz"

pytestmark = [
    pytest.mark.real_data,
    pytest.mark.skipif(not CDNOW.exists(), reason=f"CDNOW data not found at {CDNOW} (set SEGREC_DATASETS)"),
]


@pytest.fixture(scope="module")
def rfm() -> pd.DataFrame:
    orders = pd.read_csv(CDNOW, dtype={"customer_id": str}, parse_dates=["order_date"])
    as_of = orders["order_date"].max()
    by_customer = orders.groupby("customer_id")
    features = pd.DataFrame(
        {
            "recency_days": (as_of - by_customer["order_date"].max()).dt.days,
            "frequency": by_customer.size(),
            "monetary": by_customer["dollar_value"].sum(),
            "tenure_days": (as_of - by_customer["order_date"].min()).dt.days,
        }
    )
    features["avg_order_value"] = features["monetary"] / features["frequency"]
    features.index.name = "customer_key"
    return features


def test_cdnow_splits_lapsed_one_off_buyers_from_repeat_buyers(rfm):
    X = prepare_features(rfm.reset_index())
    run = fit_segmentation(X, "kmeans", k_range=range(2, 5), sample_size=2000, random_state=0, n_init=2)
    assert run.params["n_clusters"] == 2
    assert run.metrics["silhouette"] > 0.3

    names = name_segments(rfm, run.labels)["segment_name"]
    lapsed = rfm["recency_days"].gt(365) & rfm["frequency"].eq(1)
    lapsed_cluster = pd.Series(run.labels[lapsed.to_numpy()]).mode()[0]
    assert np.mean(run.labels[lapsed.to_numpy()] == lapsed_cluster) > 0.99
    assert names[lapsed_cluster] == "Lapsed Customers"
    assert names[1 - lapsed_cluster] == "Loyal Champions"
    assert explain_segments(rfm, run.labels, max_depth=3).fidelity > 0.95

    # Refit on 90% of the customers: the groups keep their ids and members.
    kept = np.random.default_rng(1).random(len(X)) < 0.9
    refit = fit_segmentation(X[kept], "kmeans", 2, random_state=1, n_init=2)
    mapping = match_clusters(run.centroids, refit.centroids)
    relabelled = pd.Series(refit.labels, index=X.index[kept]).map(mapping)
    previous = pd.Series(run.labels, index=X.index)
    assert stability(previous, relabelled) > 0.9
    assert (relabelled == previous[kept]).mean() > 0.98
    # the customers left out are placed by nearest centroid, as between refits
    placed = assign_to_nearest(X[~kept], refit.centroids.rename(index=mapping))
    assert (placed == previous[~kept].to_numpy()).mean() > 0.98
