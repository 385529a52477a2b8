"""The forecaster: raw history rows → quantile forecasts in original units.

    history float32[B, T, W] (raw rows, `seqkeras.forecasting.layout`; NaN = missing)
      ├─ "encoding" (`ForecastEncoding`) → features [B, T, F]
      │     ─ "encoder" (`seqkeras.layers.StackedRecurrent`) → final state(s)
      │       (kind "dilated_cnn": `seqkeras.layers.DilatedCausalConv` → its last step)
      ├─ "future_covariates" (`FutureCovariates`): calendar features of the H
      │     forecast times → [B, H, Fc]
      ├─ head "direct":  [state ; flatten(future)] ─ Dense(units, relu) ─ Dense(H·Q) → [B, H, Q]
      │  head "decoder": recurrent levels over the future covariates, initial states from
      │                  the encoder's (bridged by Dense+tanh when bidirectional) ─ Dense(Q)
      └─ "forecast" (`ForecastOutput`): + last observed target (residual), non-crossing
            quantiles, × std + mean → float32[B, H, Q] in the target's original units

Everything that depends on the data — normalization by the training-span statistics,
imputation, one-hot codes, calendar features — happens inside the model, so training,
evaluation and the exported serving graph all feed the same raw rows and cannot
disagree about preprocessing.

Q = len(quantiles), or 1 for a point forecast (``quantiles=()``). The quantile outputs
never cross: the point column c (`point_column`) is free and the others are reached
from it by cumulative softplus steps, downwards and upwards,

    q_c = z_c,   q_{i} = q_{i+1} − softplus(z_i)  (i < c),   q_{i} = q_{i-1} + softplus(z_i)  (i > c),

so the ordering holds for any weights and any input. Anchoring at the point column
(rather than at the lowest quantile) makes q_c = z_c exactly, so with ``residual=True``
a zero head output forecasts persistence for the median.

Train with `ForecastLoss` (pinball / MAE / MSE in normalized units, missing truths
masked) and report `MaskedMAE` (original units).

Example:
    >>> layout = FeatureLayout("load", covariates=("temp",), frequency="hour", calendar=("hour",))
    >>> model = build_forecaster(layout, mean=[10.0, 20.0], std=[2.0, 5.0], history=24, horizon=6, units=8)
    >>> model(np.zeros((2, 24, layout.width), "float32")).shape
    TensorShape([2, 6, 3])
"""

from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf

from seqkeras.encoders import make_cell
from seqkeras.forecasting.calendar import calendar_features, future_times
from seqkeras.forecasting.layout import FeatureLayout
from seqkeras.forecasting.spec import HEADS, KINDS, LOSSES
from seqkeras.layers import DilatedCausalConv, Recurrent, StackedRecurrent



# -- configuration helpers ----------------------------------------------------------------
def _layout_config(layout: FeatureLayout) -> dict:
    """A JSON-friendly dict of a layout (what the layers' get_config stores)."""
    return {"target": layout.target, "covariates": list(layout.covariates),
            "categorical": [[name, list(categories)] for name, categories in layout.categorical],
            "frequency": layout.frequency, "calendar": list(layout.calendar)}


def _as_layout(layout) -> FeatureLayout:
    """A `FeatureLayout` from itself or from `_layout_config`'s dict (JSON turns tuples into lists)."""
    if isinstance(layout, FeatureLayout):
        return layout
    if not isinstance(layout, dict):
        raise ValueError(f"Argument `layout` must be a FeatureLayout or its config dict, received layout={layout!r}")
    return FeatureLayout(target=layout["target"], covariates=tuple(layout.get("covariates", ())),
                         categorical=tuple((name, tuple(categories))
                                           for name, categories in layout.get("categorical", ())),
                         frequency=layout.get("frequency", "day"),
                         calendar=tuple(layout.get("calendar", ("day_of_year",))))


