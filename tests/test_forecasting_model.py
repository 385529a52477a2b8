"""Forecaster: calendar vs `datetime`, loss/metric vs NumPy, encoding vs NumPy, non-crossing, NaN-safety, save/load."""

import datetime
import doctest
import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from seqkeras.forecasting import calendar
from seqkeras.forecasting import model as model_module
from seqkeras.forecasting.layout import FeatureLayout
from seqkeras.forecasting.model import (ForecastEncoding, ForecastLoss, MaskedMAE, build_forecaster,
                                        point_column)

LAYOUT = FeatureLayout("y", covariates=("a", "b"), categorical=(("wind", ("N", "E", "S")), ("kind", ("p", "q"))),
                       frequency="hour", calendar=("hour", "day_of_week", "day_of_year"))
MEAN, STD = [10.0, -1.0, 3.0], [2.0, 0.5, 4.0]
EPOCH = datetime.date(1970, 1, 1)

SPECIAL_DATES = [(1970, 1, 1), (1969, 12, 31), (1900, 2, 28), (1900, 3, 1), (2000, 2, 29), (2000, 3, 1),
                 (2000, 12, 31), (2001, 1, 1), (1600, 2, 29), (2100, 2, 28), (2100, 3, 1), (2024, 2, 29),
                 (2023, 12, 31), (1, 1, 1), (9999, 12, 31), (1582, 10, 15)]


def _dates(count=1500, seed=0):
    """The special dates plus random ones between years 1 and 9999."""
    rng = np.random.default_rng(seed)
    ordinals = rng.integers(datetime.date(1, 1, 1).toordinal(), datetime.date(9999, 12, 31).toordinal(), count)
    return [datetime.date(*d) for d in SPECIAL_DATES] + [datetime.date.fromordinal(int(o)) for o in ordinals]


def _rows(batch, steps, seed=0, start=datetime.datetime(2011, 12, 30, 20)):
    """Random raw rows in LAYOUT order, one hour apart."""
    rng = np.random.default_rng(seed)
    x = np.zeros((batch, steps, LAYOUT.width), "float32")
    for b in range(batch):
        for t in range(steps):
            time = start + datetime.timedelta(hours=t + 7 * b)
            x[b, t, :4] = time.year, time.month, time.day, time.hour
    x[..., 4:7] = rng.normal(MEAN, STD, (batch, steps, 3))
    x[..., 7] = rng.integers(-1, 3, (batch, steps))
    x[..., 8] = rng.integers(-1, 2, (batch, steps))
    return x


def _model(**kwargs):
    keras.utils.set_random_seed(0)
    options = dict(history=6, horizon=3, units=4)
    options.update(kwargs)
    return build_forecaster(LAYOUT, MEAN, STD, **options)


# -- calendar -------------------------------------------------------------------------------
def test_calendar_matches_datetime():
    dates = _dates()
    year, month, day = (np.array([getattr(d, f) for d in dates]) for f in ("year", "month", "day"))
    days = calendar.days_from_civil(year, month, day).numpy()
    np.testing.assert_array_equal(days, [(d - EPOCH).days for d in dates])
    back = [v.numpy() for v in calendar.civil_from_days(days)]
    np.testing.assert_array_equal(back, [year, month, day])
    np.testing.assert_array_equal(calendar.day_of_year(year, month, day).numpy(),
                                  [d.timetuple().tm_yday for d in dates])
    np.testing.assert_array_equal(calendar.day_of_week(days).numpy(), [d.weekday() for d in dates])
    # float inputs (the row columns) give the same days
    np.testing.assert_array_equal(calendar.days_from_civil(year.astype("float32"), month.astype("float32"),
                                                           day.astype("float32")).numpy(), days)


