"""Next-item losses with sampled negatives: GRU4Rec's sampled softmax and BPR-max.

The recommender outputs logits over the whole catalogue at every step, y_pred
``[B, T, V]``; the targets y_true ``[B, T]`` hold the next item (0 = padding, 1 =
unknown, catalogue items 2..V-1). The default loss is the full softmax
(``make_loss("softmax")``). The two alternatives of Hidasi & Karatzoglou (2018),
"Recurrent Neural Networks with Top-k Gains for Session-based Recommendations",
score the target against ``negatives`` items drawn once per batch from
popularity^α and shared by every row and step, as GRU4Rec's additional samples are.
Since V is small the full logits are formed anyway: only which columns enter the
loss changes.

Both losses return per-position values with padding zeroed and marked in the Keras
mask, exactly like ``SparseCategoricalCrossentropy(ignore_class=0)``: the default
reduction is then the mean over non-padding positions (0 for a batch without any),
and sample weights work the same way.
"""

from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf
from keras.src.backend import set_keras_mask  # what SparseCategoricalCrossentropy(ignore_class=...) uses

from seqkeras.recommendation.spec import LOSSES


# Logit of an excluded candidate (accidental hit). Finite so that no inf − inf can
# reach a value or a gradient; exp(−1e9 − max) is exactly 0 in float32, so it acts
# as −inf.
_EXCLUDED = -1e9


def sampling_probabilities(popularity, alpha=0.75):
    """The negative-sampling distribution q over item indices.

    q(j) = pop_j^α / Σ_k pop_k^α over the catalogue items j ≥ 2 with pop_j > 0;
    q(j) = 0 for the reserved indices 0 (padding) and 1 (unknown) and for items never
    seen in training (so α = 0 is uniform over the seen items).

    Args:
        popularity: float ``[V]`` training counts.
        alpha: the exponent α ≥ 0 (GRU4Rec: 0.75; 1 = popularity, 0 = uniform).

    Returns:
        float64 ``[V]`` summing to 1.

    >>> sampling_probabilities([0, 0, 1, 3], alpha=1.0).tolist()
    [0.0, 0.0, 0.25, 0.75]
    """
    popularity = np.asarray(popularity, dtype=np.float64)
    support = np.arange(popularity.shape[0]) >= 2
    support &= popularity > 0
    weights = np.where(support, np.power(np.where(support, popularity, 1.0), alpha), 0.0)
    return weights / weights.sum()


