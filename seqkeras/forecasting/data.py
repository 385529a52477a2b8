"""Forecasting data: a CSV series read and checked, its spans, its rolling windows.

`read_series` parses the file once, in Python, with every check a user needs named by
file and line (a missing column, a wrong field count, an unparseable number, a time
that does not increase); `build_data` fits the categories and the normalization on the
training span only and cuts (history, truth) windows with tf.data.

Decisions:

* **Spans** are given by dates: rows before ``data.validation_start`` are training,
  rows before ``data.test_start`` validation, the rest test. A window belongs to the span
  that holds its *forecast* rows; its history may reach back into earlier spans (as a
  forecaster in production would), so no training window sees a validation row.
* **Gaps**: one row per ``data.frequency`` step. A missing time (the Melbourne file lacks
  31 December 1984 and 1988) is inserted as a row whose values are all missing; a time
  that does not increase, or is not on the step grid, is a `DataError`.
* **Missing values** (``data.missing_values``, e.g. PM2.5's ``NA``) become NaN in the row.
  A missing *truth* is masked out of the loss and the metrics; a missing *input* is
  imputed inside the model (the training mean, with a missing indicator for the target),
  so training and serving impute the same way.
* **Categorical** columns are coded by their training-span categories (sorted); a value
  first seen later gets code -1 (no category).
"""

from __future__ import annotations

import dataclasses
import datetime
import io
import math
import os
import pathlib
import re

import numpy as np
import tensorflow as tf

from seqkeras.data import validation
from seqkeras.data.errors import DataError
from seqkeras.data.paths import resolve_path
from seqkeras.data.sources.common import column_index, csv_rows
from seqkeras.forecasting.evaluation import rolling_origins
from seqkeras.forecasting.layout import ISO_TIME, FeatureLayout
from seqkeras.pipeline.data import Data

# What a one-column time must look like, so the serving graph can cut it by position.
ISO_TIME_RE = re.compile(ISO_TIME)


@dataclasses.dataclass
class Series:
    """A series as read from its file (see the module docstring).

    Attributes:
        path: the file.
        header: its column names.
        times: datetime64[h][N], one row per frequency step.
        values: float32[N, V] numeric columns (target first, then covariates), NaN = missing.
        categories: object[N, K] categorical values (None = missing).
        lines: int[N] the file line of each row; 0 for a row inserted for a gap.
        raw_lines: the file's lines (no line ends), index = line number − 1.
        time_columns, value_columns, categorical_columns: the header names read as the
            time, the numbers (target first) and the categories.
    """

    path: pathlib.Path
    header: list[str]
    time_columns: list[str]
    value_columns: list[str]
    categorical_columns: list[str]
    times: np.ndarray
    values: np.ndarray
    categories: np.ndarray
    lines: np.ndarray
    raw_lines: list[str]

    @property
    def inserted(self) -> int:
        """Rows inserted for gaps in the time grid."""
        return int((self.lines == 0).sum())

    def raw_rows(self, first: int, last: int) -> list[str]:
        """The file lines of rows [first, last); ValueError if one was inserted for a gap."""
        if (self.lines[first:last] == 0).any():
            raise ValueError(f"rows {first}..{last} cross a gap: no file lines to send")
        return [self.raw_lines[line - 1] for line in self.lines[first:last]]


