"""Language-model batches: one token stream cut for truncated BPTT (Zaremba et al.)."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from seqkeras.data.tokenizers import Tokenizer


def token_stream(lines: tf.data.Dataset, tokenizer: Tokenizer, batch_size: int = 1024) -> tf.data.Dataset:
    """Lines → the corpus's ids in order, as ragged batches of lines.

    ``<eos>`` ends each line when the tokenizer has ``add_eos=True`` (newline →
    ``<eos>`` as in Mikolov's PTB). Reading ``.flat_values`` of consecutive
    elements gives the one token stream.

    Returns:
        `tf.data.Dataset` of ragged ``int64[lines ≤ batch_size, None]``.
    """
    return lines.batch(batch_size).map(tokenizer, num_parallel_calls=tf.data.AUTOTUNE)


def collect_ids(token_id_stream: tf.data.Dataset, dtype=np.int32) -> np.ndarray:
    """Concatenate a stream of ids (scalars, vectors or ragged batches) into one array."""
    def flat(ids):
        if isinstance(ids, tf.RaggedTensor):
            ids = ids.flat_values
        return tf.cast(tf.reshape(ids, [-1]), dtype)

    spec = token_id_stream.element_spec
    if not isinstance(spec, tf.RaggedTensorSpec) and spec.shape.rank == 0:
        token_id_stream = token_id_stream.batch(1 << 16)
    elif not isinstance(spec, tf.RaggedTensorSpec) and spec.shape.rank == 1:
        token_id_stream = token_id_stream.ragged_batch(1024)
    chunks = list(token_id_stream.map(flat, num_parallel_calls=tf.data.AUTOTUNE).as_numpy_iterator())
    return np.concatenate(chunks) if chunks else np.zeros([0], dtype)


def language_model_windows(token_id_stream: tf.data.Dataset | np.ndarray, batch_size: int,
                           bptt_length: int) -> tf.data.Dataset:
    """Cut a token stream into (inputs, targets) windows for truncated BPTT.

    Zaremba et al.'s batching: the N ids are split into `batch_size` contiguous
    parallel streams of n = N // B ids (the remainder is dropped); batch i holds
    steps ``[i·T, (i+1)·T)`` of every stream, so row b of batch i+1 continues row b
    of batch i and the recurrent state can be carried over. Targets are the inputs
    shifted by one step. There are ``(n - 1) // T`` batches, in order (never
    shuffle them).

    The ids are held in memory as int32 (4 bytes per token, not the text).

    Args:
        token_id_stream: ids as a dataset (scalars, ``int[n]`` lines or ragged
            batches, e.g. from `token_stream`) or a 1-D array.
        batch_size: B, the number of parallel streams.
        bptt_length: T, the steps per window.

    Returns:
        `tf.data.Dataset` of ``(inputs int32[B, T], targets int32[B, T])``.

    Example:
        >>> ds = language_model_windows(np.arange(10), batch_size=2, bptt_length=2)
        >>> [x.tolist() for x, _ in ds.as_numpy_iterator()]
        [[[0, 1], [5, 6]], [[2, 3], [7, 8]]]
    """
    ids = np.asarray(token_id_stream if isinstance(token_id_stream, np.ndarray)
                     else collect_ids(token_id_stream), np.int32)
    stream_length = len(ids) // batch_size
    num_batches = (stream_length - 1) // bptt_length
    if num_batches < 1:
        raise ValueError(f"{len(ids)} tokens are too few for batch_size={batch_size} and "
                         f"bptt_length={bptt_length}: need at least {batch_size * (bptt_length + 1)}")
    streams = tf.constant(ids[: batch_size * stream_length].reshape(batch_size, stream_length))

    def window(i):
        start = i * bptt_length
        return streams[:, start:start + bptt_length], streams[:, start + 1:start + bptt_length + 1]

    return tf.data.Dataset.range(num_batches).map(window).prefetch(tf.data.AUTOTUNE)