class _SampledNegativesLoss(keras.losses.Loss):
    """Shared part of the sampled losses: validation, the sampler, flattening, padding.

    A subclass supplies one hook, `position_losses`, that scores each position from
    its target's logit and the sampled negatives' logits.
    """

    def __init__(self, popularity, negatives=128, alpha=0.75, seed=None, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        popularity = np.asarray(popularity, dtype=np.float64)
        if popularity.ndim != 1 or popularity.shape[0] < 3:
            raise ValueError("Argument `popularity` must be a 1-D sequence of V ≥ 3 counts (indices 0 and 1 "
                             f"reserved), received shape {popularity.shape}")
        if not np.all(np.isfinite(popularity)) or np.any(popularity < 0):
            raise ValueError("Argument `popularity` must hold finite counts ≥ 0, received min="
                             f"{np.nanmin(popularity)!r}, max={np.nanmax(popularity)!r}")
        if not np.any(popularity[2:] > 0):
            raise ValueError("Argument `popularity` has no positive count at indices ≥ 2: there is no item "
                             "to sample negatives from")
        if isinstance(negatives, bool) or int(negatives) != negatives or negatives < 1:
            raise ValueError(f"Argument `negatives` must be a positive integer, received negatives={negatives!r}")
        alpha = float(alpha)
        if not (math.isfinite(alpha) and alpha >= 0):
            raise ValueError(f"Argument `alpha` must be a finite number ≥ 0, received alpha={alpha!r}")
        self.popularity = popularity
        self.negatives = int(negatives)
        self.alpha = alpha
        self.seed = seed
        self.probabilities = sampling_probabilities(popularity, alpha)
        with np.errstate(divide="ignore"):
            self._sampling_logits = np.log(self.probabilities).astype(np.float32)  # −inf off the support
        self.seed_generator = keras.random.SeedGenerator(seed)

    @property
    def vocabulary_size(self) -> int:
        return int(self.popularity.shape[0])

    def sample_negatives(self, n=None):
        """Draws ``n`` (default `negatives`) item indices from q, with replacement.

        Returns:
            int32 ``[n]``, every index ≥ 2 with positive popularity.
        """
        n = self.negatives if n is None else int(n)
        logits = tf.constant(self._sampling_logits)[None, :]
        return tf.cast(keras.random.categorical(logits, n, seed=self.seed_generator)[0], tf.int32)

    def call(self, y_true, y_pred):
        losses, valid = self.loss_given_negatives(y_true, y_pred, self.sample_negatives())
        set_keras_mask(losses, mask=valid)
        return losses

    def loss_given_negatives(self, y_true, y_pred, negatives):
        """Per-position losses for the given negatives (the deterministic part of `call`).

        Args:
            y_true: int ``[...]`` (or ``[..., 1]``) next items, 0 = padding.
            y_pred: float ``[..., V]`` logits (bfloat16 is cast to float32).
            negatives: int ``[n]`` item indices, shared by all positions.

        Returns:
            ``(losses, valid)``: float32 ``[...]`` with 0 at padding, and bool ``[...]``,
            ``y_true != 0``.
        """
        y_pred = tf.cast(y_pred, tf.float32)
        if y_pred.shape[-1] is not None and y_pred.shape[-1] != self.vocabulary_size:
            raise ValueError(f"{type(self).__name__} was built for V={self.vocabulary_size} items "
                             f"(len(popularity)) but y_pred has {y_pred.shape[-1]} logits per position")
        y_true = tf.cast(y_true, tf.int32)
        if y_true.shape.rank == y_pred.shape.rank and y_true.shape[-1] == 1:
            y_true = tf.squeeze(y_true, axis=-1)
        positions = tf.shape(y_true)
        targets = tf.reshape(y_true, [-1])  # [N]
        logits = tf.reshape(y_pred, [-1, self.vocabulary_size])  # [N, V]
        negatives = tf.cast(negatives, tf.int32)

        valid = tf.not_equal(targets, 0)
        target_logits = tf.gather(logits, targets[:, None], batch_dims=1)[:, 0]  # [N]
        negative_logits = tf.gather(logits, negatives, axis=1)  # [N, n]
        # Padding rows get zero scores, so whatever the model put there cannot turn
        # into a NaN that the mask below would not stop in the backward pass.
        target_logits = tf.where(valid, target_logits, 0.0)
        negative_logits = tf.where(valid[:, None], negative_logits, 0.0)
        hits = tf.equal(targets[:, None], negatives[None, :])  # accidental hits [N, n]

        losses = self.position_losses(targets, negatives, target_logits, negative_logits, hits)
        losses = tf.where(valid, losses, 0.0)
        return tf.reshape(losses, positions), tf.reshape(valid, positions)

    def position_losses(self, targets, negatives, target_logits, negative_logits, hits):
        """The hook: float32 ``[N]`` losses from targets ``[N]``, negatives ``[n]``,
        target logits ``[N]``, negative logits ``[N, n]`` and accidental hits ``[N, n]``."""
        raise NotImplementedError

    def get_config(self):
        config = super().get_config()
        config.update({"popularity": self.popularity.tolist(), "negatives": self.negatives,
                       "alpha": self.alpha, "seed": self.seed})
        return config


@keras.saving.register_keras_serializable(package="seqkeras")
class SampledSoftmaxLoss(_SampledNegativesLoss):
    """Softmax cross-entropy over the target and ``negatives`` sampled items.

    Per position with target y and negatives j_1..j_n drawn i.i.d. from q (see
    `sampling_probabilities`), the candidates are c_0 = y, c_k = j_k, with logits

        o_k = z[c_k] − log Q(c_k)      (log_q=True; o_k = z[c_k] otherwise)
        Q(c) = n · q(c)                the expected count of c among the n draws
        o_k = −∞ where c_k = y, k ≥ 1  (accidental hit: the target is not a negative)

        loss = −o_0 + log Σ_{k=0..n} exp(o_k)

    The log-Q correction makes the sampled softmax a consistent estimate of the full
    softmax (Bengio & Senécal 2008, "Adaptive Importance Sampling to Accelerate
    Training of a Neural Probabilistic Language Model"; Yi et al. 2019,
    "Sampling-Bias-Corrected Neural Modeling for Large Corpus Item
    Recommendations"): without it, popular items, sampled often, are over-penalised.
    A target outside the sampler's support (index 1, or an item unseen in training)
    gets the smallest Q of the support, so its correction stays finite.

    Args:
        popularity: float ``[V]`` training counts (0 at indices 0 and 1).
        negatives: n, negatives drawn per batch, shared by all positions.
        alpha: sampling exponent: q ∝ popularity^α over indices ≥ 2.
        log_q: subtract log Q from every candidate's logit.
        seed: seed of the sampler (None: a random one).

    Call args:
        y_true: int ``[B, T]``, 0 = padding; y_pred: float ``[B, T, V]`` logits.

    Example:
        >>> loss = SampledSoftmaxLoss([0, 0, 5, 3, 1], negatives=4, seed=0)
        >>> float(loss([[2, 3, 0]], np.zeros([1, 3, 5], "float32"))) > 0
        True
    """

    def __init__(self, popularity, negatives=128, alpha=0.75, log_q=True, seed=None, name="sampled_softmax",
                 **kwargs):
        super().__init__(popularity, negatives=negatives, alpha=alpha, seed=seed, name=name, **kwargs)
        self.log_q = bool(log_q)
        expected_counts = self.negatives * self.probabilities
        floor = expected_counts[expected_counts > 0].min()
        self._log_expected_counts = np.log(np.maximum(expected_counts, floor)).astype(np.float32)

    def position_losses(self, targets, negatives, target_logits, negative_logits, hits):
        if self.log_q:
            log_q = tf.constant(self._log_expected_counts)
            target_logits = target_logits - tf.gather(log_q, targets)
            negative_logits = negative_logits - tf.gather(log_q, negatives)[None, :]
        negative_logits = tf.where(hits, _EXCLUDED, negative_logits)
        candidates = tf.concat([target_logits[:, None], negative_logits], axis=1)  # [N, 1 + n]
        return tf.reduce_logsumexp(candidates, axis=1) - target_logits

    def get_config(self):
        config = super().get_config()
        config.update({"log_q": self.log_q})
        return config


@keras.saving.register_keras_serializable(package="seqkeras")
class BPRMaxLoss(_SampledNegativesLoss):
    """BPR-max (Hidasi & Karatzoglou 2018, eq. 6 with score regularization).

    Per position with target score r_i and sampled negatives' scores r_j:

        s_j  = exp(r_j) / Σ_k exp(r_k)      softmax over the negatives (accidental hits
                                            j = target excluded)
        loss = −log Σ_j s_j σ(r_i − r_j) + λ Σ_j s_j r_j²

    computed as −logsumexp_j(log s_j + log σ(r_i − r_j)), so no probability is formed
    before the log. The softmax weights make the loss focus on the negatives that
    score highest, which is what keeps BPR's gradient alive with many negatives. A
    position whose every negative is an accidental hit contributes 0.

    Args:
        popularity: float ``[V]`` training counts (0 at indices 0 and 1).
        negatives: negatives drawn per batch, shared by all positions.
        alpha: sampling exponent: q ∝ popularity^α over indices ≥ 2.
        regularization: λ ≥ 0, weight of the softmax-weighted squared negative scores.
        seed: seed of the sampler (None: a random one).

    Call args:
        y_true: int ``[B, T]``, 0 = padding; y_pred: float ``[B, T, V]`` logits.

    Example:
        >>> loss = BPRMaxLoss([0, 0, 5, 3, 1, 2, 4], negatives=16, seed=0)
        >>> round(float(loss([[2, 3, 0]], np.zeros([1, 3, 7], "float32"))), 4)  # −log σ(0)
        0.6931
    """

    def __init__(self, popularity, negatives=128, alpha=0.75, regularization=1.0, seed=None, name="bpr_max",
                 **kwargs):
        super().__init__(popularity, negatives=negatives, alpha=alpha, seed=seed, name=name, **kwargs)
        regularization = float(regularization)
        if not (math.isfinite(regularization) and regularization >= 0):
            raise ValueError("Argument `regularization` must be a finite number ≥ 0, received "
                             f"regularization={regularization!r}")
        self.regularization = regularization

    def position_losses(self, targets, negatives, target_logits, negative_logits, hits):
        log_weights = tf.nn.log_softmax(tf.where(hits, _EXCLUDED, negative_logits), axis=1)  # log s_j
        weights = tf.exp(log_weights)
        log_sigmoid = -tf.nn.softplus(negative_logits - target_logits[:, None])  # log σ(r_i − r_j)
        ranking = -tf.reduce_logsumexp(log_weights + log_sigmoid, axis=1)
        penalty = tf.reduce_sum(weights * tf.square(negative_logits), axis=1)
        losses = ranking + self.regularization * penalty
        return tf.where(tf.reduce_all(hits, axis=1), 0.0, losses)

    def get_config(self):
        config = super().get_config()
        config.update({"regularization": self.regularization})
        return config


def make_loss(kind, popularity=None, negatives=128, alpha=0.75, regularization=1.0, seed=None):
    """The next-item loss named ``kind``, one of `LOSSES`.

    ``"softmax"`` is the full softmax cross-entropy over all V items (padding 0
    ignored) and needs no popularity; the sampled losses need the training counts.

    Args:
        kind: ``"softmax"``, ``"sampled_softmax"`` or ``"bpr_max"``.
        popularity: float ``[V]`` training counts (sampled losses only).
        negatives, alpha, seed: the sampler (sampled losses only).
        regularization: BPR-max's λ.

    >>> make_loss("softmax").name
    'sparse_categorical_crossentropy'
    """
    if kind not in LOSSES:
        raise ValueError(f"Argument `kind` must be one of {list(LOSSES)}, received kind={kind!r}")
    if kind == "softmax":
        return keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=0)
    if popularity is None:
        raise ValueError(f"kind={kind!r} samples negatives by popularity: pass `popularity`, the [V] training "
                         "counts of the items")
    if kind == "sampled_softmax":
        return SampledSoftmaxLoss(popularity, negatives=negatives, alpha=alpha, seed=seed)
    return BPRMaxLoss(popularity, negatives=negatives, alpha=alpha, regularization=regularization, seed=seed)


