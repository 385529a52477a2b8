"""Recommendation data: an interaction log → leave-last-out split → item indices → batches.

The log is read by `seqkeras.data.interaction_log` (every line checked: a bad line is a
`DataError` naming file and line; each user's events sorted by time, ties kept in file
order) and split by `seqkeras.data.leave_last_out`: per user, the last item is the test
target, the second-to-last the validation target, the rest the training sequence. A
user with fewer than 3 events only trains (a single event trains nothing: a sequence
needs two items to give one next-item pair).

Item indices: 0 = padding, 1 = unknown (a catalogue id the model has never heard of, at
serving time), 2 … V−1 = the catalogue's items in increasing id order. The catalogue is
every item id of the log: an item whose only events are validation or test targets keeps
an index (it can be ranked — with no training signal — rather than being unrankable).
"""

from __future__ import annotations

import dataclasses
import os
import pathlib

import numpy as np
import tensorflow as tf

from seqkeras.data import interaction_log, leave_last_out, session_sequences
from seqkeras.data.errors import DataError
from seqkeras.data.paths import resolve_path
from seqkeras.pipeline.data import Data
from seqkeras.recommendation.evaluation import RESERVED  # indices below it are never ranked

PADDING, UNKNOWN = 0, 1


@dataclasses.dataclass
class SplitTargets:
    """The evaluated users of one split.

    Attributes:
        users: int64[U] user ids.
        histories: U int arrays, the internal items the model reads (padding-free).
        targets: int64[U] the internal index of each user's held-out item.
    """

    users: np.ndarray
    histories: list[np.ndarray]
    targets: np.ndarray


@dataclasses.dataclass(kw_only=True)
class RecommendationData(Data):
    """What the recommender, its evaluation and its export read.

    Attributes:
        train: ``(items int32[B, T], next items int32[B, T])`` batches, 0-padded.
        validation: ``(history int32[B, T], targets int32[B, T])``: the validation item
            at each user's last history step, 0 elsewhere (so val_loss is its loss).
        catalogue: int64[V − 2] the catalogue item id of each index from 2.
        train_sequences: one int array of internal items per user.
        splits: ``{"validation": SplitTargets, "test": SplitTargets}``.
        popularity: float64[V] training counts per index.
        max_history: the longest history the model reads.
        run_dir: where evaluation writes its tables (None = nowhere).
    """

    catalogue: np.ndarray
    train_sequences: list[np.ndarray]
    splits: dict[str, SplitTargets]
    popularity: np.ndarray
    max_history: int
    run_dir: pathlib.Path | None = None
    users: int = 0
    items: int = 0
    train_events: int = 0

    @property
    def vocabulary_size(self) -> int:
        return len(self.catalogue) + RESERVED

    def to_index(self, item_ids) -> np.ndarray:
        """Catalogue ids → internal indices (unknown ids → `UNKNOWN`)."""
        item_ids = np.asarray(item_ids, np.int64)
        position = np.clip(np.searchsorted(self.catalogue, item_ids), 0, len(self.catalogue) - 1)
        return np.where(self.catalogue[position] == item_ids, position + RESERVED, UNKNOWN)


def padded(histories: list[np.ndarray], length: int) -> tuple[np.ndarray, np.ndarray]:
    """The last `length` items of each history, left-aligned and 0-padded:
    (int32[U, T], lengths int32[U]) with T = min(length, longest history)."""
    cut = [h[-length:] for h in histories]
    width = max(1, max((len(h) for h in cut), default=1))
    out = np.zeros([len(cut), width], np.int32)
    for row, h in enumerate(cut):
        out[row, :len(h)] = h
    return out, np.array([len(h) for h in cut], np.int32)


def build_data(spec, data_dir: str | os.PathLike | None = None,
               run_dir: pathlib.Path | None = None) -> RecommendationData:
    """Read, split and index the log; training and validation batches (see the module doc)."""
    d = spec.data
    path = resolve_path(d.path, data_dir)
    # Cached: leave_last_out's three splits read the sorted log once.
    users = interaction_log(path, d.user_column, d.item_column, d.time_column, d.delimiter, d.header).cache()
    train, validation, test = (list(s.as_numpy_iterator()) for s in leave_last_out(users))
    catalogue = np.unique(np.concatenate([u["items"] for u in train]
                                         + [np.array([u["target"]]) for u in validation + test]))
    if catalogue[0] <= PADDING:
        raise DataError(path, None, f"item id {catalogue[0]} in column {d.item_column}: item ids must be ≥ 1 "
                                    "(0 is the padding of a serving request)")
    data = RecommendationData(train=tf.data.Dataset.from_tensors(0), catalogue=catalogue, train_sequences=[],
                              splits={}, popularity=np.zeros(0), max_history=d.max_history,
                              run_dir=run_dir)
    sequences = [data.to_index(u["items"]) for u in train]
    popularity = np.bincount(np.concatenate(sequences), minlength=data.vocabulary_size).astype(np.float64)
    splits = {name: SplitTargets(np.array([u["user"] for u in rows], np.int64),
                                 [data.to_index(u["history"]) for u in rows],
                                 data.to_index([u["target"] for u in rows]))
              for name, rows in (("validation", validation), ("test", test))}
    data = dataclasses.replace(data, train_sequences=sequences, splits=splits, popularity=popularity,
                               users=len(train), items=len(catalogue),
                               train_events=int(sum(len(s) for s in sequences)))
    return with_batches(spec, data)


def with_batches(spec, data: RecommendationData) -> RecommendationData:
    """`data` with the training and validation batches of ``spec`` (its history length,
    batch size, seed): a tuning trial of another history length re-batches the
    sequences already read."""
    return dataclasses.replace(data, train=training_batches(data.train_sequences, spec),
                               validation=validation_batches(data.splits["validation"], spec),
                               max_history=spec.data.max_history)


def history_chunks(sequences: list[np.ndarray], max_history: int) -> list[np.ndarray]:
    """Cut each sequence into pieces of at most max_history + 1 items, overlapping by one,
    so that every next-item pair of a long history trains once with at most max_history
    items of context (keeping only the last max_history would drop most of a long
    history: MovieLens users average 106 ratings)."""
    chunks = []
    for sequence in sequences:
        for end in range(len(sequence), 1, -max_history):
            chunks.append(sequence[max(0, end - max_history - 1):end])
    return chunks


def training_batches(sequences: list[np.ndarray], spec) -> tf.data.Dataset:
    """Next-item pairs of every training sequence (`history_chunks`, then
    `session_sequences`), int32."""
    chunks = history_chunks(sequences, spec.data.max_history)
    ragged = tf.ragged.constant([c.tolist() for c in chunks], dtype=tf.int64)
    users = tf.data.Dataset.from_tensor_slices({"items": ragged})
    batches = session_sequences(users, spec.training.batch_size, max_length=spec.data.max_history,
                                shuffle_buffer=spec.data.shuffle_buffer or None, seed=spec.training.seed)
    batches = batches.map(lambda x, y: (tf.cast(x, tf.int32), tf.cast(y, tf.int32)))
    return batches.repeat() if spec.training.steps_per_epoch else batches


def validation_batches(split: SplitTargets, spec) -> tf.data.Dataset:
    """Each user's history with their held-out item as the target of the last step."""
    inputs, lengths = padded(split.histories, spec.data.max_history)
    targets = np.zeros_like(inputs)
    targets[np.arange(len(inputs)), lengths - 1] = split.targets
    return tf.data.Dataset.from_tensor_slices((inputs, targets)).batch(spec.training.batch_size)