def test_calendar_features_match_datetime():
    times = [datetime.datetime(*d, h) for d, h in zip(SPECIAL_DATES, range(0, 24, 2))]
    columns = np.array([[t.year, t.month, t.day, t.hour] for t in times], "float32").T
    names = ("day_of_year", "hour", "day_of_week")
    features = calendar.calendar_features(*columns, names).numpy()
    expected = []
    for t in times:
        row = []
        for value, period in ((t.timetuple().tm_yday, 365.25), (t.hour, 24), (t.weekday(), 7)):
            row += [math.sin(2 * math.pi * value / period), math.cos(2 * math.pi * value / period)]
        expected.append(row)
    np.testing.assert_allclose(features, expected, atol=1e-5)
    assert calendar.calendar_features(*columns, ()).shape == (len(times), 0)
    with pytest.raises(ValueError, match="names"):
        calendar.calendar_features(*columns, ("month",))


@pytest.mark.parametrize("step_hours", [1, 24])
def test_future_times_match_datetime(step_hours):
    starts = [datetime.datetime(1999, 12, 31, 22), datetime.datetime(2000, 2, 28, 23), datetime.datetime(1900, 2, 28),
              datetime.datetime(2023, 12, 30, 5), datetime.datetime(1969, 12, 31, 23)]
    columns = np.array([[t.year, t.month, t.day, t.hour] for t in starts], "float32").T
    horizon = 40
    got = np.stack([v.numpy() for v in calendar.future_times(*columns, step_hours, horizon)], -1)  # [B, H, 4]
    assert got.dtype == np.float32 and got.shape == (len(starts), horizon, 4)
    expected = [[[f.year, f.month, f.day, f.hour]
                 for f in (t + datetime.timedelta(hours=step_hours * k) for k in range(1, horizon + 1))]
                for t in starts]
    np.testing.assert_array_equal(got, expected)


# -- loss and metric ------------------------------------------------------------------------
def _pinball_reference(y_true, y_pred, quantiles, scale):
    valid = ~np.isnan(y_true)
    error = (y_true[..., None] - y_pred) / scale
    q = np.asarray(quantiles)
    loss = np.maximum(q * error, (q - 1) * error).mean(-1)
    return loss[valid].mean() if valid.any() else 0.0


def test_forecast_loss_matches_numpy():
    rng = np.random.default_rng(0)
    quantiles = (0.1, 0.5, 0.9)
    y_true = rng.normal(5, 3, (4, 6)).astype("float32")
    y_true[0, :3] = np.nan
    y_true[2] = np.nan
    y_pred = rng.normal(5, 3, (4, 6, 3)).astype("float32")
    scale = 2.5
    pinball = ForecastLoss(quantiles, "pinball", scale)(y_true, y_pred)
    np.testing.assert_allclose(pinball, _pinball_reference(y_true, y_pred, quantiles, scale), rtol=1e-5)
    valid = ~np.isnan(y_true)
    error = (y_true - y_pred[..., 1]) / scale
    np.testing.assert_allclose(ForecastLoss(quantiles, "mae", scale)(y_true, y_pred), np.abs(error[valid]).mean(),
                               rtol=1e-5)
    np.testing.assert_allclose(ForecastLoss(quantiles, "mse", scale)(y_true, y_pred), (error[valid] ** 2).mean(),
                               rtol=1e-5)
    # a point model: Q = 1, column 0
    np.testing.assert_allclose(ForecastLoss((), "mae", scale)(y_true, y_pred[..., :1]),
                               np.abs((y_true - y_pred[..., 0]) / scale)[valid].mean(), rtol=1e-5)
    config = ForecastLoss(quantiles, "mse", scale).get_config()
    restored = ForecastLoss.from_config(config)
    assert (restored.quantiles, restored.kind, restored.scale) == ([0.1, 0.5, 0.9], "mse", 2.5)