def _statistics(layout: FeatureLayout, mean, std) -> tuple[list[float], list[float]]:
    """Validated (mean, std) lists for the numeric slice.

    A std that is 0 or not finite (a constant or all-missing column in the training
    span) becomes 1 and a non-finite mean 0, so normalizing can never divide by zero
    or spread NaN: such a column just enters as ``x − mean`` (or as raw values).
    """
    count = 1 + len(layout.covariates)
    mean = np.asarray(mean, "float64").reshape(-1)
    std = np.asarray(std, "float64").reshape(-1)
    for name, value in (("mean", mean), ("std", std)):
        if value.shape != (count,):
            raise ValueError(f"Argument `{name}` must have 1 + len(layout.covariates) = {count} values "
                             f"(target first), received {value.shape[0]}")
    mean = np.where(np.isfinite(mean), mean, 0.0)
    std = np.where(np.isfinite(std) & (std > 0), std, 1.0)
    return [float(v) for v in mean], [float(v) for v in std]


def _check_quantiles(quantiles) -> list[float]:
    quantiles = [float(q) for q in quantiles]
    if any(not 0.0 < q < 1.0 for q in quantiles) or any(a >= b for a, b in zip(quantiles, quantiles[1:])):
        raise ValueError("Argument `quantiles` must be strictly increasing values in (0, 1), "
                         f"received quantiles={quantiles!r}")
    return quantiles


def point_column(quantiles) -> int:
    """The index of the point forecast in the model output's last axis.

    The median's column if 0.5 is among `quantiles`, else the middle column
    (``len // 2``); 0 for a point model (``quantiles=()``, Q = 1).
    """
    quantiles = [float(q) for q in quantiles]
    for i, q in enumerate(quantiles):
        if math.isclose(q, 0.5):
            return i
    return len(quantiles) // 2


def _positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"Argument `{name}` must be a positive integer, received {name}={value!r}")
    return int(value)


def _time_columns(rows):
    """Time columns of rows ``[..., W]`` with NaNs made harmless: (year, month, day, hour, known).

    A missing time part becomes 1970 / 1 / 1 / 0 and the month and day are clipped to
    valid ranges, so the calendar arithmetic stays finite; ``known`` (float 0/1) says
    whether all four parts were present.
    """
    known = tf.reduce_all(tf.logical_not(tf.math.is_nan(rows[..., :4])), axis=-1)
    fill = lambda column, value: tf.where(tf.math.is_nan(rows[..., column]), value, rows[..., column])  # noqa: E731
    year = fill(0, 1970.0)
    month = tf.clip_by_value(fill(1, 1.0), 1.0, 12.0)
    day = tf.clip_by_value(fill(2, 1.0), 1.0, 31.0)
    hour = tf.clip_by_value(fill(3, 0.0), 0.0, 23.0)
    return year, month, day, hour, tf.cast(known, tf.float32)


# -- layers -------------------------------------------------------------------------------
@keras.saving.register_keras_serializable(package="seqkeras")
class ForecastEncoding(keras.layers.Layer):
    """Raw history rows → the recurrent encoder's per-step features.

    Per row, in this order (F = `output_dim` columns)::

        (x_j − mean_j) / std_j, NaN → 0     target and numeric covariates (1 + C):
                                            a missing value is imputed by the mean
        1[target is NaN]                    lets the model tell an imputed target apart
        one_hot(code_k, len(categories_k))  per categorical column; code −1, NaN or out
                                            of range → all zeros (an unseen category)
        calendar_features(row time)         2·len(layout.calendar); zeros when a time
                                            part is missing

    Args:
        layout: the `FeatureLayout` (or its config dict).
        mean, std: floats [1 + C], the numeric slice's training statistics.

    Call args:
        history: float32 ``[B, T, layout.width]``.

    Returns:
        float32 ``[B, T, F]``.
    """

    def __init__(self, layout, mean, std, **kwargs):
        super().__init__(**kwargs)
        self.layout = _as_layout(layout)
        self.mean, self.std = _statistics(self.layout, mean, std)

    @property
    def output_dim(self) -> int:
        layout = self.layout
        return (len(self.mean) + 1 + sum(len(categories) for _, categories in layout.categorical)
                + 2 * len(layout.calendar))

    def build(self, history_shape):
        if history_shape[-1] != self.layout.width:
            raise ValueError(f"{self.name} expects rows of layout.width = {self.layout.width} values "
                             f"{self.layout.names}, received shape {tuple(history_shape)}")
        self.built = True

    def call(self, history):
        rows = tf.cast(history, tf.float32)
        numeric = rows[..., self.layout.numeric_slice]
        normalized = (numeric - tf.constant(self.mean, tf.float32)) / tf.constant(self.std, tf.float32)
        missing = tf.math.is_nan(numeric)
        parts = [tf.where(missing, 0.0, normalized), tf.cast(missing[..., :1], tf.float32)]
        start = self.layout.categorical_slice.start
        for k, (_, categories) in enumerate(self.layout.categorical):
            codes = rows[..., start + k]
            codes = tf.cast(tf.round(tf.where(tf.math.is_nan(codes), -1.0, codes)), tf.int32)
            parts.append(tf.one_hot(codes, len(categories), dtype=tf.float32))  # −1 / ≥ K → zeros
        if self.layout.calendar:
            year, month, day, hour, known = _time_columns(rows)
            parts.append(calendar_features(year, month, day, hour, self.layout.calendar) * known[..., None])
        return tf.concat(parts, axis=-1)

    def compute_output_shape(self, history_shape):
        return (*history_shape[:-1], self.output_dim)

    def get_config(self):
        config = super().get_config()
        config.update({"layout": _layout_config(self.layout), "mean": list(self.mean), "std": list(self.std)})
        return config


