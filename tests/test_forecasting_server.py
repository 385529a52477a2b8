"""The forecasting export: raw CSV rows parsed in the graph exactly as in training,
served without seqkeras, and every bad request answered by a defined output or a clear error."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from seqkeras.forecasting.application import ForecastingApplication
from seqkeras.forecasting.server import TENSOR_SIGNATURE, ForecastServer
from seqkeras.forecasting.spec import DataSpec, ModelSpec, Spec
from without_seqkeras import call_signatures


def hourly_file(path):
    rng = np.random.default_rng(1)
    lines = ["No,year,month,day,hour,pm,dew,wind"]
    for i in range(24 * 6):
        day, hour = divmod(i, 24)
        pm = "NA" if i % 17 == 3 else f"{40 + 10 * np.sin(i / 4) + rng.normal():.1f}"
        lines.append(f"{i + 1},2021,3,{day + 1},{hour},{pm},{rng.normal():.2f},{['NE', 'cv', 'SE'][i % 3]}")
    path.write_text("\n".join(lines) + "\n")
    return dict(time_columns=["year", "month", "day", "hour"], frequency="hour", target="pm",
                covariates=["dew"], categorical=["wind"], calendar=["hour", "day_of_week", "day_of_year"],
                validation_start="2021-03-04", test_start="2021-03-06", history=12, horizon=4)


def daily_file(path):
    rows = [f'"2001-02-{d:02d}",{d * 0.5:.1f}' for d in range(1, 29)] + \
           [f'"2001-03-{d:02d}",{"NA" if d == 4 else d}' for d in range(1, 32)]
    path.write_bytes(('"Date","Temp"\r\n' + "\r\n".join(rows) + "\r\n").encode())
    return dict(time_columns=["Date"], frequency="day", target="Temp", calendar=["day_of_week", "day_of_year"],
                validation_start="2001-03-10", test_start="2001-03-25", history=7, horizon=3)


def trained_parts(tmp_path, make_file, quantiles=(0.1, 0.5, 0.9)):
    keras.utils.set_random_seed(0)
    path = tmp_path / "series.csv"
    data_keys = make_file(path)
    spec = Spec(name="s", data=DataSpec(path=str(path), shuffle_buffer=0, **data_keys),
                model=ModelSpec(units=4, quantiles=list(quantiles), loss="pinball" if quantiles else "mae"))
    spec.validate()
    app = ForecastingApplication()
    data = app.build_data(spec, None, None)
    model = app.build_model(spec, data)
    return spec, data, model, ForecastServer(model, data, spec.model.quantiles, spec.data.missing_values)


def test_daily_rows_must_be_whole_days_and_consecutive(tmp_path):
    _, data, _, server = trained_parts(tmp_path, daily_file)
    rows = data.series.raw_rows(data.bounds[0] - data.history, data.bounds[0])
    answer = lambda rows: server.forecast(tf.constant([rows]))
    assert np.isfinite(answer(rows)["forecast"].numpy()).all()
    for bad, message in ((rows[:-1] + [rows[-1].replace('",', ' 05:30",', 1)], "whole hours"),
                         (rows[:-1] + [rows[-1].replace('",', ' 05",', 1)], "hour 0 only"),
                         (rows[1:] + rows[:1], "consecutive days")):
        with pytest.raises(tf.errors.InvalidArgumentError, match=message):
            answer(bad)


@pytest.mark.parametrize("make_file", [hourly_file, daily_file])
def test_rows_parse_in_the_graph_exactly_as_the_reader(tmp_path, make_file):
    _, data, _, server = trained_parts(tmp_path, make_file)
    origins = [data.history, data.bounds[0], data.bounds[1] - data.horizon]
    requests = [data.series.raw_rows(o - data.history, o) for o in origins]
    parsed = server.parse(tf.constant(requests)).numpy()
    np.testing.assert_array_equal(parsed, data.windows(origins))          # NaN where NaN, codes, times


@pytest.mark.parametrize("quantiles", [(0.1, 0.5, 0.9), ()])
def test_export_serves_rows_and_arrays_without_seqkeras(tmp_path, quantiles):
    spec, data, model, server = trained_parts(tmp_path, hourly_file, quantiles)
    version = server.export(tmp_path / "saved_models", "pm")
    origins = [data.bounds[0], data.bounds[0] + 5]
    rows = [data.series.raw_rows(o - data.history, o) for o in origins]
    windows = data.windows(origins)
    names, (by_rows, by_array) = call_signatures(version, [
        ("serving_default", {"rows": rows}), (TENSOR_SIGNATURE, {"history": windows.tolist()})])
    assert {"serving_default", "forecast", TENSOR_SIGNATURE} <= set(names)
    expected = np.asarray(model(windows))
    point = 1 if quantiles else 0
    np.testing.assert_allclose(by_rows["forecast"], expected[..., point], rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(by_array["forecast"], by_rows["forecast"], rtol=1e-6)
    assert np.shape(by_rows["quantiles"]) == (2, data.horizon, len(quantiles))
    if quantiles:
        np.testing.assert_allclose(by_rows["quantiles"], expected, rtol=1e-5, atol=1e-4)
    assert list(by_rows["horizon_steps"]) == [1, 2, 3, 4] and int(by_rows["history_length"]) == 12
    assert [n.decode() if isinstance(n, bytes) else n for n in by_array["feature_names"]] == data.layout.names
    assert [[c.decode() if isinstance(c, bytes) else c for c in row] for row in by_array["categories"]] == \
        [["NE", "SE", "cv"]]


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("served")
    _, data, _, server = trained_parts(tmp_path, hourly_file)
    version = server.export(tmp_path / "saved_models", "pm")
    rows = data.series.raw_rows(data.bounds[0] - data.history, data.bounds[0])
    return tf.saved_model.load(str(version)), rows


def _rows(loaded, batch):
    return loaded[0].signatures["serving_default"](rows=tf.constant(batch, tf.string))


@pytest.mark.parametrize("edit, message", [
    (lambda rows: [rows[1:]], "send exactly 12 history rows"),
    (lambda rows: [[r + ",extra" for r in rows]], "8 comma-separated fields"),
    (lambda rows: [[rows[0].replace(",2021,", ",20x1,")] + rows[1:]], "time columns must be whole numbers"),
    (lambda rows: [rows[:5] + [rows[5].rsplit(",", 2)[0] + ",abc,NE"] + rows[6:]], "column dew must hold numbers"),
    (lambda rows: [rows[:4] + rows[5:] + rows[4:5]], "rows must be consecutive hours"),
    (lambda rows: [rows[:4] + rows[3:4] + rows[5:]], "rows must be consecutive hours"),
])
def test_bad_requests_are_clear_errors(loaded, edit, message):
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        _rows(loaded, edit(loaded[1]))


def test_missing_values_unknown_categories_and_empty_batches_are_defined(loaded):
    rows = loaded[1]
    missing = [",".join(f if i < 5 else "NA" for i, f in enumerate(r.split(","))) for r in rows]
    unknown = [r.rsplit(",", 1)[0] + ",WSW" for r in rows]
    crlf = [r + "\r" for r in rows]
    out = _rows(loaded, [rows, missing, unknown, crlf])
    forecast = out["forecast"].numpy()
    assert forecast.shape == (4, 4) and np.isfinite(forecast).all()
    np.testing.assert_allclose(forecast[3], forecast[0])
    empty = _rows(loaded, np.zeros([0, 12], object))
    assert empty["forecast"].shape == (0, 4) and empty["quantiles"].shape == (0, 4, 3)
    tensor = loaded[0].signatures[TENSOR_SIGNATURE]
    history = np.full([2, 12, 7], np.nan, np.float32)
    history[:, :, :4] = [[2021, 3, 5, hour] for hour in range(12)]
    history[1, :, 4] = np.inf
    assert np.isfinite(tensor(history=tf.constant(history))["forecast"].numpy()).all()
    with pytest.raises(tf.errors.InvalidArgumentError, match="each row has 7 features: year, month"):
        tensor(history=tf.constant(history[..., :6]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="time features"):
        tensor(history=tf.constant(np.full([1, 12, 7], np.nan, np.float32)))