def read_series(path: str | os.PathLike, data_spec) -> Series:
    """Read and check a CSV series (``data_spec``: the spec's ``[data]`` section).

    Raises:
        DataError: a missing column, a wrong field count, an unparseable time or
            number, a time that does not increase or is off the frequency grid, a
            field with a comma inside quotes (serving splits rows at commas), or no
            rows — naming the file and line.
    """
    path = pathlib.Path(path)
    validation.scan_text_file(path, "strict")
    step = np.timedelta64(1 if data_spec.frequency == "hour" else 24, "h")
    missing = set(data_spec.missing_values)
    rows = csv_rows(path, ",", True, "strict")
    try:
        _, header = next(rows)
    except StopIteration:
        raise DataError(path, 1, "empty file: expected a header line") from None
    header = [name.strip() for name in header]
    time_index = [column_index(c, header, path) for c in data_spec.time_columns]
    value_index = [column_index(c, header, path) for c in [data_spec.target, *data_spec.covariates]]
    category_index = [column_index(c, header, path) for c in data_spec.categorical]
    value_names = [data_spec.target, *data_spec.covariates]
    times, values, categories, lines = [], [], [], []
    for line, fields in rows:
        if fields == []:
            continue
        if len(fields) != len(header):
            raise DataError(path, line, f"expected {len(header)} fields, found {len(fields)}")
        if any("," in field for field in fields):
            raise DataError(path, line, "a quoted field holds a comma: the serving signature splits rows "
                                        "at commas")
        time = _parse_time([fields[i] for i in time_index], data_spec.frequency, path, line)
        if times:
            gap = (time - times[-1]) // step
            if time <= times[-1] or (time - times[-1]) % step:
                raise DataError(path, line, f"time {time} does not follow {times[-1]} by whole "
                                            f"{data_spec.frequency} steps (duplicated or out of order?)")
            for _ in range(1, int(gap)):      # a gap: rows with every value missing
                times.append(times[-1] + step)
                values.append([math.nan] * len(value_index))
                categories.append([None] * len(category_index))
                lines.append(0)
        times.append(time)
        values.append([_number(fields[i], missing, name, path, line) for i, name in zip(value_index, value_names)])
        categories.append([None if fields[i].strip() in missing else fields[i].strip() for i in category_index])
        lines.append(line)
    if not times:
        raise DataError(path, 2, "no data rows after the header")
    return Series(path, header, list(data_spec.time_columns), value_names, list(data_spec.categorical),
                  np.array(times, "datetime64[h]"), np.array(values, np.float32).reshape(len(times), -1),
                  np.array(categories, object).reshape(len(times), -1), np.array(lines), _file_lines(path))


def _parse_time(fields: list[str], frequency: str, path, line) -> np.datetime64:
    if len(fields) == 1:
        match = ISO_TIME_RE.fullmatch(fields[0].strip().strip('"'))
        if match is None:
            raise DataError(path, line, f"time {fields[0]!r} is not YYYY-MM-DD[ HH[:MM[:SS]]]")
        year, month, day, hour, minute, second = (int(g or 0) for g in match.groups())
    else:
        try:
            year, month, day, hour = ([int(float(f)) for f in fields] + [0])[:4]
        except ValueError:
            raise DataError(path, line, f"time columns {fields} are not whole numbers") from None
        minute = second = 0
    try:
        time = datetime.datetime(year, month, day, hour, minute, second)
    except ValueError as error:
        raise DataError(path, line, f"invalid time {fields}: {error}") from None
    if minute or second or (frequency == "day" and hour):
        raise DataError(path, line, f"time {time} is not on the {frequency} grid")
    return np.datetime64(time, "h")


def _number(text: str, missing: set[str], column: str, path, line) -> float:
    if text.strip() in missing:
        return math.nan
    try:
        value = float(text)
    except ValueError:
        raise DataError(path, line, f"column {column!r}: {text!r} is not a number (missing values are "
                                    f"written as one of {sorted(missing)})") from None
    if not math.isfinite(value):
        raise DataError(path, line, f"column {column!r}: {text!r} is not finite")
    return value


def _file_lines(path: pathlib.Path) -> list[str]:
    with io.TextIOWrapper(validation.open_binary(path), encoding="utf-8-sig", newline="") as stream:
        return [line.rstrip("\r\n") for line in stream]


def time_parts(times: np.ndarray) -> np.ndarray:
    """datetime64[h][N] → float32[N, 4]: year, month, day, hour (the layout's time columns)."""
    days = times.astype("datetime64[D]")
    years = days.astype("datetime64[Y]")
    months = days.astype("datetime64[M]")
    return np.stack([years.astype(int) + 1970, (months - years).astype(int) + 1, (days - months).astype(int) + 1,
                     (times - days).astype(int)], axis=1).astype(np.float32)


def climatology_keys(times: np.ndarray, key: str) -> np.ndarray:
    """int[N]: the hour of day, the day of year (1–366) or the calendar day (month · 100 +
    day) of every row."""
    if key == "hour":
        return (times - times.astype("datetime64[D]")).astype(int)
    month, day = time_parts(times)[:, 1:3].T.astype(int)
    if key == "calendar_day":
        return month * 100 + day
    days = times.astype("datetime64[D]")
    return (days - days.astype("datetime64[Y]")).astype(int) + 1


