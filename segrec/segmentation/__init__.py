"""Customer segmentation: the algorithms the dbt Python models call.

Flow of one run::

    X = prepare_features(customer_features)            # or the SQL feature matrix
    result = fit_segmentation(X, "kmeans", random_state=0)     # k by silhouette, metrics, model_version
    names = name_segments(customer_features, result.labels)
    rules = explain_segments(customer_features, result.labels, max_depth=3)
    confidence = assignment_confidence(X, result.centroids, result.labels)
    xy = project_2d(X, random_state=0)

Across runs: ``match_clusters`` + ``assign_segment_ids`` keep segment ids (and names, via
``name_segments(fixed_names=...)``) on the same groups; ``stability``, ``transition_counts``,
``assign_to_nearest`` and ``should_refit`` decide and record what changed.
"""

from segrec.segmentation.cluster import (
    DBSCANSegmenter,
    KMeansSegmenter,
    WardSegmenter,
    k_distances,
    kdistance_eps,
    knee_point,
)
from segrec.segmentation.explain import (
    SegmentRules,
    assignment_confidence,
    explain_segments,
    fit_projection,
    project_2d,
    tree_rules,
)
from segrec.segmentation.features import DEFAULT_LOG_COLUMNS, FeatureScaler, prepare_features, signed_log1p
from segrec.segmentation.fit import ALGORITHMS, SegmentationResult, fit_segmentation, model_version
from segrec.segmentation.metrics import NOISE, cluster_metrics, sample_indices
from segrec.segmentation.naming import (
    ARCHETYPES,
    Archetype,
    SegmentProfile,
    Trait,
    archetype_scores,
    name_segments,
    profile_segments,
)
from segrec.segmentation.select import KSelection, choose_k, select_k
from segrec.segmentation.tracking import (
    RefitDecision,
    assign_segment_ids,
    assign_to_nearest,
    match_clusters,
    should_refit,
    stability,
    transition_counts,
)

__all__ = [
    "ALGORITHMS",
    "ARCHETYPES",
    "DEFAULT_LOG_COLUMNS",
    "NOISE",
    "Archetype",
    "DBSCANSegmenter",
    "FeatureScaler",
    "KMeansSegmenter",
    "KSelection",
    "RefitDecision",
    "SegmentProfile",
    "SegmentRules",
    "SegmentationResult",
    "Trait",
    "WardSegmenter",
    "archetype_scores",
    "assign_segment_ids",
    "assign_to_nearest",
    "assignment_confidence",
    "choose_k",
    "cluster_metrics",
    "explain_segments",
    "fit_projection",
    "fit_segmentation",
    "k_distances",
    "kdistance_eps",
    "knee_point",
    "match_clusters",
    "model_version",
    "name_segments",
    "prepare_features",
    "profile_segments",
    "project_2d",
    "sample_indices",
    "select_k",
    "should_refit",
    "signed_log1p",
    "stability",
    "transition_counts",
    "tree_rules",
]
