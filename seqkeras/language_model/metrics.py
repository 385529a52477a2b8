"""Whole-stream language-model metrics: perplexity (word) and bits per character.

As in the literature (Mikolov; Zaremba et al.), the metric is computed over the whole
evaluation stream: total negative log-likelihood over total scored tokens,

    perplexity = exp(Σ NLL / N),    bits per character = Σ NLL / (N · ln 2),

not as a mean of per-batch perplexities. The state is carried across the windows of
the stream and reset before it.
"""

from __future__ import annotations

import math

import tensorflow as tf

from seqkeras.language_model.model import reset_states


def summarize(total_nll: float, count: int, level: str) -> dict[str, float]:
    """The metrics of `count` tokens with summed negative log-likelihood (nats)."""
    mean = total_nll / max(count, 1)
    out = {"nll": mean, "tokens": int(count)}
    if level == "word":
        out["perplexity"] = math.exp(min(mean, 50.0))
    else:
        out["bits_per_character"] = mean / math.log(2.0)
        out["perplexity"] = math.exp(min(mean, 50.0))
    return out


def stream_nll(model, windows) -> tuple[float, int]:
    """Σ NLL and the token count over consecutive (inputs, targets) windows, state carried."""
    @tf.function(reduce_retracing=True)
    def step(inputs, targets):
        logits = model(inputs, training=False)
        losses = tf.nn.sparse_softmax_cross_entropy_with_logits(tf.cast(targets, tf.int32), logits)
        return tf.reduce_sum(tf.cast(losses, tf.float64))

    reset_states(model)
    total, count = 0.0, 0
    for inputs, targets in windows:
        total += float(step(tf.constant(inputs), tf.constant(targets)))
        count += int(targets.size)
    reset_states(model)
    return total, count
