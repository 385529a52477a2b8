"""Classification batches: (token ids, label), padded and bucketed by length."""

from __future__ import annotations

from typing import Sequence

import tensorflow as tf

from seqkeras.data.builders.batching import batches_from_pools, label_ids, pool_size, shuffled
from seqkeras.data.tokenizers import Tokenizer


def classification_batches(pairs: tf.data.Dataset, tokenizer: Tokenizer, batch_size: int,
                           labels: Sequence[str] | None = None, max_length: int | None = None,
                           pool_batches: int | None = 32,
                           shuffle_buffer: int | None = None, seed: int | None = None,
                           cache: bool = False, length_weight: float = 0.0) -> tf.data.Dataset:
    """(text, label) pairs → padded ``(ids int64[B, T], label int32[B])`` batches, or
    ``(ids, label, weight float32[B])`` with `length_weight`.

    Args:
        pairs: ``(text string[], label)`` elements, e.g. from `labelled_text` or
            `tfds_source`. Labels are strings (mapped through `labels`, or parsed as
            integers when `labels` is None) or integers (kept).
        tokenizer: a tokenizer with a vocabulary (id 0 = padding).
        batch_size: examples per batch.
        labels: label strings in class-index order, e.g. ``["0", "1"]``.
        max_length: keep only the first `max_length` tokens of each text.
        pool_batches: bucket by length, sorting pools of this many batches (see
            `batching.bucketed_batches`); None pads batches in input order.
        shuffle_buffer: shuffle examples (before batching) with this buffer and `seed`.
        seed: seed of the example shuffle and of the batch order within pools.
        cache: cache the tokenized pools in memory after the first epoch (the
            example shuffle then happens once, before the cache).
        length_weight: p > 0 weights each example by (its token count)^p, scaled to
            mean 1 within each pool (Keras sample weights): with a corpus of phrases
            and sentences, training leans towards the longer, sentence-like examples.
    """
    def encode(texts, raw_labels):
        ids = tokenizer(texts)
        if max_length:
            ids = ids[:, :max_length]
        if not length_weight:
            return ids, label_ids(labels, raw_labels)
        weights = tf.pow(tf.maximum(tf.cast(ids.row_lengths(), tf.float32), 1.0), length_weight)
        return ids, label_ids(labels, raw_labels), weights / tf.reduce_mean(weights)

    pools = shuffled(pairs, shuffle_buffer, seed).batch(pool_size(batch_size, pool_batches))
    pools = pools.map(encode, num_parallel_calls=tf.data.AUTOTUNE)
    if cache:
        pools = pools.cache()
    return batches_from_pools(pools, batch_size, pool_batches, seed)
