"""Segment names and descriptions from hand-built cluster profiles."""

import numpy as np
import pandas as pd
import pytest

from segrec.errors import SegrecError
from segrec.segmentation import name_segments, profile_segments

ARCHETYPE_COLUMNS = [
    "avg_order_value", "premium_share", "frequency", "monetary", "recency_days", "orders_per_month",
    "n_product_views", "conversion_rate", "promotion_redemption_rate", "budget_share",
    "new_arrival_share", "share_mobile", "share_desktop", "share_evening", "cat_share__gifts",
]  # fmt: skip
# One hand-built profile per archetype, in ARCHETYPE_COLUMNS order.
ARCHETYPE_PROFILES = {
    "Luxury Seekers": [400, 0.8, 1.5, 600, 60, 0.1, 20, 0.3, 0.05, 0.05, 0.2, 0.3, 0.7, 0.3, 0.1],
    "Price-Sensitive Bargain Hunters": [
        30,
        0.05,
        4,
        120,
        40,
        0.4,
        30,
        0.3,
        0.7,
        0.7,
        0.1,
        0.5,
        0.5,
        0.3,
        0.05,
    ],
    "Trend-Conscious Browsers": [60, 0.3, 1, 60, 30, 0.1, 200, 0.02, 0.1, 0.2, 0.7, 0.6, 0.4, 0.3, 0.05],
    "Frequent Replenishers": [35, 0.2, 20, 700, 10, 2.0, 40, 0.5, 0.1, 0.3, 0.1, 0.4, 0.6, 0.3, 0.02],
    "High-Value Recent Mobile Buyers": [
        150,
        0.4,
        8,
        1200,
        5,
        0.7,
        60,
        0.4,
        0.1,
        0.2,
        0.2,
        0.9,
        0.1,
        0.3,
        0.05,
    ],
    "Occasional Gift Shoppers": [70, 0.3, 1, 70, 50, 0.08, 15, 0.3, 0.1, 0.2, 0.1, 0.4, 0.6, 0.3, 0.8],
}


def customers(profiles: list[list[float]], columns: list[str], per_cluster: int = 10):
    """``per_cluster`` identical customers per profile; labels 0, 1, ... in profile order."""
    rows = [profile for profile in profiles for _ in range(per_cluster)]
    labels = np.repeat(np.arange(len(profiles)), per_cluster)
    return pd.DataFrame(rows, columns=columns), labels


def test_archetype_profiles_get_their_names():
    features, labels = customers(list(ARCHETYPE_PROFILES.values()), ARCHETYPE_COLUMNS)
    names = name_segments(features, labels)
    assert names["segment_name"].tolist() == list(ARCHETYPE_PROFILES)
    assert names["archetype"].tolist() == list(ARCHETYPE_PROFILES)
    assert (names["match_score"] >= 0.5).all()
    assert names.loc[0, "description"].startswith("Big-ticket buyers of premium items who order rarely: ")
    assert "average order value 400 vs 124" in names.loc[0, "description"]


def test_names_follow_profiles_not_cluster_numbers():
    order = [4, 2, 0, 5, 1, 3]
    expected = [list(ARCHETYPE_PROFILES)[i] for i in order]
    features, labels = customers([list(ARCHETYPE_PROFILES.values())[i] for i in order], ARCHETYPE_COLUMNS)
    assert name_segments(features, labels)["segment_name"].tolist() == expected


def test_an_archetype_needs_its_core_features():
    features, labels = customers(list(ARCHETYPE_PROFILES.values()), ARCHETYPE_COLUMNS)
    without_premium = [c for c in ARCHETYPE_COLUMNS if c != "premium_share"]
    names = name_segments(features, labels, columns=without_premium)["segment_name"]
    assert "Luxury Seekers" not in names.tolist()
    assert names.is_unique


FALLBACK_COLUMNS = ["recency_days", "monetary", "share_evening", "share_desktop", "share_mobile"]


def test_leftover_clusters_get_names_from_their_strongest_traits():
    features, labels = customers(
        [[30, 300, 0.8, 0.9, 0.1], [300, 10, 0.3, 0.5, 0.5], [30, 300, 0.3, 0.5, 0.3]], FALLBACK_COLUMNS
    )
    names = name_segments(features, labels)
    assert names["segment_name"].tolist() == [
        "Evening Desktop Shoppers",
        "Lapsed Low-Value Customers",
        "Recent High-Value Customers",
    ]
    assert names["archetype"].isna().all()
    assert names.loc[1, "description"] == (
        "Set apart by revenue 10 vs 203, days since last order 300 vs 120, mobile share 50% vs 30%."
    )


def test_identical_profiles_still_get_unique_names():
    profile = [30, 300, 0.8, 0.9, 0.1]
    features, labels = customers([profile, profile, profile, [300, 10, 0.3, 0.5, 0.5]], FALLBACK_COLUMNS)
    names = name_segments(features, labels)["segment_name"]
    # each clash adds the next strongest trait
    assert names.tolist() == [
        "Recent High-Value Customers",
        "Recent High-Value Evening Customers",
        "Recent High-Value Evening Desktop Customers",
        "Lapsed Low-Value Customers",
    ]


def test_average_clusters_and_noise():
    features, labels = customers([[1.0, 2.0], [1.0, 2.0], [1.0, 2.0]], ["monetary", "share_mobile"])
    labels[-10:] = -1
    names = name_segments(features, labels)
    assert names.loc[0, "segment_name"] == "Mainstream Customers"
    assert names.loc[1, "segment_name"] == "Mainstream Customers 2"
    assert names.loc[0, "description"] == "Close to the average on every feature."
    assert names.loc[-1, "segment_name"] == "Atypical Customers"


def test_fixed_names_are_kept_and_not_reused():
    features, labels = customers(list(ARCHETYPE_PROFILES.values()), ARCHETYPE_COLUMNS)
    names = name_segments(features, labels, fixed_names={1: "Luxury Seekers"})["segment_name"]
    assert names[1] == "Luxury Seekers"
    assert names[0] != "Luxury Seekers" and names.is_unique
    with pytest.raises(SegrecError, match="same name"):
        name_segments(features, labels, fixed_names={0: "A", 1: "A"})


def test_profile_segments_exact_means_and_z_scores():
    features = pd.DataFrame({"monetary": [10.0, 30.0, 50.0, 70.0], "note": list("abcd")})
    profile = profile_segments(features, [0, 0, 1, 1])
    assert profile.means["monetary"].tolist() == [20.0, 60.0]
    # population mean 40, population std sqrt(500)
    np.testing.assert_allclose(profile.z["monetary"], [-20 / np.sqrt(500), 20 / np.sqrt(500)])
    assert profile.size.tolist() == [2, 2]
    with pytest.raises(SegrecError, match="3 labels for 4"):
        profile_segments(features, [0, 0, 1])
