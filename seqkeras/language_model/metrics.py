"""Whole-stream language-model metrics: perplexity (word) and bits per character.

As in the literature (Mikolov; Zaremba et al.), the metric is computed over the whole
evaluation stream: total negative log-likelihood over total scored tokens,

    perplexity = exp(Σ NLL / N),    bits per character = Σ NLL / (N · ln 2),

not as a mean of per-batch perplexities. The state is carried across the windows of
the stream and reset before it. `nll_by_position` splits the same sum by the token's
position in its sentence.
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

from seqkeras.language_model.data import stream_windows
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


def _token_nll(model):
    """(inputs, targets) → per-token NLL float64 ``[B, T]``, the model's state carried."""
    @tf.function(reduce_retracing=True)
    def step(inputs, targets):
        logits = model(inputs, training=False)
        losses = tf.nn.sparse_softmax_cross_entropy_with_logits(tf.cast(targets, tf.int32), logits)
        return tf.cast(losses, tf.float64)
    return step


def stream_nll(model, windows) -> tuple[float, int]:
    """Σ NLL and the token count over consecutive (inputs, targets) windows, state carried."""
    step = _token_nll(model)
    reset_states(model)
    total, count = 0.0, 0
    for inputs, targets in windows:
        total += float(tf.reduce_sum(step(tf.constant(inputs), tf.constant(targets))))
        count += int(targets.size)
    reset_states(model)
    return total, count


# Sentence positions grouped for `nll_by_position`: the first position of each bucket.
POSITION_BUCKETS = (1, 2, 3, 4, 6, 9, 13, 21)


def sentence_positions(ids, eos_id: int) -> np.ndarray:
    """Every token's 1-based position in its sentence, int64 ``[N]``.

    A sentence ends with its ``<eos>``: the token after an ``<eos>`` (and the stream's
    first token) has position 1, and a sentence of L words gives its ``<eos>`` position
    L + 1 (predicting the end is a prediction too).
    """
    ids = np.asarray(ids)
    index = np.arange(len(ids))
    last_eos = np.maximum.accumulate(np.where(ids == eos_id, index, -1))   # at or before i
    before = np.concatenate([[-1], last_eos[:-1]])                         # strictly before i
    return index - before


def nll_by_position(model, ids, eos_id: int, batch_size: int, bptt_length: int,
                    buckets=POSITION_BUCKETS) -> dict[str, dict[str, float]]:
    """Mean cross-entropy of the whole stream grouped by the predicted token's position
    in its sentence (`sentence_positions`): the fixed-context shortcoming shows as loss
    that stops falling with the position.

    The stream is scored exactly as `stream_nll` scores it (`stream_windows` over
    `batch_size` parallel streams, the state carried, reset before), so the buckets'
    token-weighted mean is the whole-stream NLL.

    Args:
        model: a `LanguageModel` of any kind (stateful, batch `batch_size`).
        ids: the evaluation id stream int ``[N]`` with ``<eos>`` tokens (e.g.
            `LanguageModelData.validation_ids`).
        eos_id: the ``<eos>`` id (``tokenizer.vocabulary.eos_id``).
        batch_size, bptt_length: the windows (as in training).
        buckets: increasing first positions; bucket i holds positions
            ``buckets[i] … buckets[i+1] − 1``, the last one everything from its start.

    Returns:
        ``{label: {"nll", "tokens", "perplexity"}}`` in bucket order, labels like
        ``"1"``, ``"4-5"``, ``"21+"``; empty buckets are left out.

    Example:
        >>> nll_by_position(model, data.validation_ids, tokenizer.vocabulary.eos_id, 20, 35)["1"]  # doctest: +SKIP
        {'nll': 5.1, 'tokens': 3370, 'perplexity': 164.0}
    """
    ids = np.asarray(ids, np.int32)
    starts = np.asarray(buckets)
    if starts.ndim != 1 or not len(starts) or starts[0] < 1 or np.any(np.diff(starts) <= 0):
        raise ValueError(f"Argument `buckets` must be increasing first positions ≥ 1, received buckets={buckets!r}")
    step = _token_nll(model)
    reset_states(model)
    losses = [step(tf.constant(x), tf.constant(y)).numpy()
              for x, y in stream_windows(ids, batch_size, bptt_length)]
    reset_states(model)
    losses = np.concatenate(losses, axis=1)                                # [B, L − 1]
    length = len(ids) // batch_size
    positions = sentence_positions(ids, eos_id)[:batch_size * length].reshape(batch_size, length)[:, 1:]
    bucket = np.searchsorted(starts, positions.ravel(), side="right") - 1
    totals = np.bincount(bucket, weights=losses.ravel(), minlength=len(starts))
    counts = np.bincount(bucket, minlength=len(starts))
    out = {}
    for i, start in enumerate(starts):
        if not counts[i]:
            continue
        last = starts[i + 1] - 1 if i + 1 < len(starts) else None
        label = f"{start}+" if last is None else (f"{start}" if last == start else f"{start}-{last}")
        mean = float(totals[i] / counts[i])
        out[label] = {"nll": mean, "tokens": int(counts[i]), "perplexity": math.exp(min(mean, 50.0))}
    return out
