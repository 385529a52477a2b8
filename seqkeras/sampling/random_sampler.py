"""`RandomSampler`: temperature, top-k and nucleus (top-p) sampling with a seed."""

import tensorflow as tf

from seqkeras.sampling.sampler import Sampler


def top_k_filter(logits, k):
    """Keep the `k` largest logits of each row, set the rest to -inf; k ≤ 0 keeps all.

    Args:
        logits: float [B, V].
        k: int scalar (tensor or Python); clamped to V.
    """
    vocab = tf.shape(logits)[-1]
    k = tf.cast(k, tf.int32)

    def filtered():
        kth = tf.math.top_k(logits, tf.minimum(k, vocab), sorted=True).values[:, -1:]
        return tf.where(logits < kth, tf.constant(-float("inf"), logits.dtype), logits)

    return tf.cond(tf.logical_and(k > 0, k < vocab), filtered, lambda: logits)


def _nucleus_of_sorted(sorted_logits, p):
    """Top-p filter of logits already sorted in descending order along the last axis."""
    probs = tf.nn.softmax(sorted_logits, axis=-1)
    mass_before = tf.cumsum(probs, axis=-1, exclusive=True)
    keep = mass_before < p
    keep = tf.concat([tf.ones_like(keep[:, :1]), keep[:, 1:]], axis=-1)
    return tf.where(keep, sorted_logits, tf.constant(-float("inf"), sorted_logits.dtype))


def top_p_filter(logits, p):
    """Nucleus filter: keep the smallest set of most probable tokens whose mass ≥ p.

    The most probable token is always kept (so p ≤ 0 means greedy-like); p ≥ 1 keeps
    everything (and skips the sort).

    Args:
        logits: float [B, V].
        p: float scalar.
    """
    p = tf.cast(p, logits.dtype)

    def filtered():
        sorted_logits = tf.sort(logits, axis=-1, direction="DESCENDING")
        kept = _nucleus_of_sorted(sorted_logits, p)
        # The smallest kept logit of each row is the threshold.
        threshold = tf.reduce_min(tf.where(tf.math.is_inf(kept), tf.constant(float("inf"), logits.dtype),
                                           kept), axis=-1, keepdims=True)
        return tf.where(logits < threshold, tf.constant(-float("inf"), logits.dtype), logits)

    return tf.cond(p < 1.0, filtered, lambda: logits)


class RandomSampler(Sampler):
    """Sample from ``softmax(logits / temperature)`` after top-k and top-p filtering.

    Sampling is stateless and seeded: step t draws with
    ``tf.random.stateless_categorical(..., seed=[seed, t])``, so the same seed gives
    the same tokens in every process (and in TF Serving).

    Args:
        temperature: float > 0 (tensor or Python number). Use `GreedySampler` for 0.
        top_k: keep the k most probable tokens; ≤ 0 means no top-k.
        top_p: nucleus mass; ≥ 1 means no nucleus filter.
        seed: int seed.

    Example:
        >>> sampler = RandomSampler(temperature=0.8, top_k=40, top_p=0.95, seed=7)
        >>> tokens, lengths = sampler(step_fn, logits, states, 100, end_id=eos)
    """

    def __init__(self, temperature=1.0, top_k=0, top_p=1.0, seed=0):
        self.temperature = temperature
        self.top_k = top_k
        self.top_p = top_p
        self.seed = seed

    def get_next_token(self, logits, step):
        logits = logits / tf.cast(self.temperature, logits.dtype)
        seed = tf.stack([tf.cast(self.seed, tf.int64), tf.cast(step, tf.int64)])
        vocab = tf.shape(logits)[-1]
        k = tf.cast(self.top_k, tf.int32)
        p = tf.cast(self.top_p, logits.dtype)

        def among_top_k():
            # Only the k best can be drawn: sort k values, not V, and apply the
            # nucleus inside them (the same distribution as filtering all V).
            values, indices = tf.math.top_k(logits, k, sorted=True)
            values = tf.cond(p < 1.0, lambda: _nucleus_of_sorted(values, p), lambda: values)
            choice = tf.random.stateless_categorical(values, 1, seed=seed, dtype=tf.int32)[:, 0]
            return tf.gather(indices, choice, batch_dims=1)

        def among_all():
            filtered = top_p_filter(logits, p)
            return tf.random.stateless_categorical(filtered, 1, seed=seed, dtype=tf.int32)[:, 0]

        return tf.cond(tf.logical_and(k > 0, k < vocab), among_top_k, among_all)