@pytest.mark.parametrize("kind", ["pinball", "mae", "mse"])
def test_forecast_loss_missing_truth_gives_finite_gradients(kind):
    y_pred = tf.Variable(np.random.default_rng(1).normal(size=(2, 3, 3)).astype("float32"))
    loss = ForecastLoss((0.2, 0.5, 0.8), kind, 1.5)
    for y_true in (np.full((2, 3), np.nan, "float32"), np.array([[1, np.nan, 2], [np.nan] * 3], "float32")):
        with tf.GradientTape() as tape:
            value = loss(y_true, y_pred)
        gradient = tape.gradient(value, y_pred).numpy()
        assert np.isfinite(value.numpy()) and np.all(np.isfinite(gradient))
        if np.isnan(y_true).all():
            assert value.numpy() == 0.0 and not gradient.any()
        else:
            assert not gradient[1].any() and not gradient[0, 1].any()  # masked entries get no gradient


def test_forecast_loss_rejects_bad_arguments():
    with pytest.raises(ValueError, match="quantiles"):
        ForecastLoss((0.9, 0.1), "pinball", 1.0)
    with pytest.raises(ValueError, match="pinball"):
        ForecastLoss((), "pinball", 1.0)
    with pytest.raises(ValueError, match="kind"):
        ForecastLoss((0.5,), "huber", 1.0)
    with pytest.raises(ValueError, match="scale"):
        ForecastLoss((0.5,), "mae", 0.0)


def test_masked_mae_accumulates_over_batches():
    rng = np.random.default_rng(2)
    metric = MaskedMAE(2)
    assert metric.result().numpy() == 0.0
    truths, predictions = [], []
    for _ in range(3):
        y_true = rng.normal(size=(3, 4)).astype("float32")
        y_true[rng.random((3, 4)) < 0.4] = np.nan
        y_pred = rng.normal(size=(3, 4, 3)).astype("float32")
        metric.update_state(y_true, y_pred)
        truths.append(y_true)
        predictions.append(y_pred[..., 2])
    truth, prediction = np.concatenate(truths), np.concatenate(predictions)
    valid = ~np.isnan(truth)
    np.testing.assert_allclose(metric.result(), np.abs(truth - prediction)[valid].mean(), rtol=1e-5)
    metric.update_state(np.full((2, 4), np.nan, "float32"), np.zeros((2, 4, 3), "float32"))  # adds nothing
    np.testing.assert_allclose(metric.result(), np.abs(truth - prediction)[valid].mean(), rtol=1e-5)
    assert MaskedMAE.from_config(metric.get_config()).column == 2
    metric.reset_state()
    assert metric.result().numpy() == 0.0


def test_point_column():
    assert point_column(()) == 0
    assert point_column((0.1, 0.5, 0.9)) == 1
    assert point_column((0.05, 0.1, 0.5)) == 2
    assert point_column((0.1, 0.25, 0.75, 0.9)) == 2
    assert point_column((0.3,)) == 0


# -- the model ------------------------------------------------------------------------------
def _encoding_reference(x):
    """NumPy reimplementation of `ForecastEncoding` for LAYOUT."""
    numeric = x[..., 4:7]
    normalized = np.where(np.isnan(numeric), 0.0, (numeric - MEAN) / STD)
    parts = [normalized, np.isnan(x[..., 4:5]).astype("float64")]
    for column, count in ((7, 3), (8, 2)):
        codes = x[..., column]
        parts.append(np.stack([(codes == k) for k in range(count)], -1).astype("float64"))  # NaN / −1 → zeros
    known = ~np.isnan(x[..., :4]).any(-1)
    calendar_parts = np.zeros(x.shape[:-1] + (6,))
    for index in np.ndindex(*x.shape[:-1]):
        if known[index]:
            year, month, day, hour = (int(v) for v in x[index][:4])
            date = datetime.date(year, month, day)
            row = []
            for value, period in ((hour, 24), (date.weekday(), 7), (date.timetuple().tm_yday, 365.25)):
                row += [math.sin(2 * math.pi * value / period), math.cos(2 * math.pi * value / period)]
            calendar_parts[index] = row
    return np.concatenate(parts + [calendar_parts], -1)