def span_bounds(times: np.ndarray, first: datetime.date, end: datetime.date | None = None) -> tuple[int, int]:
    """Row indices [i, j) of the rows dated first ≤ date < end (end None = to the last row)."""
    i = int(np.searchsorted(times, np.datetime64(first, "h")))
    j = len(times) if end is None else int(np.searchsorted(times, np.datetime64(end, "h")))
    return i, j


@dataclasses.dataclass(kw_only=True)
class ForecastData(Data):
    """Windows of one forecasting pipeline and what the model, evaluation and export read.

    Attributes:
        train, validation: ``(history float32[B, T, width], truth float32[B, H])`` batches;
            truth in original units, NaN = missing (masked).
        series: the parsed file.
        layout: the row layout (`FeatureLayout`, categories fitted on training rows).
        rows: float32[N, width], every row in the layout.
        mean, std: float32[1 + C] training-span statistics of the target and covariates.
        bounds: (first validation row, first test row, rows).
        keys: int[N] the climatology baseline's key per row.
        history, horizon: T and H.
        run_dir: where evaluation writes its plots (None = nowhere).
    """

    series: Series
    layout: FeatureLayout
    rows: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    bounds: tuple[int, int, int]
    keys: np.ndarray
    history: int
    horizon: int
    run_dir: pathlib.Path | None = None
    train_windows: int = 0
    validation_windows: int = 0
    inserted_rows: int = 0

    @property
    def target(self) -> np.ndarray:
        """float32[N], the target of every row (NaN = missing)."""
        return self.rows[:, self.layout.target_index]

    def windows(self, origins: np.ndarray) -> np.ndarray:
        """float32[O, T, width]: the history rows [o − T, o) of each origin."""
        return self.rows[np.asarray(origins)[:, None] + np.arange(-self.history, 0)]

    def summary(self):
        return {**super().summary(), "rows": self.bounds[2], "train_rows": self.bounds[0],
                "validation_rows": self.bounds[1] - self.bounds[0], "test_rows": self.bounds[2] - self.bounds[1],
                "features": self.layout.width}


def fit_layout(series: Series, data_spec, train_rows: int) -> FeatureLayout:
    """The row layout, with each categorical column's sorted training-span categories."""
    categorical = []
    for k, name in enumerate(data_spec.categorical):
        seen = sorted({v for v in series.categories[:train_rows, k] if v is not None})
        categorical.append((name, tuple(seen)))
    return FeatureLayout(target=data_spec.target, covariates=tuple(data_spec.covariates),
                         categorical=tuple(categorical), frequency=data_spec.frequency,
                         calendar=tuple(data_spec.calendar))


def layout_rows(series: Series, layout: FeatureLayout) -> np.ndarray:
    """float32[N, width]: the series in the layout (categories → codes, -1 unknown, NaN missing)."""
    codes = np.full(series.categories.shape, np.nan, np.float32)
    for k, (_, categories) in enumerate(layout.categorical):
        index = {c: i for i, c in enumerate(categories)}
        codes[:, k] = [np.nan if v is None else index.get(v, -1) for v in series.categories[:, k]]
    return np.concatenate([time_parts(series.times), series.values, codes], axis=1).astype(np.float32)


