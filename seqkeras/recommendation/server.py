"""Serving a recommender: catalogue item ids in, the top-k next items out.

`RecommenderServer(model, data).export("saved_models", "ml100k_next_item")` writes a
SavedModel holding the id → index table, the recurrent model and the ranking; it loads
with `tf.saved_model.load` where seqkeras is not installed.

Signatures:

``serving_default`` (also ``recommend``)
    ``history`` int64[B, T]: the catalogue's own item ids, oldest first, 0 = padding
    (anywhere); ``k`` int32[] → ``items`` int64[B, k] (catalogue ids, best first) and
    ``scores`` float32[B, k] (logits).
``step``
    ``item`` int64[B], ``state`` float32[B, S], ``k`` int32[] → ``items``, ``scores``
    and the new ``state``. Stateless serving of a stateful model: TF Serving keeps no
    state between calls, so the client does — start from zeros (S is the input's
    width) and send back the state each call returned.

Decisions (the contract a client relies on):

* Items the user already has are not recommended (``serving_default``; ``step`` sees
  only one item and excludes that one). A history longer than the model's
  ``data.max_history`` is read on its last max_history items, as in training.
* An id the catalogue does not hold is skipped, like padding (the model never trained
  an embedding for it).
* A history without a known item (empty, all padding, all unknown) gets the training
  popularity ranking.
* ``step`` is the same recurrence one item at a time, with the state the client keeps:
  it reads every item it is sent (no max_history window: reset the state to zeros to
  start over), excludes only the item of the call, and a call with an unknown id or 0
  runs the model on the reserved unknown / padding embedding.
* When fewer than k items can be recommended, the missing entries are item 0 with
  score −inf; k ≤ 0 gives empty outputs.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from seqkeras.recommendation.data import PADDING, RESERVED, UNKNOWN, RecommendationData
from seqkeras.serving import Exporter, WarmupRequest

RECOMMEND_SIGNATURE = "recommend"
STEP_SIGNATURE = "step"
WARMUP_K = 10


class RecommenderServer(Exporter):
    """The serving module of a trained recommender (a `LanguageModel` over item indices).

    Args:
        model: the recommender (``int32[B, T] → float32[B, T, V]``, with `step`,
            `run_sequence`, `initial_states`, `state_sizes`).
        data: its `RecommendationData` (catalogue, popularity, a warm-up history).
    """

    def __init__(self, model, data: RecommendationData, name="recommender_server"):
        super().__init__(name=name)
        self.model = model
        self.max_history = int(data.max_history)
        catalogue = np.asarray(data.catalogue, np.int64)
        self.catalogue = tf.constant(np.concatenate([[PADDING, PADDING], catalogue]), tf.int64)
        self.index = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(tf.constant(catalogue), tf.range(RESERVED, len(catalogue) + RESERVED,
                                                                             dtype=tf.int64)), UNKNOWN)
        with np.errstate(divide="ignore"):
            popularity = np.log(np.asarray(data.popularity, np.float64))
        popularity[:RESERVED] = -np.inf
        self.popularity = tf.constant(popularity, tf.float32)
        self.state_sizes = list(model.state_sizes)
        self.warmup_history = catalogue[np.asarray(data.splits["validation"].histories[0]) - RESERVED][-self.max_history:]
        self.recommend = tf.function(self._recommend, input_signature=[
            tf.TensorSpec([None, None], tf.int64, name="history"), tf.TensorSpec([], tf.int32, name="k")])
        self.step = tf.function(self._step, input_signature=[
            tf.TensorSpec([None], tf.int64, name="item"),
            tf.TensorSpec([None, sum(self.state_sizes)], tf.float32, name="state"),
            tf.TensorSpec([], tf.int32, name="k")])

    def to_index(self, item_ids):
        """Catalogue ids → internal indices; 0 stays padding, unknown ids → UNKNOWN."""
        return tf.where(item_ids == 0, tf.constant(PADDING, tf.int64), self.index.lookup(item_ids))

    def _top_k(self, scores, exclude, k):
        """The k best catalogue items of scores float32[B, V], excluded indices bool[B, V] skipped."""
        scores = tf.where(exclude | (tf.range(tf.shape(scores)[1]) < RESERVED), -np.inf, scores)
        k = tf.clip_by_value(k, 0, tf.shape(scores)[1] - RESERVED)
        best, index = tf.math.top_k(scores, k)
        items = tf.where(tf.math.is_inf(best), tf.constant(0, tf.int64), tf.gather(self.catalogue, index))
        return {"items": items, "scores": best}

    def _recommend(self, history, k):
        ids = self.to_index(history)
        # Read the known items only (padding and unknown ids are skipped: an unknown id's
        # embedding was never trained), the last max_history of them: a stable sort moves
        # them, in order, to the right end of a window of at most max_history columns (one
        # more column of padding keeps it non-empty). Masked steps keep the state, so the
        # last column's output is the state after the last known item. Cost: O(T) to sort,
        # O(max_history) to run, whatever T a client sends.
        known = ids >= RESERVED
        order = tf.argsort(tf.cast(known, tf.int32), axis=1, stable=True)
        window = tf.gather(tf.where(known, ids, PADDING), order, batch_dims=1)
        window = tf.pad(window, [[0, 0], [1, 0]])[:, -self.max_history:]
        mask = window >= RESERVED
        outputs, _ = self.model.run_sequence(tf.cast(window, tf.int32), mask,
                                             self.model.initial_states(tf.shape(ids)[0]))
        scores = self.model.output_logits(outputs[:, -1])
        empty = ~tf.reduce_any(mask, axis=1)
        scores = tf.where(empty[:, None], self.popularity[None, :], scores)
        size = tf.shape(scores)[1]
        seen = tf.math.bincount(tf.cast(ids, tf.int32), minlength=size, maxlength=size, axis=-1) > 0
        return self._top_k(scores, seen, k)

    def _step(self, item, state, k):
        ids = self.to_index(item)
        states = tf.split(state, self.state_sizes, axis=1)
        scores, new_states = self.model.step(tf.cast(ids, tf.int32), states)
        seen = tf.one_hot(ids, tf.shape(scores)[1], on_value=True, off_value=False)
        return {**self._top_k(scores, seen, k), "state": tf.concat(new_states, axis=1)}

    def signatures(self):
        recommend = self.recommend.get_concrete_function()
        return {"serving_default": recommend, RECOMMEND_SIGNATURE: recommend,
                STEP_SIGNATURE: self.step.get_concrete_function()}

    def warmup_requests(self):
        history = np.zeros([2, len(self.warmup_history)], np.int64)
        history[0] = self.warmup_history                       # a real user; row 2 is empty (popularity)
        state = np.zeros([1, sum(self.state_sizes)], np.float32)
        return [WarmupRequest("serving_default", {"history": history, "k": np.int32(WARMUP_K)}),
                WarmupRequest(STEP_SIGNATURE, {"item": self.warmup_history[:1], "state": state,
                                               "k": np.int32(WARMUP_K)})]

    def check_outputs(self, outputs):
        """The warm-up recommendations: k catalogue items per row, finite scores, none from
        the history."""
        served = outputs["serving_default"]
        items, scores = served["items"], served["scores"]
        if items.shape != (2, WARMUP_K) or not np.isfinite(scores).all():
            raise RuntimeError(f"exported recommender returned {items.shape} items, scores {scores}")
        if set(items[0].tolist()) & set(self.warmup_history.tolist()):
            raise RuntimeError("exported recommender recommended items from the history")
