"""Shared batching helpers of the dataset builders: seeded shuffle, length-bucketed padding."""

from __future__ import annotations

from typing import Sequence

import tensorflow as tf


def shuffled(dataset: tf.data.Dataset, buffer_size: int | None, seed: int | None) -> tf.data.Dataset:
    """Shuffle with a fixed seed (same order every run, new order every epoch)."""
    if not buffer_size:
        return dataset
    return dataset.shuffle(buffer_size, seed=seed, reshuffle_each_iteration=True)


def pool_size(batch_size: int, pool_batches: int | None) -> int:
    """Elements per pool: `pool_batches` batches, or one batch when not bucketing."""
    return batch_size * (pool_batches or 1)


def batches_from_pools(pools: tf.data.Dataset, batch_size: int, pool_batches: int | None = 32,
                       seed: int | None = None) -> tf.data.Dataset:
    """Cut pools of examples into padded batches of similar lengths.

    Length bucketing by sorting within pools: each pool (`pool_size` examples,
    batched, sequences ragged) is sorted by length (the longest of an example's
    sequences), cut into batches, each padded to its own longest example, and the
    pool's batches are shuffled (seeded). Everything runs as batched ops: on this
    CPU `tf.data.Dataset.bucket_by_sequence_length`, which handles one example at a
    time, manages a few thousand examples/s. Padding is 0, or "" for strings.

    Args:
        pools: elements are batches of examples (ragged ``[P, None]`` sequences,
            ``[P]`` scalars), e.g. ``examples.ragged_batch(pool_size(...))`` or the
            output of a vectorized tokenizer map.
        batch_size: examples per batch.
        pool_batches: None when each pool is already one batch in input order (it
            is only padded).
        seed: seed of the within-pool batch shuffle.

    Returns:
        Dataset of padded batches with the pools' structure.
    """
    def split_pool(*pool):
        components = tf.nest.flatten(pool)
        lengths = tf.reduce_max(tf.stack([_row_lengths(c) for c in components]), axis=0)
        order = tf.argsort(lengths, stable=True)
        batch_of = tf.range(tf.size(order), dtype=tf.int64) // batch_size
        batched = [tf.RaggedTensor.from_value_rowids(tf.gather(c, order), batch_of) for c in components]
        return tf.data.Dataset.from_tensor_slices(tf.nest.pack_sequence_as(pool, batched))

    def pad(*batch):
        padded = tf.nest.map_structure(
            lambda c: c.to_tensor(_padding_value(c)) if isinstance(c, tf.RaggedTensor) else tf.identity(c), batch)
        return padded if len(batch) > 1 else padded[0]

    if pool_batches:
        pools = pools.flat_map(lambda *pool: split_pool(*pool).shuffle(pool_batches, seed=seed))
    return pools.map(pad, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


def bucketed_batches(dataset: tf.data.Dataset, batch_size: int, pool_batches: int | None = 32,
                     seed: int | None = None) -> tf.data.Dataset:
    """Pad single examples (scalars / ``[n]`` vectors) into length-bucketed batches.

    See `batches_from_pools`; builders that tokenize in batches pool directly.
    """
    return batches_from_pools(dataset.ragged_batch(pool_size(batch_size, pool_batches)),
                              batch_size, pool_batches, seed)


def _padding_value(component):
    return tf.constant("", tf.string) if component.dtype == tf.string else tf.constant(0, component.dtype)


def _row_lengths(component) -> tf.Tensor:
    if isinstance(component, tf.RaggedTensor):
        return tf.cast(component.row_lengths(), tf.int32)
    shape = tf.shape(component)
    return tf.fill(shape[:1], shape[1] if component.shape.rank > 1 else 1)


def label_ids(labels: Sequence[str] | None, values: tf.Tensor) -> tf.Tensor:
    """String labels → int32 index in `labels` (-1 if absent); integer labels kept."""
    if values.dtype != tf.string:
        return tf.cast(values, tf.int32)
    if labels is None:
        return tf.strings.to_number(values, tf.int32)
    table = tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(tf.constant(list(labels)), tf.range(len(labels), dtype=tf.int32)),
        default_value=-1)
    return table.lookup(values)
