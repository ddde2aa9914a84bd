"""Marketer-friendly segment names and one-line descriptions from cluster profiles.

A cluster's profile is the mean of each readable feature over its customers, compared with
the population as a z-score ``(cluster mean - population mean) / population std``. Each
archetype lists traits (feature, direction, weight); its match score for a cluster is the
weighted mean of the direction-signed z-scores (clipped to +-3 so one extreme feature cannot
carry a match). A cluster qualifies for an archetype only if every core trait is present and
points the right way by at least ``min_core_z``, and the score reaches ``min_score``.
Archetypes go to clusters one-to-one by the Hungarian algorithm on the scores; clusters left
over get a name composed from their strongest traits ("Evening Desktop Shoppers").
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment

from segrec.errors import SegrecError
from segrec.segmentation.features import numeric_columns
from segrec.segmentation.features import population_std as population_std_of
from segrec.segmentation.metrics import NOISE

CATEGORY_PREFIX = "cat_share__"
_Z_CLIP = 3.0


@dataclass(frozen=True)
class Trait:
    """``feature`` (a name or an ``fnmatch`` pattern such as ``cat_share__gift*``, where the
    strongest matching column counts) high (``direction=+1``) or low (``-1``)."""

    feature: str
    direction: int
    weight: float = 1.0
    core: bool = True


@dataclass(frozen=True)
class Archetype:
    name: str
    blurb: str
    traits: tuple[Trait, ...]


ARCHETYPES: tuple[Archetype, ...] = (
    Archetype(
        "Luxury Seekers",
        "Big-ticket buyers of premium items who order rarely",
        (Trait("avg_order_value", +1), Trait("premium_share", +1), Trait("frequency", -1, 0.5, core=False)),
    ),
    Archetype(
        "Price-Sensitive Bargain Hunters",
        "Respond to promotions and favour budget items",
        (
            Trait("promotion_redemption_rate", +1),
            Trait("budget_share", +1),
            Trait("premium_share", -1, 0.5, core=False),
            Trait("avg_order_value", -1, 0.5, core=False),
        ),
    ),
    Archetype(
        "Trend-Conscious Browsers",
        "Browse many products, new arrivals above all, but seldom buy",
        (
            Trait("n_product_views", +1),
            Trait("conversion_rate", -1),
            Trait("new_arrival_share", +1, core=False),
        ),
    ),
    Archetype(
        "Frequent Replenishers",
        "Order small baskets often",
        (
            Trait("orders_per_month", +1),
            Trait("frequency", +1, 0.5, core=False),
            Trait("avg_order_value", -1, 0.5, core=False),
        ),
    ),
    Archetype(
        "High-Value Recent Mobile Buyers",
        "Spend the most, bought lately and shop on their phones",
        (Trait("monetary", +1), Trait("recency_days", -1), Trait("share_mobile", +1)),
    ),
    Archetype(
        "Occasional Gift Shoppers",
        "Buy now and then, often gifts",
        (
            # what they buy defines them; how rarely is a secondary trait
            Trait("cat_share__gift*", +1, 1.5),
            Trait("frequency", -1, core=False),
            Trait("orders_per_month", -1, 0.5, core=False),
            # a lapsed one-off buyer is not an occasional shopper
            Trait("recency_days", -1, 0.5, core=False),
        ),
    ),
    Archetype(
        "Loyal Champions",
        "Buy often, spend a lot and came back recently",
        (Trait("frequency", +1), Trait("monetary", +1), Trait("recency_days", -1, 0.5, core=False)),
    ),
)

# Words for composed names: feature -> (word when high, word when low, slot). Slots order the
# words in a name (lifecycle, value, frequency, behaviour, time, device, category); one word per slot.
TRAIT_WORDS: dict[str, tuple[str | None, str | None, int]] = {
    "recency_days": ("Lapsed", "Recent", 0),
    "tenure_days": ("Long-Standing", "New", 0),
    "monetary": ("High-Value", "Low-Value", 1),
    "avg_order_value": ("Big-Basket", "Small-Basket", 1),
    "frequency": ("Frequent", "One-Off", 2),
    "orders_per_month": ("Frequent", "Infrequent", 2),
    "engagement_score": ("Engaged", "Disengaged", 3),
    "email_open_rate": ("Email-Responsive", None, 3),
    "email_click_rate": ("Email-Responsive", None, 3),
    "promotion_redemption_rate": ("Deal-Driven", None, 3),
    "premium_share": ("Premium", None, 3),
    "budget_share": ("Budget", None, 3),
    "new_arrival_share": ("Trend-Led", None, 3),
    "n_product_views": ("Heavy-Browsing", None, 3),
    "conversion_rate": ("Decisive", "Hesitant", 3),
    "share_morning": ("Morning", None, 4),
    "share_afternoon": ("Afternoon", None, 4),
    "share_evening": ("Evening", None, 4),
    "share_night": ("Late-Night", None, 4),
    "share_weekend": ("Weekend", None, 4),
    "share_mobile": ("Mobile", None, 5),
    "share_desktop": ("Desktop", None, 5),
    "share_tablet": ("Tablet", None, 5),
}
_CATEGORY_SLOT = 6
_CUSTOMER_SLOTS = {0, 1, 2}  # lifecycle, value, frequency words read as "... Customers"

FEATURE_LABELS: dict[str, str] = {
    "recency_days": "days since last order",
    "frequency": "orders",
    "monetary": "revenue",
    "avg_order_value": "average order value",
    "tenure_days": "days as customer",
    "orders_per_month": "orders per month",
    "n_sessions": "sessions",
    "n_page_views": "page views",
    "n_product_views": "product views",
    "n_add_to_carts": "add-to-carts",
    "conversion_rate": "conversion",
    "engagement_score": "engagement",
    "email_open_rate": "email opens",
    "email_click_rate": "email clicks",
    "promotion_redemption_rate": "promotion redemption",
    "premium_share": "premium share",
    "budget_share": "budget share",
    "new_arrival_share": "new-arrival share",
}
NOISE_NAME = "Atypical Customers"
AVERAGE_NAME = "Mainstream Customers"


@dataclass(frozen=True)
class SegmentProfile:
    """Per-cluster means of the readable features against the population."""

    means: pd.DataFrame  # cluster_id x feature
    z: pd.DataFrame  # cluster_id x feature, (mean - population mean) / population std
    population_mean: pd.Series
    population_std: pd.Series
    size: pd.Series  # customers per cluster_id


def profile_segments(
    features: pd.DataFrame, labels: Sequence[int] | np.ndarray, columns: Sequence[str] | None = None
) -> SegmentProfile:
    """Profile each cluster in ``labels`` (aligned with the rows of ``features``).

    Uses the numeric columns (or ``columns``); missing values are skipped in every mean. A
    feature that is constant in the population has z = 0 everywhere.
    """
    labels = np.asarray(labels)
    if len(labels) != len(features):
        raise SegrecError(f"profile_segments: {len(labels)} labels for {len(features)} feature rows")
    values = features[numeric_columns(features, columns, "customer features")].astype(np.float64)
    grouped = values.groupby(pd.Index(labels, name="cluster_id"))
    means = grouped.mean()
    population_mean = values.mean()
    population_std = population_std_of(values)
    z = ((means - population_mean) / population_std.where(population_std > 0)).fillna(0.0)
    return SegmentProfile(means, z, population_mean, population_std, grouped.size().rename("n_customers"))


def _signed_trait_z(z: pd.DataFrame, trait: Trait) -> pd.Series | None:
    """Per cluster, the z-score of the trait's feature times its direction (for a pattern, the
    matching column that fits the trait best); None when no column matches."""
    matching = [c for c in z.columns if fnmatch.fnmatchcase(c, trait.feature)]
    return (trait.direction * z[matching]).max(axis=1) if matching else None


def archetype_scores(
    z: pd.DataFrame, archetypes: Sequence[Archetype] = ARCHETYPES, min_core_z: float = 0.25
) -> pd.DataFrame:
    """Match score of every cluster (rows) for every archetype (columns); NaN = not eligible."""
    scores = pd.DataFrame(np.nan, index=z.index, columns=[a.name for a in archetypes])
    for archetype in archetypes:
        total = pd.Series(0.0, index=z.index)
        weight = 0.0
        eligible = pd.Series(True, index=z.index)
        for trait in archetype.traits:
            signed = _signed_trait_z(z, trait)
            if signed is None:
                if trait.core:
                    eligible[:] = False
                continue
            if trait.core:
                eligible &= signed >= min_core_z
            total += trait.weight * signed.clip(-_Z_CLIP, _Z_CLIP)
            weight += trait.weight
        if weight:
            scores[archetype.name] = (total / weight).where(eligible)
    return scores


def _feature_label(feature: str) -> str:
    if feature.startswith(CATEGORY_PREFIX):
        return f"{feature.removeprefix(CATEGORY_PREFIX).replace('_', ' ')} share"
    if feature.startswith("share_"):
        return f"{feature.removeprefix('share_')} share"
    return FEATURE_LABELS.get(feature, feature.replace("_", " "))


def _is_share(feature: str) -> bool:
    return feature.startswith(("share_", CATEGORY_PREFIX)) or feature.endswith(("_share", "_rate"))


def _format_value(feature: str, value: float) -> str:
    if _is_share(feature) or feature == "engagement_score":
        return f"{value:.0%}"
    return f"{value:.0f}" if abs(value) >= 10 else f"{value:.1f}"


def _trait_words(feature: str, z: float) -> tuple[str, int] | None:
    """The word (and slot) that names a high or low value of ``feature``, if there is one."""
    if feature.startswith(CATEGORY_PREFIX):
        word = feature.removeprefix(CATEGORY_PREFIX).replace("_", " ").title().replace(" ", "-")
        return (word, _CATEGORY_SLOT) if z > 0 else None
    if feature not in TRAIT_WORDS:
        return None
    high, low, slot = TRAIT_WORDS[feature]
    word = high if z > 0 else low
    return (word, slot) if word else None


def _composed_name(z: pd.Series, n_words: int, trait_z: float) -> str | None:
    """Name from the ``n_words`` strongest nameable traits (one per slot) with |z| >= trait_z."""
    chosen: dict[int, str] = {}
    for feature in z.abs().sort_values(ascending=False, kind="stable").index:
        if abs(z[feature]) < trait_z or len(chosen) == n_words:
            break
        words = _trait_words(feature, z[feature])
        if words and words[1] not in chosen and words[0] not in chosen.values():
            chosen[words[1]] = words[0]
    if not chosen:
        return None
    noun = "Customers" if _CUSTOMER_SLOTS & chosen.keys() else "Shoppers"
    return " ".join([chosen[slot] for slot in sorted(chosen)] + [noun])


def _unique_fallback(z: pd.Series, taken: set[str], max_words: int, trait_z: float) -> str:
    """Shortest composed name (from ``max_words`` words up) not yet taken; numbered if all are."""
    candidates = [_composed_name(z, n, trait_z) for n in range(max_words, max(max_words, len(z)) + 1)]
    for name in candidates:
        if name is not None and name not in taken:
            return name
    base = candidates[-1] or AVERAGE_NAME
    if base not in taken:
        return base
    number = 2
    while f"{base} {number}" in taken:
        number += 1
    return f"{base} {number}"


def _describe(profile: SegmentProfile, cluster: int, n_traits: int, trait_z: float) -> str:
    """Up to ``n_traits`` strongest features as 'label value vs population value'."""
    z = profile.z.loc[cluster]
    strongest = [f for f in z.abs().sort_values(ascending=False, kind="stable").index if abs(z[f]) >= trait_z]
    parts = [
        f"{_feature_label(f)} {_format_value(f, profile.means.at[cluster, f])} "
        f"vs {_format_value(f, profile.population_mean[f])}"
        for f in strongest[:n_traits]
    ]
    return ", ".join(parts)


def name_segments(
    features: pd.DataFrame,
    labels: Sequence[int] | np.ndarray,
    *,
    columns: Sequence[str] | None = None,
    archetypes: Sequence[Archetype] = ARCHETYPES,
    fixed_names: Mapping[int, str] | None = None,
    min_score: float = 0.5,
    min_core_z: float = 0.25,
    trait_z: float = 0.5,
    max_words: int = 2,
) -> pd.DataFrame:
    """A unique name and a one-line description for every cluster in ``labels``.

    ``features`` are the readable features (rows aligned with ``labels``); ``columns`` limits
    them (default: every numeric column, so leave out numeric ids and scores). ``fixed_names``
    keeps names from a previous run for matched clusters; those names and their archetypes
    are not given to any other cluster. Noise (-1) is named "Atypical Customers".
    Returns a frame indexed by ``cluster_id`` with ``segment_name``, ``description``,
    ``archetype`` (missing for composed names) and ``match_score`` (missing unless the
    archetype was matched in this call).
    """
    profile = profile_segments(features, labels, columns)
    fixed = dict(fixed_names or {})
    if len(set(fixed.values())) != len(fixed):
        raise SegrecError("name_segments: fixed_names gives the same name to two clusters")
    clusters = [c for c in profile.z.index if c != NOISE]
    free = [c for c in clusters if c not in fixed]
    open_archetypes = [a for a in archetypes if a.name not in fixed.values()]

    names: dict[int, str] = {c: fixed[c] for c in clusters if c in fixed}
    matched: dict[int, float] = {}  # cluster -> archetype match score
    if free and open_archetypes:
        scores = archetype_scores(profile.z.loc[free], open_archetypes, min_core_z)
        # Gain 0 for pairs below the bar, so the assignment only trades qualifying matches.
        gain = scores.where(scores >= min_score).fillna(0.0).to_numpy()
        for i, j in zip(*linear_sum_assignment(-gain), strict=True):
            if gain[i, j] > 0:
                matched[free[i]] = float(scores.iat[i, j])
                names[free[i]] = open_archetypes[j].name
    for cluster in free:
        if cluster not in matched:
            names[cluster] = _unique_fallback(profile.z.loc[cluster], set(names.values()), max_words, trait_z)
    if NOISE in profile.z.index:
        names[NOISE] = NOISE_NAME

    by_name = {a.name: a for a in archetypes}
    rows = []
    for cluster in profile.z.index:
        archetype = by_name.get(names[cluster])
        summary = _describe(profile, cluster, n_traits=3, trait_z=trait_z)
        if cluster == NOISE:
            description = "In no dense group (DBSCAN noise)" + (f": {summary}" if summary else "")
        elif archetype is not None:
            description = archetype.blurb + (f": {summary}" if summary else "")
        else:
            description = f"Set apart by {summary}" if summary else "Close to the average on every feature"
        rows.append(
            {
                "cluster_id": cluster,
                "segment_name": names[cluster],
                "description": f"{description}.",
                "archetype": archetype.name if archetype else None,
                "match_score": matched.get(cluster, float("nan")),
            }
        )
    return pd.DataFrame(rows).set_index("cluster_id")