def test_encoding_matches_numpy():
    x = _rows(3, 5)
    x[0, 1, 4] = np.nan  # target missing
    x[1, 2, 5] = np.nan  # covariate missing
    x[2, 0, 7] = np.nan  # category missing
    x[2, 3, 3] = np.nan  # time missing → calendar zeros
    layer = ForecastEncoding(LAYOUT, MEAN, STD)
    got = layer(x).numpy()
    assert got.shape == (3, 5, layer.output_dim) == (3, 5, 3 + 1 + 5 + 6)
    np.testing.assert_allclose(got, _encoding_reference(x), atol=1e-5)
    # the model's own encoding layer is reachable by name and serializable
    model = _model()
    np.testing.assert_allclose(model.get_layer("encoding")(x).numpy(), got, atol=1e-6)
    np.testing.assert_allclose(ForecastEncoding.from_config(layer.get_config())(x).numpy(), got, atol=1e-6)


@pytest.mark.parametrize("head,bidirectional,layers,cell,quantiles", [
    ("direct", False, 1, "lstm", (0.1, 0.5, 0.9)),
    ("direct", True, 2, "gru", ()),
    ("decoder", False, 2, "lstm:cifg", (0.1, 0.5, 0.9)),
    ("decoder", True, 1, "gru", (0.05, 0.25, 0.75, 0.95)),
    ("decoder", True, 2, "lstm", ()),
])
def test_output_shape_and_quantiles_never_cross(head, bidirectional, layers, cell, quantiles):
    model = _model(head=head, bidirectional=bidirectional, layers=layers, cell=cell, quantiles=quantiles)
    assert model.input.name == "history" or model.inputs[0].name == "history"
    # random weights far from the initial ones, random (large) inputs: the order must still hold
    rng = np.random.default_rng(3)
    for weight in model.trainable_weights:
        weight.assign(rng.normal(0, 2, weight.shape).astype("float32"))
    x = _rows(4, 6, seed=4)
    x[..., 4:7] *= rng.normal(0, 30, x[..., 4:7].shape)
    y = model(x).numpy()
    assert y.dtype == np.float32 and y.shape == (4, 3, max(len(quantiles), 1))
    assert np.all(np.isfinite(y))
    assert np.all(np.diff(y, axis=-1) >= 0)


@pytest.mark.parametrize("head", ["direct", "decoder"])
def test_missing_values_anywhere_give_finite_forecasts(head):
    model = _model(head=head)
    x = _rows(5, 6, seed=5)
    rng = np.random.default_rng(6)
    x[0][rng.random(x[0].shape) < 0.5] = np.nan  # anywhere, time columns included
    x[1, :, 4] = np.nan  # the whole window's target
    x[2] = np.nan  # everything
    x[3, -1, :4] = np.nan  # the last row's time (future times fall back to a fixed date)
    y = model(x).numpy()
    assert np.all(np.isfinite(y)) and np.all(np.diff(y, axis=-1) >= 0)


def test_zero_head_forecasts_persistence():
    """With the head's output zeroed, the median is the last observed target (residual=True)."""
    model = _model(quantiles=(0.1, 0.5, 0.9))
    head = model.get_layer("head_output")
    head.set_weights([np.zeros_like(w) for w in head.get_weights()])
    x = _rows(3, 6, seed=7)
    x[0, -2:, 4] = np.nan  # last observed is at t = 3
    x[1, :, 4] = np.nan  # nothing observed: the training mean
    y = model(x).numpy()
    np.testing.assert_allclose(y[0, :, 1], x[0, 3, 4], rtol=1e-5)
    np.testing.assert_allclose(y[1, :, 1], MEAN[0], rtol=1e-5)
    np.testing.assert_allclose(y[2, :, 1], x[2, -1, 4], rtol=1e-5)
    spread = math.log(2.0) * STD[0]  # softplus(0) in normalized units
    np.testing.assert_allclose(y[..., 2] - y[..., 1], spread, rtol=1e-4)
    np.testing.assert_allclose(y[..., 1] - y[..., 0], spread, rtol=1e-4)
    # without the residual, the same zero head forecasts the training mean
    flat = _model(quantiles=(0.1, 0.5, 0.9), residual=False)
    head = flat.get_layer("head_output")
    head.set_weights([np.zeros_like(w) for w in head.get_weights()])
    np.testing.assert_allclose(flat(x).numpy()[..., 1], MEAN[0], rtol=1e-5)