@keras.saving.register_keras_serializable(package="seqkeras")
class NextItemCrossEntropy(keras.metrics.Metric):
    """Full-softmax cross-entropy of the next item, averaged over non-padding positions.

    The same number whichever loss trains the model, so it compares trials that tune
    ``model.loss`` (each trial's own ``val_loss`` is its own loss: a sampled loss is not
    on the scale of the full cross-entropy, nor deterministic).

    Update args: y_true int[B, T] (0 = padding), y_pred logits float[B, T, V].
    """

    def __init__(self, name="cross_entropy", **kwargs):
        super().__init__(name=name, **kwargs)
        self.total = self.add_variable(shape=(), initializer="zeros", name="total")
        self.count = self.add_variable(shape=(), initializer="zeros", name="count")

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = tf.cast(y_true, tf.int32)
        valid = tf.cast(y_true != 0, tf.float32)
        losses = tf.nn.sparse_softmax_cross_entropy_with_logits(y_true, tf.cast(y_pred, tf.float32))
        self.total.assign_add(tf.reduce_sum(losses * valid))
        self.count.assign_add(tf.reduce_sum(valid))

    def result(self):
        return tf.math.divide_no_nan(self.total, self.count)

    def reset_state(self):
        self.total.assign(0.0)
        self.count.assign(0.0)