@keras.saving.register_keras_serializable(package="seqkeras")
class FutureCovariates(keras.layers.Layer):
    """The known future inputs: calendar features of the H forecast times.

    The forecast times follow the last history row's time by 1…H steps of
    ``layout.step_hours`` (`future_times`). With no calendar features the only known
    future input is the step position k / H (k = 1…H), so the decoder still gets a
    per-step input.

    Call args:
        history: float32 ``[B, T, layout.width]`` (only the last row's time is read).

    Returns:
        float32 ``[B, H, 2·len(layout.calendar)]``, or ``[B, H, 1]`` without calendar.
    """

    def __init__(self, layout, horizon, **kwargs):
        super().__init__(**kwargs)
        self.layout = _as_layout(layout)
        self.horizon = _positive_int("horizon", horizon)

    @property
    def output_dim(self) -> int:
        return 2 * len(self.layout.calendar) or 1

    def call(self, history):
        rows = tf.cast(history, tf.float32)
        if not self.layout.calendar:
            steps = tf.range(1, self.horizon + 1, dtype=tf.float32) / self.horizon
            return tf.tile(steps[None, :, None], [tf.shape(rows)[0], 1, 1])
        year, month, day, hour, _ = _time_columns(rows[:, -1])
        times = future_times(year, month, day, hour, self.layout.step_hours, self.horizon)
        return calendar_features(*times, self.layout.calendar)

    def compute_output_shape(self, history_shape):
        return (history_shape[0], self.horizon, self.output_dim)

    def get_config(self):
        config = super().get_config()
        config.update({"layout": _layout_config(self.layout), "horizon": self.horizon})
        return config


