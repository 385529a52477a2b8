"""Time-series windows: (history, horizon) pairs with train-span normalization."""

from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np
import tensorflow as tf

from seqkeras.data.builders.batching import shuffled


@dataclasses.dataclass
class TimeSeriesSplits:
    """Chronological window datasets and the normalization they share.

    Attributes:
        train, validation, test: datasets of ``(history float32[B, H, F],
            horizon float32[B, K, F'])`` (F' = the target columns), normalized.
        mean, std: ``float32[F]`` statistics of the training span only.
        target_columns: indices of the forecast features.
        boundaries: the row indices ``(n_train, n_train + n_validation, n)``.
    """

    train: tf.data.Dataset
    validation: tf.data.Dataset
    test: tf.data.Dataset
    mean: np.ndarray
    std: np.ndarray
    target_columns: list[int]
    boundaries: tuple[int, int, int]

    def denormalize(self, horizon):
        """Forecasts in normalized units → original units (``[..., F']``)."""
        return horizon * self.std[self.target_columns] + self.mean[self.target_columns]


def series_array(rows: tf.data.Dataset | np.ndarray) -> np.ndarray:
    """A series as ``float32[N, F]`` from an array or `time_series_csv` rows."""
    if isinstance(rows, tf.data.Dataset):
        chunks = list(rows.map(lambda r: r["features"] if isinstance(r, dict) else r)
                      .batch(4096).as_numpy_iterator())
        rows = np.concatenate(chunks) if chunks else np.zeros([0, 1], np.float32)
    rows = np.asarray(rows, np.float32)
    return rows[:, None] if rows.ndim == 1 else rows


def time_series_windows(series: tf.data.Dataset | np.ndarray, history: int, horizon: int,
                        batch_size: int = 32, splits: tuple[float, float] = (0.7, 0.15),
                        target_columns: Sequence[int] | None = None, stride: int = 1,
                        shuffle_buffer: int | None = 1024, seed: int | None = None) -> TimeSeriesSplits:
    """Sliding (history, horizon) windows over a series, split chronologically.

    The first ``splits[0]`` of the rows are training, the next ``splits[1]``
    validation, the rest test. Mean and standard deviation come from the training
    rows only and normalize every split. A window belongs to the split that holds
    its *horizon*: validation and test windows may look back into earlier rows for
    their history (as a forecaster would), but no training window sees a later row.

    Args:
        series: ``float[N, F]`` / ``float[N]`` array or `time_series_csv` rows.
        history: H, input steps per window.
        horizon: K, steps to forecast after the history.
        batch_size: windows per batch.
        splits: (train fraction, validation fraction).
        target_columns: features to forecast (default: all).
        stride: steps between window starts.
        shuffle_buffer: shuffle training windows (seeded); validation/test keep order.

    Returns:
        `TimeSeriesSplits` (datasets + the training statistics).

    Example:
        >>> s = time_series_windows(np.arange(20.0), history=3, horizon=1, splits=(0.5, 0.25),
        ...                         shuffle_buffer=None)
        >>> s.boundaries, float(s.mean[0])
        ((10, 15, 20), 4.5)
    """
    values = series_array(series)
    n = len(values)
    n_train = int(n * splits[0])
    n_val_end = int(n * (splits[0] + splits[1]))
    if n_train < history + horizon:
        raise ValueError(f"the training span has {n_train} rows, fewer than history + horizon = {history + horizon}")
    mean = values[:n_train].mean(axis=0)
    std = values[:n_train].std(axis=0)
    std = np.where(std > 0, std, 1.0).astype(np.float32)
    normalized = (values - mean) / std
    targets = list(range(values.shape[1])) if target_columns is None else list(target_columns)

    def windows(first_target: int, end: int) -> tf.data.Dataset:
        """Windows whose horizon lies in rows [first_target, end)."""
        start = max(first_target - history, 0)
        span = normalized[start:end]
        if len(span) < history + horizon:
            return tf.data.Dataset.from_tensor_slices(
                (np.zeros([0, history, values.shape[1]], np.float32), np.zeros([0, horizon, len(targets)], np.float32)))
        frames = tf.data.Dataset.from_tensor_slices(span).window(history + horizon, shift=stride, drop_remainder=True)
        return frames.flat_map(lambda w: w.batch(history + horizon)).map(
            lambda w: (w[:history], tf.gather(w[history:], targets, axis=1)))

    train = shuffled(windows(0, n_train).cache(), shuffle_buffer, seed)
    finish = lambda d: d.batch(batch_size).prefetch(tf.data.AUTOTUNE)
    return TimeSeriesSplits(finish(train), finish(windows(n_train, n_val_end).cache()),
                            finish(windows(n_val_end, n).cache()), mean.astype(np.float32), std,
                            targets, (n_train, n_val_end, n))
