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
    chunks = list(id_chunks(token_id_stream).as_numpy_iterator())
    return np.concatenate(chunks).astype(dtype, copy=False) if chunks else np.zeros([0], dtype)


def language_model_windows(token_id_stream: tf.data.Dataset | np.ndarray, batch_size: int,
                           bptt_length: int) -> tf.data.Dataset:
    """Cut a token stream into (inputs, targets) windows for truncated BPTT.

    Zaremba et al.'s batching: the N ids are split into `batch_size` contiguous
    parallel streams of n = N // B ids (the remainder is dropped); batch i holds
    steps ``[i·T, (i+1)·T)`` of every stream, so row b of batch i+1 continues row b
    of batch i and the recurrent state can be carried over. Targets are the inputs
    shifted by one step. There are ``(n - 1) // T`` batches, in order (never
    shuffle them).

    Memory: a dataset is streamed, never held. Building the windows makes one
    counting pass over it (keeping one integer per element of the stream, e.g.
    per batch of 1024 lines, to find where each stream starts); then every epoch
    runs B readers of the dataset side by side, reader b skipping to its own slice
    ``[b·n, (b+1)·n)`` (`Dataset.skip` still computes the skipped elements, so an
    epoch tokenizes about B/2 times the corpus; still far above what training
    consumes). Each reader holds about one element and one window. A 1-D array is
    already in memory and is sliced directly.

    Args:
        token_id_stream: ids as a dataset (scalars, ``int[n]`` lines or ragged
            batches, e.g. from `token_stream`) or a 1-D array. A dataset must give
            the same ids in the same order on every pass (no reshuffling).
        batch_size: B, the number of parallel streams.
        bptt_length: T, the steps per window.

    Returns:
        `tf.data.Dataset` of ``(inputs int32[B, T], targets int32[B, T])`` with a
        known cardinality.

    Example:
        >>> ds = language_model_windows(np.arange(10), batch_size=2, bptt_length=2)
        >>> [x.tolist() for x, _ in ds.as_numpy_iterator()]
        [[[0, 1], [5, 6]], [[2, 3], [7, 8]]]
    """
    if not isinstance(token_id_stream, tf.data.Dataset):
        return _windows_from_array(np.asarray(token_id_stream, np.int32), batch_size, bptt_length)
    chunks = id_chunks(token_id_stream)
    sizes = np.fromiter(chunks.map(lambda c: tf.size(c, out_type=tf.int64)).as_numpy_iterator(), np.int64)
    ends = np.cumsum(sizes)
    total = int(ends[-1]) if len(ends) else 0
    stream_length, num_batches = check_stream_length(total, batch_size, bptt_length)
    stream_starts = np.arange(batch_size, dtype=np.int64) * stream_length
    first_chunk = np.searchsorted(ends, stream_starts, side="right")
    offset = stream_starts - (ends - sizes)[first_chunk]

    def stream(b):
        """Windows ``int32[T + 1]`` of stream b: ids ``b·n + [i·T, i·T + T]``."""
        ids = chunks.skip(tf.gather(first_chunk, b)).enumerate().map(
            lambda i, c: c[tf.where(i == 0, tf.gather(offset, b), 0):])
        return _windows_of(ids, bptt_length).take(num_batches)

    windows = tf.data.Dataset.range(batch_size).interleave(
        stream, cycle_length=batch_size, block_length=1)
    batches = windows.batch(batch_size).map(lambda w: (w[:, :-1], w[:, 1:]))
    return batches.apply(tf.data.experimental.assert_cardinality(num_batches)).prefetch(tf.data.AUTOTUNE)


def check_stream_length(total: int, batch_size: int, bptt_length: int) -> tuple[int, int]:
    """(stream length n = N // B, number of windows (n − 1) // T); a ValueError when
    `total` ids N make no window."""
    stream_length = total // batch_size
    num_batches = (stream_length - 1) // bptt_length
    if num_batches < 1:
        raise ValueError(f"{total} tokens are too few for batch_size={batch_size} and "
                         f"bptt_length={bptt_length}: need at least {batch_size * (bptt_length + 1)}")
    return stream_length, num_batches


def _windows_from_array(ids: np.ndarray, batch_size: int, bptt_length: int) -> tf.data.Dataset:
    stream_length, num_batches = check_stream_length(len(ids), batch_size, bptt_length)
    streams = tf.constant(ids[: batch_size * stream_length].reshape(batch_size, stream_length))

    def window(i):
        start = i * bptt_length
        return streams[:, start:start + bptt_length], streams[:, start + 1:start + bptt_length + 1]

    return tf.data.Dataset.range(num_batches).map(window).prefetch(tf.data.AUTOTUNE)


def id_chunks(token_id_stream: tf.data.Dataset) -> tf.data.Dataset:
    """Any id dataset → ``int32[k]`` vectors of consecutive ids, in order."""
    def flat(ids):
        if isinstance(ids, tf.RaggedTensor):
            ids = ids.flat_values
        return tf.cast(tf.reshape(ids, [-1]), tf.int32)

    spec = token_id_stream.element_spec
    if not isinstance(spec, tf.RaggedTensorSpec) and spec.shape.rank == 0:
        token_id_stream = token_id_stream.batch(1 << 16)
    elif not isinstance(spec, tf.RaggedTensorSpec) and spec.shape.rank == 1:
        token_id_stream = token_id_stream.ragged_batch(1024)
    return token_id_stream.map(flat, num_parallel_calls=tf.data.AUTOTUNE)


def _windows_of(chunks: tf.data.Dataset, bptt_length: int) -> tf.data.Dataset:
    """Re-cut ``int32[k]`` chunks into overlapping windows ``int32[T + 1]`` (stride T).

    A scan carries the ids not yet in a complete window (fewer than T + 1 of them)
    from one chunk to the next, so memory is one chunk plus one window.
    """
    steps = tf.range(bptt_length + 1)

    def cut(carry, chunk):
        ids = tf.concat([carry, chunk], 0)
        count = tf.maximum((tf.size(ids) - 1) // bptt_length, 0)
        starts = tf.range(count) * bptt_length
        windows = tf.gather(ids, starts[:, tf.newaxis] + steps[tf.newaxis, :])
        return ids[count * bptt_length:], windows

    return chunks.scan(tf.zeros([0], tf.int32), cut).unbatch()