@keras.saving.register_keras_serializable(package="seqkeras")
class ForecastOutput(keras.layers.Layer):
    """Head outputs (normalized) → non-crossing forecasts in original units.

    1. non-crossing: q_c = z_c at the point column c, the other columns step away
       from it by cumulative softplus (see the module docstring);
    2. ``residual``: every q is shifted by the last observed normalized target of the
       window (0 if the whole window's target is missing) — the head learns the
       change from persistence, which is what is left to learn in a smooth series.
       The shift is the same for all columns, so the order of 1 and 2 does not matter;
    3. q · std_0 + mean_0.

    Args:
        layout, mean, std: as `ForecastEncoding` (only the target's are used).
        quantiles: the sorted quantile levels, or ``()`` for a point forecast.
        residual: add the persistence base.

    Call args:
        outputs: float ``[B, H, Q]``, the head's normalized outputs.
        history: float32 ``[B, T, layout.width]``, the raw rows.

    Returns:
        float32 ``[B, H, Q]``.
    """

    def __init__(self, layout, mean, std, quantiles=(), residual=True, **kwargs):
        super().__init__(**kwargs)
        self.layout = _as_layout(layout)
        self.mean, self.std = _statistics(self.layout, mean, std)
        self.quantiles = _check_quantiles(quantiles)
        self.residual = bool(residual)

    def last_observed(self, history):
        """The last non-missing target of each window, normalized: float32 [B] (0 if none)."""
        target = tf.cast(history, tf.float32)[..., self.layout.target_index]  # [B, T]
        observed = tf.logical_not(tf.math.is_nan(target))
        steps = tf.shape(target)[1]
        position = tf.reduce_max(tf.where(observed, tf.range(steps)[None, :], -1), axis=1)  # [B], −1 = none
        value = tf.gather(tf.where(observed, target, 0.0), tf.maximum(position, 0), batch_dims=1)
        normalized = (value - self.mean[0]) / self.std[0]
        return tf.where(position >= 0, normalized, 0.0)

    def call(self, outputs, history):
        z = tf.cast(outputs, tf.float32)
        if len(self.quantiles) > 1:
            c = point_column(self.quantiles)
            center = z[..., c:c + 1]
            below = tf.cumsum(tf.nn.softplus(z[..., :c]), axis=-1, reverse=True)  # q_c − q_i, i < c
            above = tf.cumsum(tf.nn.softplus(z[..., c + 1:]), axis=-1)  # q_i − q_c, i > c
            z = tf.concat([center - below, center, center + above], axis=-1)
        if self.residual:
            z = z + self.last_observed(history)[:, None, None]
        return z * self.std[0] + self.mean[0]

    def compute_output_shape(self, outputs_shape, history_shape=None):
        return tuple(outputs_shape)

    def get_config(self):
        config = super().get_config()
        config.update({"layout": _layout_config(self.layout), "mean": list(self.mean), "std": list(self.std),
                       "quantiles": list(self.quantiles), "residual": self.residual})
        return config