def training_statistics(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """NaN-ignoring mean and std per column (std 1 where a column is constant or empty)."""
    with np.errstate(all="ignore"):
        mean = np.nan_to_num(np.nanmean(values, axis=0))
        std = np.nanstd(values, axis=0)
    std = np.where(np.isfinite(std) & (std > 0), std, 1.0)
    return mean.astype(np.float32), std.astype(np.float32)


def window_dataset(rows: np.ndarray, target: np.ndarray, origins: np.ndarray, history: int, horizon: int,
                   batch_size: int, shuffle_buffer: int = 0, seed: int = 0) -> tf.data.Dataset:
    """``(history float32[B, T, width], truth float32[B, H])`` batches for `origins`.

    Batches of origins are gathered from the in-memory rows in one vectorised step
    (a series of 44k rows × 12 columns is 2 MB), after the optional seeded shuffle.
    """
    rows_t, target_t = tf.constant(rows), tf.constant(target)
    back, ahead = tf.range(-history, 0), tf.range(horizon)
    dataset = tf.data.Dataset.from_tensor_slices(origins.astype(np.int32))
    if shuffle_buffer:
        dataset = dataset.shuffle(min(shuffle_buffer, len(origins)), seed=seed, reshuffle_each_iteration=True)
    return dataset.batch(batch_size).map(
        lambda o: (tf.gather(rows_t, o[:, None] + back), tf.gather(target_t, o[:, None] + ahead)),
        num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


def origins_between(start: int, end: int, history: int, horizon: int, stride: int,
                    target: np.ndarray | None = None) -> np.ndarray:
    """Origins o (stride apart) whose forecast rows [o, o + H) lie in [start, end) and whose
    history [o − T, o) exists; with `target`, only those with at least one truth."""
    origins = rolling_origins(start, end, horizon, stride, min_history=history)
    if target is not None and len(origins):
        truth = target[origins[:, None] + np.arange(horizon)]
        origins = origins[np.isfinite(truth).any(axis=1)]
    return origins


def build_data(spec, data_dir=None, run_dir: pathlib.Path | None = None) -> ForecastData:
    """Read the series, fit the layout and statistics on the training span, cut windows."""
    from seqkeras.forecasting.spec import parse_date

    d = spec.data
    series = read_series(resolve_path(d.path, data_dir), d)
    validation_start = parse_date(spec, "data.validation_start", d.validation_start)
    test_start = parse_date(spec, "data.test_start", d.test_start)
    first_validation, _ = span_bounds(series.times, validation_start)
    first_test, _ = span_bounds(series.times, test_start)
    if first_validation < d.history + d.horizon:
        raise DataError(series.path, None, f"the training span (before {d.validation_start}) has "
                        f"{first_validation} rows, fewer than history + horizon = {d.history + d.horizon}")
    if first_test - first_validation < d.horizon:
        raise DataError(series.path, None, f"the validation span has {first_test - first_validation} rows, "
                        f"fewer than the horizon {d.horizon}")
    layout = fit_layout(series, d, first_validation)
    rows = layout_rows(series, layout)
    mean, std = training_statistics(rows[:first_validation, layout.numeric_slice])
    placeholder = tf.data.Dataset.from_tensors(0)
    data = ForecastData(train=placeholder, series=series, layout=layout, rows=rows, mean=mean, std=std,
                        bounds=(first_validation, first_test, len(rows)),
                        keys=climatology_keys(series.times, spec.climatology_key), history=d.history,
                        horizon=d.horizon, run_dir=run_dir, inserted_rows=series.inserted)
    return with_windows(spec, data)


def with_windows(spec, data: ForecastData) -> ForecastData:
    """`data` with the training and validation windows of ``spec.data.history`` (and
    the spec's strides, batch size, seed): a tuning trial of another history length
    re-cuts the windows without reading the file again."""
    d = spec.data
    first_validation, first_test, _ = data.bounds
    train_origins = origins_between(0, first_validation, d.history, d.horizon, d.train_stride, data.target)
    validation_origins = origins_between(first_validation, first_test, d.history, d.horizon,
                                         spec.evaluation.stride, data.target)
    batch = spec.training.batch_size
    train = window_dataset(data.rows, data.target, train_origins, d.history, d.horizon, batch, d.shuffle_buffer,
                           spec.training.seed)
    if spec.training.steps_per_epoch:
        train = train.repeat()
    validation = window_dataset(data.rows, data.target, validation_origins, d.history, d.horizon, batch)
    return dataclasses.replace(data, train=train, validation=validation, history=d.history,
                               train_windows=len(train_origins), validation_windows=len(validation_origins))


def evaluation_bounds(spec, data: ForecastData) -> tuple[int, int]:
    """Rows [start, end) of ``evaluation.span``: the validation or test span, or dates."""
    span = spec.evaluation_span()
    first_validation, first_test, n = data.bounds
    if span == "validation":
        return first_validation, first_test
    if span == "test":
        return first_test, n
    first, last = span
    return span_bounds(data.series.times, first, last + datetime.timedelta(days=1))