def test_calendar_free_layout_and_daily_frequency():
    layout = FeatureLayout("y", frequency="day", calendar=())
    keras.utils.set_random_seed(0)
    for head in ("direct", "decoder"):
        model = build_forecaster(layout, [0.0], [1.0], history=4, horizon=2, units=3, head=head, quantiles=())
        assert model(np.ones((2, 4, layout.width), "float32")).shape == (2, 2, 1)


def test_build_forecaster_rejects_bad_arguments():
    with pytest.raises(ValueError, match="quantiles"):
        _model(quantiles=(0.5, 0.1))
    with pytest.raises(ValueError, match="quantiles"):
        _model(quantiles=(0.0, 0.5))
    with pytest.raises(ValueError, match="head"):
        _model(head="attention")
    with pytest.raises(ValueError, match="mean"):
        build_forecaster(LAYOUT, [0.0], STD, 6, 3)
    with pytest.raises(ValueError, match="horizon"):
        _model(horizon=0)
    with pytest.raises(ValueError, match="cell"):
        _model(cell="transformer")


@pytest.mark.parametrize("head", ["direct", "decoder"])
def test_save_load_and_rebuild_give_identical_predictions(tmp_path, head):
    model = _model(head=head, bidirectional=head == "decoder")
    rng = np.random.default_rng(8)
    for weight in model.trainable_weights:  # differ from a fresh model's weights
        weight.assign(weight + rng.normal(0, 0.1, weight.shape).astype("float32"))
    x = _rows(2, 6, seed=9)
    x[0, 2, 5] = np.nan
    expected = model(x).numpy()
    path = str(tmp_path / "forecaster.keras")
    model.save(path)
    np.testing.assert_allclose(keras.models.load_model(path)(x).numpy(), expected, atol=1e-6)
    model.save_weights(str(tmp_path / "forecaster.weights.h5"))
    rebuilt = _model(head=head, bidirectional=head == "decoder")
    assert not np.allclose(rebuilt(x).numpy(), expected)
    rebuilt.load_weights(str(tmp_path / "forecaster.weights.h5"))
    np.testing.assert_allclose(rebuilt(x).numpy(), expected, atol=1e-6)


def test_tiny_fit_on_a_sine_reduces_the_loss():
    keras.utils.set_random_seed(0)
    layout = FeatureLayout("y", frequency="hour", calendar=("hour",))
    history, horizon = 12, 4
    start = datetime.datetime(2020, 1, 1)
    count = 64 + history + horizon
    times = [start + datetime.timedelta(hours=t) for t in range(count)]
    series = 50 + 10 * np.sin(2 * np.pi * np.arange(count) / 24)
    rows = np.array([[t.year, t.month, t.day, t.hour, v] for t, v in zip(times, series)], "float32")
    x = np.stack([rows[i:i + history] for i in range(64)])
    y = np.stack([series[i + history:i + history + horizon] for i in range(64)]).astype("float32")
    y[::5, 1] = np.nan  # missing truths are masked
    model = build_forecaster(layout, [50.0], [7.0], history, horizon, units=8, cell="gru")
    quantiles = (0.1, 0.5, 0.9)
    model.compile(keras.optimizers.Adam(0.02), loss=ForecastLoss(quantiles, "pinball", 7.0),
                  metrics=[MaskedMAE(point_column(quantiles))])
    before = model.evaluate(x, y, verbose=0, return_dict=True)
    model.fit(x, y, batch_size=16, epochs=6, verbose=0)
    after = model.evaluate(x, y, verbose=0, return_dict=True)
    assert after["loss"] < 0.5 * before["loss"] and np.isfinite(after["loss"])
    assert after["mae"] < before["mae"]


@pytest.mark.parametrize("module", [calendar, model_module])
def test_docstring_examples(module):
    keras.utils.set_random_seed(0)
    assert doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE).failed == 0
