"""Serving a forecaster: raw CSV rows (or arrays) in, forecasts in original units out.

`ForecastServer(model, data, missing_values).export("saved_models", "pm25_forecast")` writes
a SavedModel whose graph holds everything between a client's rows and the answer: CSV
splitting, time parsing, category coding, (inside the model) imputation, calendar
features, normalization and denormalization. It loads with `tf.saved_model.load` where
seqkeras is not installed.

Signatures:

``serving_default`` (also ``forecast``)
    ``rows`` string[B, T]: the T lines of the history window exactly as they appear in
    the data file (no header, oldest first; a trailing ``\\r`` is ignored).
``forecast_tensor``
    ``history`` float32[B, T, F]: the same rows as numbers, in the order of the
    ``feature_names`` output (year, month, day, hour, target, covariates, category
    codes; NaN = missing). A category's code is its index in that column's row of the
    ``categories`` output.

Both return ``forecast`` float32[B, H] (the median, or the point forecast),
``quantiles`` float32[B, H, Q] (Q = 0 for a point model), ``quantile_levels`` float32[Q],
``horizon_steps`` int32[H] (1…H, in rows of the series' frequency after the last
history row), ``history_length`` int32[] (T: how many rows to send),
``feature_names`` string[F] and ``categories`` string[K, C] (each categorical column's
training categories in code order, "" padded). Outputs without a batch axis need TF Serving's columnar
request format (``{"inputs": ...}``); the row format (``"instances"``) requires every
output to be batched.

Bad requests (the contract a client relies on):

* not T rows, a row with the wrong number of fields, a time that does not parse or is
  not a whole hour (a daily series: hour 0), rows that are not consecutive steps oldest
  first (a time missing from the data file is sent as a row of missing-value markers),
  or a number that does not parse (other than a missing-value marker) → InvalidArgument
  error naming the problem; the server stays up.
* a missing value (a marker such as ``NA`` in a row, NaN or ±inf in an array) → imputed
  exactly as in training: the forecast is defined and finite.
* an unknown category → no category (code −1), as for values first seen after training.
* an empty batch → empty outputs.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from seqkeras.forecasting.data import ForecastData
from seqkeras.forecasting.calendar import days_from_civil
from seqkeras.forecasting.layout import ISO_TIME
from seqkeras.forecasting.model import point_column
from seqkeras.serving import Exporter, WarmupRequest

FORECAST_SIGNATURE = "forecast"
TENSOR_SIGNATURE = "forecast_tensor"
NUMBER = r"\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*"


class ForecastServer(Exporter):
    """The serving module of a trained forecaster.

    Args:
        model: the forecaster (``float32[B, T, F] → float32[B, H, Q']``, original units).
        data: its `ForecastData` (layout, file header, a real window for warm-up).
        quantiles: the model's quantile levels ([] = a point model).
        missing_values: the markers a row may use for a missing value.
    """

    def __init__(self, model, data: ForecastData, quantiles, missing_values, name="forecast_server"):
        super().__init__(name=name)
        self.model = model
        self.layout = data.layout
        self.history = data.history
        self.horizon = data.horizon
        self.levels = [float(q) for q in quantiles]
        self.point = point_column(self.levels)
        series = data.series
        self.fields = len(series.header)
        self.time_index = [series.header.index(c) for c in series.time_columns]
        self.value_index = [series.header.index(c) for c in series.value_columns]
        self.category_index = [series.header.index(c) for c in series.categorical_columns]
        self.categories = [tf.constant(list(c) or [""], tf.string) for _, c in self.layout.categorical]
        self.category_counts = [len(c) for _, c in self.layout.categorical]
        self.missing = tf.constant(list(missing_values) or ["NA"], tf.string)
        self.feature_names = tf.constant(self.layout.names, tf.string)
        widest = max([len(c) for _, c in self.layout.categorical] + [0])
        self.category_table = tf.constant([list(c) + [""] * (widest - len(c)) for _, c in self.layout.categorical],
                                          tf.string, shape=[len(self.layout.categorical), widest])
        self.warmup_rows = _warmup_rows(data)
        self.forecast = tf.function(self._forecast, input_signature=[
            tf.TensorSpec([None, None], tf.string, name="rows")])
        self.forecast_tensor = tf.function(self._forecast_tensor, input_signature=[
            tf.TensorSpec([None, None, None], tf.float32, name="history")])

    # -- parsing -------------------------------------------------------------------------
    def parse(self, rows):
        """string[B, T] CSV lines → float32[B, T, F] layout rows (NaN = missing)."""
        lines = tf.strings.regex_replace(rows, "\r$", "")
        fields = tf.strings.split(lines, ",")                       # ragged [B, T, fields]
        counts = fields.row_lengths(axis=-1)
        check = tf.debugging.assert_equal(counts, tf.cast(self.fields, counts.dtype), message=(
            f"every row must have the data file's {self.fields} comma-separated fields"))
        with tf.control_dependencies([check]):
            # A fixed field axis: an empty batch still has every column to index.
            fields = tf.reshape(fields.to_tensor(default_value="", shape=[None, None, self.fields]),
                                tf.concat([tf.shape(rows), [self.fields]], axis=0))
        fields = tf.strings.regex_replace(fields, r'^\s*"?|"?\s*$', "")
        time = self._parse_time(fields)
        values = [self._number(fields[..., i], name) for i, name in
                  zip(self.value_index, [self.layout.target, *self.layout.covariates])]
        codes = [self._code(fields[..., i], c) for i, c in zip(self.category_index, self.categories)]
        return tf.concat([time, tf.stack(values + codes, axis=-1)], axis=-1)

    def _parse_time(self, fields):
        # The checks cannot order the graph's ops: every conversion reads sanitised text
        # ("0" where a check fails), so the failed check, not the conversion, reports.
        if len(self.time_index) == 1:
            text = fields[..., self.time_index[0]]
            valid = tf.strings.regex_full_match(text, ISO_TIME)
            tf.debugging.Assert(tf.reduce_all(valid), ["the time column must be YYYY-MM-DD[ HH[:MM[:SS]]], "
                                                       "received", tf.boolean_mask(text, ~valid)], summarize=3)
            # A date alone is 00:00:00; "HH" or "HH:MM" get the zero minutes and seconds they lack.
            padded = tf.where(valid, text, "0000-00-00") + "T00:00:00"
            parts = [tf.strings.substr(padded, start, 2 + 2 * (start == 0))
                     for start in (0, 5, 8, 11, 14, 17)]
            whole_hours = tf.reduce_all(tf.equal(tf.stack(parts[4:], -1), "00"))
            tf.debugging.Assert(whole_hours, ["times must be whole hours (minutes and seconds 00)"])
            parts = parts[:4]
        else:
            parts = [fields[..., i] for i in self.time_index]
            valid = tf.reduce_all(tf.strings.regex_full_match(tf.stack(parts, -1), r"\s*\d+(\.0*)?\s*"), -1)
            tf.debugging.Assert(tf.reduce_all(valid), ["the time columns must be whole numbers, received",
                                                       tf.boolean_mask(tf.stack(parts, -1), ~valid)], summarize=4)
            parts = [tf.where(valid, p, "0") for p in parts]
            parts += [tf.fill(tf.shape(parts[0]), "0")] * (4 - len(parts))
        time = tf.stack([tf.strings.to_number(p, tf.float32) for p in parts], axis=-1)
        if self.layout.frequency == "day":
            tf.debugging.Assert(tf.reduce_all(time[..., 3] == 0), ["a daily series has rows at hour 0 only"])
        return time

    def _number(self, text, column):
        missing = tf.reduce_any(tf.equal(text[..., tf.newaxis], self.missing), axis=-1)
        number = tf.strings.regex_full_match(text, NUMBER)
        tf.debugging.Assert(tf.reduce_all(missing | number),
                            [f"column {column} must hold numbers or a missing-value marker, received",
                             tf.boolean_mask(text, ~(missing | number))], summarize=3)
        value = tf.strings.to_number(tf.where(number, text, "0"), tf.float32)
        return tf.where(missing, tf.constant(np.nan, tf.float32), value)

    def _code(self, text, categories):
        missing = tf.reduce_any(tf.equal(text[..., tf.newaxis], self.missing), axis=-1)
        match = tf.equal(text[..., tf.newaxis], categories)
        code = tf.where(tf.reduce_any(match, axis=-1), tf.cast(tf.argmax(tf.cast(match, tf.int32), -1), tf.float32),
                        -1.0)
        return tf.where(missing, tf.constant(np.nan, tf.float32), code)

    # -- signatures ----------------------------------------------------------------------
    def _answer(self, history):
        checks = [
            tf.debugging.assert_equal(tf.shape(history)[1], self.history, message=(
                f"send exactly {self.history} history rows per request (the model's history_length)")),
            tf.debugging.assert_equal(tf.shape(history)[2], self.layout.width, message=(
                f"each row has {self.layout.width} features: {', '.join(self.layout.names)}"))]
        with tf.control_dependencies(checks):                      # report before slicing or the model
            history = tf.identity(history)
        time = history[..., :4]
        finite = tf.debugging.Assert(tf.reduce_all(tf.math.is_finite(time)),
                                     ["the time features (year, month, day, hour) must be finite numbers"])
        with tf.control_dependencies([finite]):
            hours = days_from_civil(time[..., 0], time[..., 1], time[..., 2]) * 24 + tf.cast(time[..., 3], tf.int32)
        # The model reads rows as consecutive steps and dates the forecast from the last one.
        steady = tf.debugging.Assert(tf.reduce_all(hours[:, 1:] - hours[:, :-1] == self.layout.step_hours), [
            f"rows must be consecutive {self.layout.frequency}s, oldest first (send a missing time as a row "
            "of missing-value markers)"])
        with tf.control_dependencies([steady]):
            values = tf.identity(history[..., 4:])
        history = tf.concat([time, tf.where(tf.math.is_finite(values), values, np.nan)], axis=-1)
        outputs = tf.cast(self.model(history, training=False), tf.float32)
        quantiles = outputs if self.levels else outputs[..., :0]
        return {
            "forecast": outputs[..., self.point],
            "quantiles": quantiles,
            "quantile_levels": tf.constant(self.levels, tf.float32, shape=[len(self.levels)]),
            "horizon_steps": tf.range(1, self.horizon + 1, dtype=tf.int32),
            "history_length": tf.constant(self.history, tf.int32),
            "feature_names": self.feature_names,
            "categories": self.category_table,
        }

    def _forecast(self, rows):
        return self._answer(self.parse(rows))

    def _forecast_tensor(self, history):
        return self._answer(history)

    def signatures(self):
        forecast = self.forecast.get_concrete_function()
        return {"serving_default": forecast, FORECAST_SIGNATURE: forecast,
                TENSOR_SIGNATURE: self.forecast_tensor.get_concrete_function()}

    def warmup_requests(self):
        lines, numbers = self.warmup_rows
        return [WarmupRequest("serving_default", {"rows": np.array([lines], object)}),
                WarmupRequest(TENSOR_SIGNATURE, {"history": numbers[np.newaxis]})]

    def check_outputs(self, outputs):
        """The warm-up forecasts of both signatures must be finite and agree."""
        rows, tensor = outputs["serving_default"]["forecast"], outputs[TENSOR_SIGNATURE]["forecast"]
        if rows.shape != (1, self.horizon) or not np.all(np.isfinite(rows)):
            raise RuntimeError(f"exported forecaster returned invalid forecasts {rows}")
        if not np.allclose(rows, tensor, rtol=1e-4, atol=1e-4):
            raise RuntimeError(f"the row and tensor signatures disagree: {rows} vs {tensor}")


def _warmup_rows(data: ForecastData) -> tuple[list[str], np.ndarray]:
    """The last complete history window of the validation span: its file lines and rows."""
    first_validation, first_test, _ = data.bounds
    for end in range(first_test - data.horizon, data.history - 1, -1):
        if (data.series.lines[end - data.history:end] > 0).all():
            return data.series.raw_rows(end - data.history, end), data.rows[end - data.history:end]
    raise ValueError("no window of the series without a gap for the warm-up request")
