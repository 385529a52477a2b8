"""Dense-feature sequence data: a ``.ts`` file → stratified folds → utterances or streams → batches.

The file is read once (`seqkeras.data.ts_series`, every line checked) into utterances:
float32[T, D] frames and a class index each (the order of ``@classLabel``).

Folds (`stratified_folds`): each class's utterances are shuffled (``data.split_seed``)
and dealt round-robin, continuing from class to class, so every fold holds ⌊n/k⌋ or
⌈n/k⌉ utterances of each class and the folds differ in size by at most one.
``data.fold`` validates, the other folds train.

Per-feature normalization (mean, std of every valid training frame; NaN ignored) is
fitted on the training folds only and travels inside the model (`model.FrameInputs`).

Frame labelling: a stream concatenates 2–6 utterances of distinct speakers, chosen at
random (seeded); every frame is labelled with its utterance's speaker. Training
streams (`random_streams`, in tf.data) draw only from the training folds and are drawn
afresh every epoch (a fixed pool is memorized within a few epochs); validation streams
(`make_streams`) draw only from the validation fold, once. No utterance is ever seen
on both sides.

Batches: ``({"frames": float32[B, T, D], "length": int32[B]}, labels)`` with labels
int32[B] (classify) or int32[B, T] (frame labels, 0 past the length), zero-padded to
the longest row of each batch.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib

import numpy as np
import tensorflow as tf

from seqkeras.data.errors import DataError
from seqkeras.data.paths import resolve_path
from seqkeras.data.sources.ts_format import ts_header, ts_series
from seqkeras.pipeline.data import Data


@dataclasses.dataclass
class Utterances:
    """Labelled variable-length frame sequences.

    Attributes:
        frames: N arrays float32[T_i, D].
        labels: int64[N] class indices.
    """

    frames: list[np.ndarray]
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.frames)

    def subset(self, index) -> "Utterances":
        return Utterances([self.frames[i] for i in index], self.labels[np.asarray(index, np.int64)])


@dataclasses.dataclass
class Streams:
    """Concatenated utterances with a label per frame.

    Attributes:
        frames: S arrays float32[T_s, D].
        labels: S arrays int64[T_s]: each frame's speaker.
        parts: S lists of the utterance indices (into the split's `Utterances`) concatenated.
    """

    frames: list[np.ndarray]
    labels: list[np.ndarray]
    parts: list[list[int]]

    def __len__(self) -> int:
        return len(self.frames)


@dataclasses.dataclass(kw_only=True)
class SequenceData(Data):
    """What the sequence model, its evaluation and its export read.

    Attributes:
        task: ``"classify"`` or ``"label_frames"``.
        classes: the class labels (strings), in class-index order.
        utterances: every utterance of the file (all folds).
        fold_of: int64[N] the fold of each utterance.
        mean, std: float32[D] the training folds' frame statistics.
        validation_streams: frame labelling only (else None).
        run_dir: where evaluation writes its figures (None = nowhere).
    """

    task: str
    classes: list[str]
    utterances: Utterances
    fold_of: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    validation_streams: Streams | None = None
    run_dir: pathlib.Path | None = None
    features: int = 0
    fold: int = 0
    folds: int = 0
    train_utterances: int = 0
    validation_utterances: int = 0
    longest: int = 0                   # the longest utterance, in frames

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def train_index(self) -> np.ndarray:
        return np.flatnonzero(self.fold_of != self.fold)

    @property
    def validation_index(self) -> np.ndarray:
        return np.flatnonzero(self.fold_of == self.fold)

    def split(self, name: str) -> Utterances:
        """The ``"train"`` or ``"validation"`` utterances."""
        return self.utterances.subset(self.train_index if name == "train" else self.validation_index)


def read_utterances(path: str | os.PathLike) -> tuple[Utterances, list[str]]:
    """Every case of a labelled ``.ts`` file, and its class labels (``@classLabel`` order).

    Raises:
        DataError: a malformed file (`ts_header`) or one without class labels.
    """
    header = ts_header(path)
    if not header.class_labels:
        raise DataError(path, header.data_line, "the cases carry no class label (@classLabel false)")
    classes = list(header.class_labels)
    index = {label: i for i, label in enumerate(classes)}
    frames, labels = [], []
    for case in ts_series(path).as_numpy_iterator():
        frames.append(np.asarray(case["frames"], np.float32))
        labels.append(index[case["label"].decode()])
    return Utterances(frames, np.asarray(labels, np.int64)), classes


def stratified_folds(labels: np.ndarray, folds: int, seed: int = 0) -> np.ndarray:
    """int64[N]: the fold (0 … folds − 1) of each example, stratified by label.

    Each class's examples are shuffled with `seed` and dealt round-robin, continuing
    from one class to the next, so every fold gets ⌊n_c/k⌋ or ⌈n_c/k⌉ examples of class
    c and the folds differ in size by at most one.
    """
    labels = np.asarray(labels)
    if folds < 2 or folds > len(labels):
        raise ValueError(f"Argument `folds` must be in [2, {len(labels)}] (the examples), received folds={folds}")
    rng = np.random.default_rng(seed)
    order = np.concatenate([rng.permutation(np.flatnonzero(labels == c)) for c in np.unique(labels)])
    fold_of = np.empty(len(labels), np.int64)
    fold_of[order] = np.arange(len(order)) % folds
    return fold_of


def frame_statistics(frames: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """float32[D] mean and standard deviation of every frame (NaN ignored; std 0 → 1)."""
    stacked = np.concatenate(frames).astype(np.float64)
    mean = np.nan_to_num(np.nanmean(stacked, axis=0))
    std = np.nan_to_num(np.nanstd(stacked, axis=0))
    return mean.astype(np.float32), np.where(std > 1e-8, std, 1.0).astype(np.float32)


def make_streams(utterances: Utterances, count: int, min_turns: int = 2, max_turns: int = 6,
                 seed: int = 0) -> Streams:
    """`count` streams of min_turns…max_turns utterances of distinct speakers (seeded).

    The number of turns is drawn uniformly, capped by the number of speakers present;
    each turn picks a speaker not yet in the stream, then one of their utterances.
    """
    if len(utterances) == 0:
        raise ValueError("no utterances to make streams from")
    rng = np.random.default_rng(seed)
    by_speaker = {int(c): np.flatnonzero(utterances.labels == c) for c in np.unique(utterances.labels)}
    speakers = np.array(sorted(by_speaker))
    frames, labels, parts = [], [], []
    for _ in range(count):
        turns = min(int(rng.integers(min_turns, max_turns + 1)), len(speakers))
        chosen = rng.choice(speakers, size=turns, replace=False)
        part = [int(rng.choice(by_speaker[int(s)])) for s in chosen]
        frames.append(np.concatenate([utterances.frames[i] for i in part]))
        labels.append(np.concatenate([np.full(len(utterances.frames[i]), utterances.labels[i], np.int64)
                                      for i in part]))
        parts.append(part)
    return Streams(frames, labels, parts)


def random_streams(utterances: Utterances, count: int, min_turns: int = 2, max_turns: int = 6,
                   seed: int = 0) -> tf.data.Dataset:
    """`count` streams as `make_streams` makes them, drawn in tf.data afresh on every pass.

    Returns:
        `tf.data.Dataset` of ``{"frames": float32[T, D], "labels": int32[T], "parts":
        int32[turns]}`` (``parts``: the utterance indices concatenated, in order).
    """
    if len(utterances) == 0:
        raise ValueError("no utterances to make streams from")
    lengths = np.array([len(f) for f in utterances.frames], np.int32)
    frames = tf.RaggedTensor.from_row_lengths(np.concatenate(utterances.frames).astype(np.float32), lengths)
    labels, lengths = tf.constant(utterances.labels, tf.int32), tf.constant(lengths)
    speakers = np.unique(utterances.labels)
    pools = tf.ragged.constant([np.flatnonzero(utterances.labels == s) for s in speakers], dtype=tf.int32)
    fewest, most = min(min_turns, len(speakers)), min(max_turns, len(speakers))

    def draw(key):
        seed_of = lambda i: tf.stack([key, tf.constant(i, tf.int64)])  # noqa: E731
        turns = tf.random.stateless_uniform([], seed_of(1), fewest, most + 1, dtype=tf.int32)
        chosen = tf.argsort(tf.random.stateless_uniform([len(speakers)], seed_of(2)))[:turns]
        pool = tf.gather(pools, chosen)
        sizes = tf.cast(pool.row_lengths(), tf.int32)
        pick = tf.minimum(tf.cast(tf.random.stateless_uniform([turns], seed_of(3)) * tf.cast(sizes, tf.float32),
                                  tf.int32), sizes - 1)
        parts = tf.gather(pool.values, tf.cast(pool.row_starts(), tf.int32) + pick)
        return {"frames": tf.gather(frames, parts).values,
                "labels": tf.repeat(tf.gather(labels, parts), tf.gather(lengths, parts)), "parts": parts}

    keys = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).take(count)
    return keys.map(draw, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


def padded(frames: list[np.ndarray], width: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(float32[N, T, D] zero-padded, int32[N] lengths), T = the longest (or `width`)."""
    lengths = np.array([len(f) for f in frames], np.int32)
    width = max(1, int(lengths.max(initial=0))) if width is None else width
    out = np.zeros([len(frames), width, frames[0].shape[1] if frames else 0], np.float32)
    for row, f in enumerate(frames):
        out[row, :len(f)] = f
    return out, lengths


def frame_batches(frames: list[np.ndarray], targets, batch_size: int, shuffle: bool = False, seed: int = 0,
                  repeat: bool = False, crop: float = 0.0) -> tf.data.Dataset:
    """``({"frames", "length"}, targets)`` batches padded to each batch's longest row.

    Args:
        frames: N arrays float32[T_i, D].
        targets: an array int[N] (a label per sequence) or a list of N arrays int[T_i]
            (a label per frame).
        shuffle: reshuffle every epoch (seeded).
        repeat: an endless stream (``training.steps_per_epoch``).
        crop: > 0: each time a sequence is read, a random window of a uniform
            crop…1 fraction of its frames (at least one) is kept (a label per sequence only).
    """
    lengths = [len(f) for f in frames]
    sequences = tf.RaggedTensor.from_row_lengths(np.concatenate(frames).astype(np.float32), lengths)
    if isinstance(targets, (list, tuple)):
        labels = tf.RaggedTensor.from_row_lengths(np.concatenate(targets).astype(np.int32), lengths)
    else:
        labels = tf.constant(np.asarray(targets, np.int32))
    batches = tf.data.Dataset.from_tensor_slices((sequences, labels))
    if shuffle:
        batches = batches.shuffle(len(frames), seed=seed, reshuffle_each_iteration=True)
    if crop > 0:
        if isinstance(targets, (list, tuple)):
            raise ValueError("Argument `crop` needs a label per sequence, not per frame")

        def window(x, y):
            n = tf.shape(x)[0]
            fraction = tf.random.uniform([], crop, 1.0, seed=seed)
            keep = tf.clip_by_value(tf.cast(tf.math.ceil(fraction * tf.cast(n, tf.float32)), tf.int32), 1, n)
            start = tf.random.uniform([], 0, n - keep + 1, dtype=tf.int32, seed=seed + 1)
            return x[start:start + keep], y

        batches = batches.map(window)
    return padded_batches(batches, batch_size, repeat)


def padded_batches(pairs: tf.data.Dataset, batch_size: int, repeat: bool = False) -> tf.data.Dataset:
    """``(frames float32[T, D], labels)`` pairs → ``({"frames", "length"}, labels)`` batches,
    zero-padded to each batch's longest row."""
    batches = pairs.map(lambda x, y: ({"frames": x, "length": tf.shape(x, tf.int32)[0]}, y))
    batches = batches.padded_batch(batch_size)
    return (batches.repeat() if repeat else batches).prefetch(tf.data.AUTOTUNE)


def build_data(spec, data_dir: str | os.PathLike | None = None,
               run_dir: pathlib.Path | None = None) -> SequenceData:
    """Read the ``.ts`` file, split it and batch it (see the module doc)."""
    utterances, classes = read_utterances(resolve_path(spec.data.train, data_dir))
    if spec.data.folds > len(utterances):
        raise DataError(spec.data.train, None, f"{len(utterances)} cases cannot make data.folds = {spec.data.folds}")
    empty = np.zeros(utterances.frames[0].shape[1], np.float32)
    data = SequenceData(train=tf.data.Dataset.from_tensors(0), task=spec.data.task, classes=classes,
                        utterances=utterances, fold_of=np.zeros(len(utterances), np.int64), mean=empty,
                        std=empty + 1, run_dir=run_dir)
    return with_split(spec, data)


def with_split(spec, data: SequenceData) -> SequenceData:
    """`data` split, normalized, streamed and batched as `spec` says, from the utterances
    already read (a tuning trial that changes a ``data.*`` key or the batch size)."""
    d, t = spec.data, spec.training
    fold_of = stratified_folds(data.utterances.labels, d.folds, d.split_seed)
    data = dataclasses.replace(data, task=d.task, fold_of=fold_of, fold=d.fold, folds=d.folds)
    train, validation = data.split("train"), data.split("validation")
    mean, std = frame_statistics(train.frames)
    repeat = bool(t.steps_per_epoch)
    if d.task == "classify":
        validation_streams = None
        train_batches = frame_batches(train.frames, train.labels, t.batch_size, shuffle=True, seed=t.seed,
                                      repeat=repeat, crop=d.crop)
        validation_batches = frame_batches(validation.frames, validation.labels, t.batch_size)
    else:
        # Distinct seeds: the two sides must not draw the same pattern of turns.
        streams = random_streams(train, d.streams, d.min_turns, d.max_turns, seed=d.split_seed + t.seed)
        train_batches = padded_batches(streams.map(lambda s: (s["frames"], s["labels"])), t.batch_size, repeat)
        validation_streams = make_streams(validation, d.validation_streams, d.min_turns, d.max_turns,
                                          seed=d.split_seed + 1)
        validation_batches = frame_batches(validation_streams.frames, validation_streams.labels, t.batch_size)
    return dataclasses.replace(
        data, train=train_batches, validation=validation_batches, mean=mean, std=std,
        validation_streams=validation_streams, features=int(mean.shape[0]), train_utterances=len(train),
        validation_utterances=len(validation), longest=max(len(f) for f in data.utterances.frames))
