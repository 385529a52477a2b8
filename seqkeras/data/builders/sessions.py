"""Session / user-history batches: item sequences with next-item targets."""

from __future__ import annotations

import tensorflow as tf

from seqkeras.data.builders.batching import bucketed_batches, shuffled


def leave_last_out(users: tf.data.Dataset) -> tuple[tf.data.Dataset, tf.data.Dataset, tf.data.Dataset]:
    """Split each user's chronological items: last → test, second-to-last → validation.

    Args:
        users: ``{"user", "items": int64[n], ...}`` elements (from `interaction_log`).

    Returns:
        ``(train, validation, test)``: train elements keep ``items[:-2]``;
        validation elements are ``{"user", "history": items[:-2], "target": items[-2]}``;
        test elements are ``{"user", "history": items[:-1], "target": items[-1]}``.
        Users with fewer than 3 items appear in train only.
    """
    enough = users.filter(lambda u: tf.size(u["items"]) >= 3)
    train = users.map(lambda u: {"user": u["user"], "items": tf.cond(
        tf.size(u["items"]) >= 3, lambda: u["items"][:-2], lambda: u["items"])})
    validation = enough.map(lambda u: {"user": u["user"], "history": u["items"][:-2], "target": u["items"][-2]})
    test = enough.map(lambda u: {"user": u["user"], "history": u["items"][:-1], "target": u["items"][-1]})
    return train, validation, test


def session_sequences(users: tf.data.Dataset, batch_size: int, max_length: int | None = None,
                      shuffle_buffer: int | None = None, seed: int | None = None) -> tf.data.Dataset:
    """Item histories → ``(inputs int64[B, T], targets int64[B, T])`` for next-item training.

    For items ``i1 … in``: inputs ``i1 … i(n-1)``, targets ``i2 … in`` (the next item
    at every step), keeping the last `max_length` steps. Sequences are left-aligned
    and padded with 0, so item ids must be ≥ 1 (MovieLens ids are) and ``inputs != 0``
    is the mask. Users with one item give no example.

    Args:
        users: elements with ``"items": int64[n]`` (e.g. `leave_last_out`'s train).
        batch_size: sequences per batch.
        max_length: keep the most recent steps only.
        shuffle_buffer, seed: seeded shuffling of users.
    """
    def pairs(user):
        items = tf.cast(user["items"], tf.int64)
        if max_length:
            items = items[-(max_length + 1):]
        return items[:-1], items[1:]

    examples = users.filter(lambda u: tf.size(u["items"]) >= 2).map(pairs, num_parallel_calls=tf.data.AUTOTUNE)
    examples = shuffled(examples, shuffle_buffer, seed)
    return bucketed_batches(examples, batch_size, pool_batches=None)