# -- the model ----------------------------------------------------------------------------
def build_forecaster(layout: FeatureLayout, mean, std, history: int, horizon: int,
                     quantiles=(0.1, 0.5, 0.9), cell: str = "lstm", cell_options: dict | None = None,
                     units: int = 64, layers: int = 1, bidirectional: bool = False, head: str = "direct",
                     dropout: float = 0.0, residual: bool = True, jit_compile="auto", kind: str = "rnn",
                     kernel_size: int = 2, dilation_cycle: int = 0, name: str = "forecaster") -> keras.Model:
    """The forecaster as a Functional `keras.Model` (see the module docstring).

    Args:
        layout: the row layout (`FeatureLayout`).
        mean, std: floats [1 + len(layout.covariates)]: training-span mean and std of
            the numeric slice (target first), in original units.
        history: T, rows per input window.
        horizon: H, steps forecast after the window's last row.
        quantiles: strictly increasing levels in (0, 1); ``()`` for a point forecast.
        cell: a `seqkeras.encoders.make_cell` name (``"lstm"``, ``"gru"``, ``"lstm:cifg"``, ...).
        cell_options: keyword arguments of every cell.
        units: state size of every cell and width of the direct head's hidden layer.
        layers: levels of the encoder (and of the decoder head).
        bidirectional: deep bidirectional encoder.
        head: ``"direct"`` (all H steps from one MLP) or ``"decoder"`` (a recurrent
            decoder over the H future covariates).
        dropout: variational dropout on every encoder / decoder level's input, and
            dropout before the direct head's output layer.
        residual: forecast the change from the last observed target (persistence).
        jit_compile: passed to the recurrent layers (True, False, "step", "auto").
        kind: the encoder: ``"rnn"`` (the cells above) or ``"dilated_cnn"`` (a
            `DilatedCausalConv` of `layers` gated layers with `units` channels, its last
            step into the direct head; `cell`, `bidirectional` and `dropout` between
            levels do not apply).
        kernel_size, dilation_cycle: of the ``"dilated_cnn"`` encoder.
        name: the model's name.

    Returns:
        A model with one input ``"history"`` float32 ``[B, T, layout.width]`` (raw
        rows, NaN = missing) and output float32 ``[B, H, Q]`` in the target's
        original units, Q = max(len(quantiles), 1), non-decreasing along the last axis.
    """
    layout = _as_layout(layout)
    mean, std = _statistics(layout, mean, std)
    history = _positive_int("history", history)
    horizon = _positive_int("horizon", horizon)
    units = _positive_int("units", units)
    layers = _positive_int("layers", layers)
    quantiles = _check_quantiles(quantiles)
    if head not in HEADS:
        raise ValueError(f"Argument `head` must be one of {list(HEADS)}, received head={head!r}")
    if kind not in KINDS:
        raise ValueError(f"Argument `kind` must be one of {list(KINDS)}, received kind={kind!r}")
    if kind == "dilated_cnn" and (head != "direct" or bidirectional):
        raise ValueError(f"kind='dilated_cnn' is a causal encoder with the direct head: received head={head!r}, "
                         f"bidirectional={bidirectional!r}")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"Argument `dropout` must be in [0, 1), received dropout={dropout!r}")
    width = max(len(quantiles), 1)

    # float32 for the layers that read raw rows: original units (e.g. years, 1e4-sized
    # targets) must not be rounded to a mixed-precision compute dtype before normalizing.
    rows = keras.Input((history, layout.width), name="history", dtype="float32")
    features = ForecastEncoding(layout, mean, std, dtype="float32", name="encoding")(rows)
    future = FutureCovariates(layout, horizon, dtype="float32", name="future_covariates")(rows)
    if kind == "dilated_cnn":
        encoder = DilatedCausalConv(units, layers, kernel_size=kernel_size, dilation_cycle=dilation_cycle,
                                    return_sequences=False, name="encoder")
    else:
        cells = [make_cell(cell, units, cell_options) for _ in range(layers)]
        encoder = StackedRecurrent(cells, bidirectional=bidirectional, return_state=head == "decoder",
                                   dropout=dropout, jit_compile=jit_compile, name="encoder")
    if head == "direct":
        summary = encoder(features)
        x = keras.layers.Concatenate(name="head_inputs")([summary, keras.layers.Flatten(name="future_flat")(future)])
        x = keras.layers.Dense(units, activation="relu", name="head_hidden")(x)
        x = keras.layers.Dropout(dropout, name="head_dropout")(x)
        x = keras.layers.Dense(horizon * width, name="head_output")(x)
        outputs = keras.layers.Reshape((horizon, width), name="head_steps")(x)
    else:
        _, *states = encoder(features)
        x = future
        offset = 0
        for depth, encoder_cell in enumerate(cells):
            count = len(encoder_cell.state_size)
            decoder_cell = make_cell(cell, units, cell_options)
            if bidirectional:
                # Both directions' final states of this level → the decoder's state size:
                # the decoder runs forwards only, so it cannot take the backward states as-is.
                level = states[offset:offset + 2 * count]
                offset += 2 * count
                joined = keras.layers.Concatenate(name=f"bridge_inputs_{depth}")(level)
                initial = [keras.layers.Dense(size, activation="tanh", name=f"bridge_{depth}_{i}")(joined)
                           for i, size in enumerate(decoder_cell.state_size)]
            else:
                initial = states[offset:offset + count]  # same cell and units: the states fit as they are
                offset += count
            x = Recurrent(decoder_cell, return_sequences=True, dropout=dropout, jit_compile=jit_compile,
                          name=f"decoder_level_{depth}")(x, initial_state=initial)
        outputs = keras.layers.Dense(width, name="head_output")(x)  # per step: [B, H, Q]
    forecast = ForecastOutput(layout, mean, std, quantiles, residual, dtype="float32", name="forecast")(outputs, rows)
    return keras.Model(rows, forecast, name=name)


