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
        probs = tf.nn.softmax(sorted_logits, axis=-1)
        mass_before = tf.cumsum(probs, axis=-1, exclusive=True)
        keep = mass_before < p
        keep = tf.concat([tf.ones_like(keep[:, :1]), keep[:, 1:]], axis=-1)
        # The smallest kept logit of each row is the threshold.
        kept = tf.where(keep, sorted_logits, tf.constant(float("inf"), logits.dtype))
        threshold = tf.reduce_min(kept, axis=-1, keepdims=True)
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
        logits = top_k_filter(logits, self.top_k)
        logits = top_p_filter(logits, self.top_p)
        seed = tf.stack([tf.cast(self.seed, tf.int64), tf.cast(step, tf.int64)])
        return tf.random.stateless_categorical(logits, 1, seed=seed, dtype=tf.int32)[:, 0]
