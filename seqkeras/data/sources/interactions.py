"""Interaction-log source: per-user chronological item sequences from a user/item/time log."""

from __future__ import annotations

import collections

import numpy as np
import tensorflow as tf

from seqkeras.data import validation
from seqkeras.data.errors import DataError
from seqkeras.data.paths import expand_paths
from seqkeras.data.sources.common import PARSE_CHUNK, PathLike, csv_rows, line_dataset


def interaction_log(path: PathLike, user_column: int = 0, item_column: int = 1,
                    time_column: int = 3, delimiter: str = "\t", header: bool = False,
                    encoding_errors: str = "replace", max_events_in_memory: int = 1 << 22) -> tf.data.Dataset:
    """Per-user chronological item sequences from a ``user item … time`` log.

    MovieLens ``u.data`` (``user<TAB>item<TAB>rating<TAB>unix_time``) is the default
    layout. Users come out in increasing id order; within a user, items are sorted
    by time (ties keep file order).

    Memory: a user's sequence is complete only at the end of an unsorted log, so
    grouping must hold events. It is bounded: the checking pass counts the events
    of each user (memory proportional to the number of users), then the users are
    cut into ranges of consecutive ids holding at most `max_events_in_memory`
    events each (a single larger user gets a range of its own), and each range is
    one pass over the file that keeps only its users' (user, time, item) int64
    triples, sorts them and emits them. A log that fits (MovieLens 100K: 1e5
    events) is read once; a larger one is read once per range.

    Returns:
        `tf.data.Dataset` of ``{"user": int64[], "items": int64[n], "times": int64[n]}``.

    Raises:
        DataError: missing/empty file, too few fields, or a non-integer id/time.
    """
    (path,) = expand_paths(path)
    validation.scan_text_file(path, encoding_errors)
    columns = {"user": user_column, "item": item_column, "time": time_column}
    rows = csv_rows(path, delimiter, False, encoding_errors)
    if header:
        next(rows)
    events_per_user: collections.Counter = collections.Counter()
    for line, fields in rows:
        if fields == [""]:
            continue
        for name, index in columns.items():
            if index >= len(fields):
                raise DataError(path, line, f"expected at least {max(columns.values()) + 1} fields, found {len(fields)}")
            if not fields[index].strip().lstrip("-").isdigit():
                raise DataError(path, line, f"{name} must be an integer, found {fields[index]!r}")
        events_per_user[int(fields[user_column])] += 1

    lines = line_dataset([path], [False])
    if header:
        lines = lines.skip(1)
    picked = [user_column, time_column, item_column]

    def parse(lines):
        lines = tf.strings.strip(lines)
        lines = tf.boolean_mask(lines, tf.strings.length(lines) > 0)
        fields = tf.strings.split(lines, delimiter).to_tensor("")
        return tf.strings.to_number(tf.gather(fields, picked, axis=1), tf.int64)

    log = lines.batch(PARSE_CHUNK).map(parse, num_parallel_calls=tf.data.AUTOTUNE)
    ranges = _user_ranges(events_per_user, max_events_in_memory)

    def users_in(first, last):
        """One pass: the (user, time, item) triples of users first..last as one int64[n, 3], one sort."""
        mine = log.map(lambda t: tf.boolean_mask(t, (t[:, 0] >= first) & (t[:, 0] <= last)))
        return mine.unbatch().batch(tf.int64.max).flat_map(_user_sequences)

    if len(ranges) == 1:
        return log.unbatch().batch(tf.int64.max).flat_map(_user_sequences)
    return tf.data.Dataset.from_tensor_slices(np.array(ranges, np.int64)).flat_map(lambda r: users_in(r[0], r[1]))


def _user_ranges(events_per_user: dict[int, int], budget: int) -> list[tuple[int, int]]:
    """Consecutive user-id ranges with at most `budget` events each (or one user)."""
    ranges, first, held = [], None, 0
    for user in sorted(events_per_user):
        count = events_per_user[user]
        if first is not None and held + count > budget:
            ranges.append((first, previous))
            first, held = None, 0
        if first is None:
            first = user
        held += count
        previous = user
    if first is not None:
        ranges.append((first, previous))
    return ranges or [(0, 0)]


def _user_sequences(log: tf.Tensor) -> tf.data.Dataset:
    """``int64[N, 3]`` (user, time, item) → one element per user, sorted by user id."""
    by_time = tf.argsort(log[:, 1], stable=True)
    log = tf.gather(log, by_time)
    log = tf.gather(log, tf.argsort(log[:, 0], stable=True))
    users, user_row = tf.unique(log[:, 0])
    items = tf.RaggedTensor.from_value_rowids(log[:, 2], tf.cast(user_row, tf.int64))
    times = tf.RaggedTensor.from_value_rowids(log[:, 1], tf.cast(user_row, tf.int64))
    return tf.data.Dataset.from_tensor_slices({"user": users, "items": items, "times": times})
