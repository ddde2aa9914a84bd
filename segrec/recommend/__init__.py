"""Recommenders: ALS, baselines, the hybrid, re-ranking, business rules and reasons.

Typical use (what the dbt Python models do)::

    data = prepare_data(interactions, products, customers, purchases)
    model = HybridRecommender(n=10, random_state=0).fit(data, events)
    recommendations = model.recommend()            # customer_recommendations
    similar = model.item_similarities("content")   # item_similarities
"""

from segrec.recommend.als import ALSRecommender
from segrec.recommend.data import RecData, prepare_data
from segrec.recommend.hybrid import OUTPUT_COLUMNS, ROW_STRATEGIES, STRATEGIES, HybridRecommender
from segrec.recommend.interactions import (
    InteractionMatrix,
    build_interaction_matrix,
    interactions_from_events,
    purchased_pairs,
)
from segrec.recommend.rerank import repeat_purchase_categories

__all__ = [
    "ALSRecommender",
    "HybridRecommender",
    "InteractionMatrix",
    "OUTPUT_COLUMNS",
    "ROW_STRATEGIES",
    "RecData",
    "STRATEGIES",
    "build_interaction_matrix",
    "interactions_from_events",
    "prepare_data",
    "purchased_pairs",
    "repeat_purchase_categories",
]
