"""Sequence-to-sequence batches: source ids, target-in with <bos>, target-out with <eos>."""

from __future__ import annotations


import tensorflow as tf

from seqkeras.data.builders.batching import batches_from_pools, pool_size, shuffled
from seqkeras.data.tokenizers import Tokenizer


def seq2seq_batches(pairs: tf.data.Dataset, source_tokenizer: Tokenizer, target_tokenizer: Tokenizer,
                    batch_size: int, max_length: int | None = None,
                    pool_batches: int | None = 32,
                    shuffle_buffer: int | None = None, seed: int | None = None,
                    cache: bool = False) -> tf.data.Dataset:
    """(source, target) string pairs → teacher-forcing batches.

    For a target ``y1 … yn``: target-in is ``<bos> y1 … yn`` and target-out is
    ``y1 … yn <eos>`` (both n+1 long). The target tokenizer's vocabulary must
    reserve ``<bos>`` and ``<eos>``; its own add_bos/add_eos flags should be off.

    Args:
        pairs: ``(source string[], target string[])``, e.g. from `parallel_lines`.
        source_tokenizer, target_tokenizer: tokenizers with vocabularies.
        batch_size: pairs per batch.
        max_length: drop pairs whose source or target-in is longer.
        pool_batches: bucket by max(source, target) length within pools of this
            many batches (see `batching.bucketed_batches`); None keeps input order.

    Returns:
        `tf.data.Dataset` of ``((source int64[B, S], target_in int64[B, T]),
        target_out int64[B, T])``, padded with 0 — ready for ``model.fit``.
    """
    vocab = target_tokenizer.vocabulary
    if vocab is None or vocab.bos_id is None or vocab.eos_id is None:
        raise ValueError("the target tokenizer needs a vocabulary reserving '<bos>' and '<eos>'")
    bos, eos = vocab.bos_id, vocab.eos_id

    def encode(sources, targets):
        source_ids = source_tokenizer(sources)
        target_ids = target_tokenizer(targets)
        if max_length:
            keep = (source_ids.row_lengths() <= max_length) & (target_ids.row_lengths() < max_length)
            source_ids = tf.ragged.boolean_mask(source_ids, keep)
            target_ids = tf.ragged.boolean_mask(target_ids, keep)
        rows = target_ids.nrows()
        column = lambda v: tf.RaggedTensor.from_row_lengths(tf.fill([rows], tf.constant(v, tf.int64)),
                                                            tf.ones([rows], tf.int64))
        return source_ids, tf.concat([column(bos), target_ids], 1), tf.concat([target_ids, column(eos)], 1)

    pools = shuffled(pairs, shuffle_buffer, seed).batch(pool_size(batch_size, pool_batches))
    pools = pools.map(encode, num_parallel_calls=tf.data.AUTOTUNE)
    if cache:
        pools = pools.cache()
    batches = batches_from_pools(pools, batch_size, pool_batches, seed)
    return batches.map(lambda s, t_in, t_out: ((s, t_in), t_out))
