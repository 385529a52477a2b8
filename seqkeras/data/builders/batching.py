"""Shared batching helpers of the dataset builders: shuffle, tokenize, bucket, prefetch."""

from __future__ import annotations

from typing import Callable, Sequence

import tensorflow as tf

DEFAULT_BUCKETS = (16, 32, 64, 128, 256)
TOKENIZE_BATCH = 1024


def shuffled(dataset: tf.data.Dataset, buffer_size: int | None, seed: int | None) -> tf.data.Dataset:
    """Shuffle with a fixed seed (same order every run, new order every epoch)."""
    if not buffer_size:
        return dataset
    return dataset.shuffle(buffer_size, seed=seed, reshuffle_each_iteration=True)


def map_in_batches(dataset: tf.data.Dataset, fn: Callable, batch_size: int = TOKENIZE_BATCH) -> tf.data.Dataset:
    """Apply a vectorized `fn` to batches of elements, then split them up again.

    Tokenizing 1024 strings in one op call is much faster than 1024 calls. Rows of
    ragged results come out as dense ``[None]`` tensors (what `padded_batch` needs).
    """
    return dataset.batch(batch_size).map(fn, num_parallel_calls=tf.data.AUTOTUNE).unbatch().map(_as_dense)


def _as_dense(*components):
    """Identity that turns unbatched ragged-rank-0 components into plain tensors."""
    dense = tf.nest.map_structure(tf.identity, components)
    return dense if len(components) > 1 else dense[0]


def bucketed_batches(dataset: tf.data.Dataset, length: Callable, batch_size: int,
                     bucket_boundaries: Sequence[int] | None, padded_shapes=None,
                     padding_values=None, drop_remainder: bool = False) -> tf.data.Dataset:
    """Pad elements into batches, grouping similar lengths when boundaries are given.

    Args:
        dataset: variable-length elements.
        length: element → scalar int length used for bucketing.
        batch_size: elements per batch (in every bucket).
        bucket_boundaries: increasing lengths; None or empty means plain padding.
        padded_shapes, padding_values: as in `tf.data.Dataset.padded_batch`
            (default: pad every dimension to the batch maximum, with zeros).
    """
    if not bucket_boundaries:
        batches = dataset.padded_batch(batch_size, padded_shapes, padding_values,
                                       drop_remainder=drop_remainder)
    else:
        batches = dataset.bucket_by_sequence_length(
            length, list(bucket_boundaries), [batch_size] * (len(bucket_boundaries) + 1),
            padded_shapes=padded_shapes, padding_values=padding_values, drop_remainder=drop_remainder)
    return batches.prefetch(tf.data.AUTOTUNE)


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