# -- loss and metric ----------------------------------------------------------------------
@keras.saving.register_keras_serializable(package="seqkeras")
class ForecastLoss(keras.losses.Loss):
    """Masked forecast loss in normalized units.

    With e = (y − ŷ) / scale over the non-missing truths:

        "pinball": mean over quantiles τ of max(τ·e_τ, (τ − 1)·e_τ)   (needs quantiles)
        "mae":     |e| at the point column (`point_column`)
        "mse":     e² at the point column

    averaged over the non-missing (b, h) entries of the batch: a window with many
    missing truths counts for fewer entries, and a batch without any gives 0. The
    result is already a scalar, so Keras's batch reduction leaves it unchanged
    (sample weights are not supported).

    Args:
        quantiles: the model's quantile levels (``()`` for a point model).
        kind: ``"pinball"``, ``"mae"`` or ``"mse"``.
        scale: the target's training std: dividing by it puts the loss in the
            normalized units the model works in, comparable across datasets.

    Call args:
        y_true: float ``[B, H]`` in original units, NaN = missing.
        y_pred: float ``[B, H, Q]``, the model's output.
    """

    def __init__(self, quantiles=(0.1, 0.5, 0.9), kind="pinball", scale=1.0, name="forecast_loss", **kwargs):
        super().__init__(name=name, **kwargs)
        self.quantiles = _check_quantiles(quantiles)
        if kind not in LOSSES:
            raise ValueError(f"Argument `kind` must be one of {list(LOSSES)}, received kind={kind!r}")
        if kind == "pinball" and not self.quantiles:
            raise ValueError("kind='pinball' needs quantiles; a point model (quantiles=()) trains with "
                             "'mae' or 'mse'")
        scale = float(scale)
        if not (math.isfinite(scale) and scale > 0):
            raise ValueError(f"Argument `scale` must be a positive number, received scale={scale!r}")
        self.kind, self.scale = kind, scale

    def call(self, y_true, y_pred):
        y_true = tf.cast(y_true, tf.float32)
        y_pred = tf.cast(y_pred, tf.float32)
        valid = tf.logical_not(tf.math.is_nan(y_true))
        # Replace missing truths BEFORE subtracting: NaN − ŷ would make the gradient NaN
        # even where the loss is masked out (0 · NaN = NaN in the backward pass).
        truth = tf.where(valid, y_true, 0.0)
        if self.kind == "pinball":
            levels = tf.constant(self.quantiles, tf.float32)
            error = (truth[..., None] - y_pred) / self.scale  # [B, H, Q]
            per_entry = tf.reduce_mean(tf.maximum(levels * error, (levels - 1.0) * error), axis=-1)
        else:
            error = (truth - y_pred[..., point_column(self.quantiles)]) / self.scale  # [B, H]
            per_entry = tf.abs(error) if self.kind == "mae" else tf.square(error)
        total = tf.reduce_sum(tf.where(valid, per_entry, 0.0))
        return total / tf.maximum(tf.reduce_sum(tf.cast(valid, tf.float32)), 1.0)

    def get_config(self):
        config = super().get_config()
        config.update({"quantiles": list(self.quantiles), "kind": self.kind, "scale": self.scale})
        return config


@keras.saving.register_keras_serializable(package="seqkeras")
class MaskedMAE(keras.metrics.Metric):
    """Mean absolute error in original units over the non-missing truths, across batches.

    Accumulates Σ|y − ŷ[..., column]| and the count of non-missing y; the result is
    their ratio (0 before any non-missing truth).

    Args:
        column: the output column compared with the truth (`point_column(quantiles)`).

    Update args:
        y_true: float ``[B, H]``, NaN = missing; y_pred: float ``[B, H, Q]``;
        sample_weight: optional ``[B]`` or ``[B, H]`` weights.
    """

    def __init__(self, column, name="mae", **kwargs):
        super().__init__(name=name, **kwargs)
        self.column = int(column)
        self.total = self.add_variable(shape=(), initializer="zeros", name="total")
        self.count = self.add_variable(shape=(), initializer="zeros", name="count")

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = tf.cast(y_true, tf.float32)
        y_pred = tf.cast(y_pred, tf.float32)[..., self.column]
        valid = tf.logical_not(tf.math.is_nan(y_true))
        weights = tf.cast(valid, tf.float32)
        if sample_weight is not None:
            sample_weight = tf.cast(sample_weight, tf.float32)
            if sample_weight.shape.rank == 1:
                sample_weight = sample_weight[:, None]
            weights = weights * sample_weight
        error = tf.where(valid, tf.abs(tf.where(valid, y_true, 0.0) - y_pred), 0.0)
        self.total.assign_add(tf.reduce_sum(error * weights))
        self.count.assign_add(tf.reduce_sum(weights))

    def result(self):
        return tf.math.divide_no_nan(self.total, self.count)

    def reset_state(self):
        self.total.assign(0.0)
        self.count.assign(0.0)

    def get_config(self):
        config = super().get_config()
        config.update({"column": self.column})
        return config
