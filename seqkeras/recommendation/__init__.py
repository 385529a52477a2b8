"""Session-based next-item recommendation (GRU4Rec-style), evaluated by full ranking.

``seqkeras run pipelines/ml100k_next_item.toml`` reads an interaction log and splits it
leave-last-out (`data`), trains a recurrent recommender with full or sampled losses
(`losses`), ranks every item for each user's held-out item beside the popularity,
Markov and item-kNN baselines (`evaluation`), and exports a SavedModel that takes
catalogue item ids (`server`).
"""

from seqkeras.recommendation.application import RecommendationApplication

__all__ = ["RecommendationApplication"]
