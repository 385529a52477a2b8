"""Forecasting data: the CSV reader's checks, spans, training-only statistics, windows."""

from __future__ import annotations

import gzip
import pathlib

import numpy as np
import pytest

from seqkeras.data.errors import DataError
from seqkeras.forecasting.data import build_data, evaluation_bounds, read_series, time_parts
from seqkeras.forecasting.spec import DataSpec, Spec
from seqkeras.pipeline.spec import with_overrides

SHARED = pathlib.Path(__file__).resolve().parents[2] / "shared" / "data" / "timeseries"


def hourly_spec(path, **data) -> Spec:
    spec = Spec(name="t", data=DataSpec(
        path=str(path), time_columns=["year", "month", "day", "hour"], frequency="hour", target="y",
        covariates=["x"], categorical=["c"], calendar=["hour"], validation_start="2020-01-03",
        test_start="2020-01-04", history=5, horizon=3, shuffle_buffer=0, **data))
    spec.training.batch_size = 7
    spec.validate()
    return spec


def write_hourly(path, hours=96, missing=(), categories=("a", "b")):
    lines = ["year,month,day,hour,y,x,c"]
    for i in range(hours):
        day, hour = divmod(i, 24)
        y = "NA" if i in missing else str(i)
        lines.append(f"2020,1,{day + 1},{hour},{y},{i * 0.5},{categories[i % len(categories)]}")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_reads_quoted_iso_dates_crlf_bom_and_inserts_gaps(tmp_path):
    path = tmp_path / "daily.csv"
    path.write_bytes('\ufeff"Date","Temp"\r\n"1984-12-30",1.5\r\n"1985-01-01",NA\r\n"1985-01-02",3\r\n'.encode())
    series = read_series(path, DataSpec(time_columns=["Date"], frequency="day", target="Temp"))
    assert series.times.astype(str).tolist() == ["1984-12-30T00", "1984-12-31T00", "1985-01-01T00",
                                                 "1985-01-02T00"]
    assert series.lines.tolist() == [2, 0, 3, 4] and series.inserted == 1
    np.testing.assert_array_equal(series.values[:, 0], [1.5, np.nan, np.nan, 3.0])
    assert series.raw_rows(2, 4) == ['"1985-01-01",NA', '"1985-01-02",3']
    with pytest.raises(ValueError, match="gap"):
        series.raw_rows(0, 3)
    assert time_parts(series.times[:1]).tolist() == [[1984, 12, 30, 0]]


@pytest.mark.parametrize("body, line, message", [
    ("2020,1,1,0,1,2,a\n2020,1,1,1,x1,2,a\n", 3, "'y': 'x1' is not a number"),
    ("2020,1,1,0,1,2,a\n2020,1,1,0,1,2,a\n", 3, "does not follow"),
    ("2020,1,1,1,1,2,a\n2020,1,1,0,1,2,a\n", 3, "does not follow"),
    ("2020,1,1,0,1,2\n", 2, "expected 7 fields, found 6"),
    ("2020,2,30,0,1,2,a\n", 2, "invalid time"),
    ('2020,1,1,0,1,2,"a,b"\n', 2, "comma"),
    ("2020,1,1,0,inf,2,a\n", 2, "not finite"),
])
def test_bad_rows_name_file_and_line(tmp_path, body, line, message):
    path = tmp_path / "bad.csv"
    path.write_text("year,month,day,hour,y,x,c\n" + body)
    with pytest.raises(DataError, match=message) as caught:
        read_series(path, hourly_spec(path).data)
    assert caught.value.line == line and str(path) in str(caught.value)


def test_missing_column_and_empty_file(tmp_path):
    path = tmp_path / "series.csv"
    path.write_text("year,month,day,hour,y,c\n2020,1,1,0,1,a\n")
    with pytest.raises(DataError, match="missing column 'x'"):
        read_series(path, hourly_spec(path).data)
    path.write_text("")
    with pytest.raises(DataError, match="empty"):
        read_series(path, hourly_spec(path).data)


def test_spans_statistics_and_categories_come_from_the_training_rows(tmp_path):
    # Category "z" and large values appear only after the training span (2020-01-01..02).
    path = write_hourly(tmp_path / "s.csv", missing={3, 50})
    text = path.read_text().replace(",a\n", ",z\n")
    lines = text.splitlines()
    lines[1:49] = [line.replace(",z", ",a") for line in lines[1:49]]
    path.write_text("\n".join(lines) + "\n")
    data = build_data(hourly_spec(path))
    assert data.bounds == (48, 72, 96)
    assert data.layout.categorical == (("c", ("a", "b")),)
    values = np.arange(48.0)
    values[3] = np.nan
    np.testing.assert_allclose(data.mean, [np.nanmean(values), np.mean(np.arange(48) * 0.5)], rtol=1e-6)
    np.testing.assert_allclose(data.std[0], np.nanstd(values), rtol=1e-5)
    codes = data.rows[:, data.layout.categorical_slice][:, 0]
    assert set(codes[:48]) == {0, 1} and set(codes[48:]) == {-1, 1}
    assert np.isnan(data.target[50])


def test_windows_are_the_rows_before_each_origin_and_the_truth_after(tmp_path):
    data = build_data(hourly_spec(write_hourly(tmp_path / "s.csv", missing={30})))
    seen = []
    for history, truth in data.train:
        for h, t in zip(history.numpy(), truth.numpy()):
            origin = int(2 * h[-1, 5]) + 1               # x = row index / 2 in this series
            np.testing.assert_array_equal(h, data.rows[origin - 5:origin])
            np.testing.assert_array_equal(t, data.target[origin:origin + 3])
            seen.append(origin)
    # Every training window forecasts training rows only (< 48); none is lost.
    assert sorted(seen) == list(range(5, 48 - 3 + 1))
    validation_origins = [int(2 * h[-1, 5]) + 1 for h, _ in data.validation.unbatch()]
    assert min(validation_origins) == 48 and max(validation_origins) == 72 - 3


def test_nothing_from_the_test_span_reaches_training_or_validation(tmp_path):
    path = write_hourly(tmp_path / "s.csv")
    before = build_data(hourly_spec(path))
    lines = path.read_text().splitlines()
    lines[73:] = [line.rsplit(",", 3)[0] + ",1000000,-5,zz" for line in lines[73:]]   # rows of 2020-01-04
    path.write_text("\n".join(lines) + "\n")
    after = build_data(hourly_spec(path))
    assert after.bounds == before.bounds and after.layout == before.layout
    np.testing.assert_array_equal(after.mean, before.mean)
    np.testing.assert_array_equal(after.std, before.std)
    for split in ("train", "validation"):
        for (h0, t0), (h1, t1) in zip(getattr(before, split), getattr(after, split)):
            np.testing.assert_array_equal(h0, h1)
            np.testing.assert_array_equal(t0, t1)


def test_evaluation_span_by_dates(tmp_path):
    spec = hourly_spec(write_hourly(tmp_path / "s.csv"))
    data = build_data(spec)
    assert evaluation_bounds(spec, data) == (48, 72)
    assert evaluation_bounds(with_overrides(spec, {"evaluation.span": "test"}), data) == (72, 96)
    assert evaluation_bounds(with_overrides(spec, {"evaluation.span": "2020-01-02..2020-01-02"}), data) == (24, 48)


def test_spec_rejects_crossing_or_unsorted_quantiles_and_bad_spans(tmp_path):
    from seqkeras.pipeline.spec import SpecError

    spec = hourly_spec(tmp_path / "s.csv")
    for key, value, message in [("model.quantiles", [0.9, 0.1], "ascending"),
                                ("model.quantiles", [0.1, 0.9], "must include 0.5"),
                                ("model.loss", "mae", "point forecast"),
                                ("evaluation.span", "2020-01-05", "START..END"),
                                ("data.test_start", "2020-01-02", "after validation_start")]:
        with pytest.raises(SpecError, match=message):
            with_overrides(spec, {key: value}).validate()


def test_a_dilated_encoder_refuses_the_recurrent_keys_of_a_search(tmp_path):
    from seqkeras.pipeline.spec import SpecError

    spec = with_overrides(hourly_spec(tmp_path / "s.csv"), {"model.kind": "dilated_cnn"})
    spec.validate()
    with pytest.raises(SpecError, match=r"tuning.space.model.cell.*'rnn' only"):
        spec.check_tuning_space()                     # the default space tunes cell and head
    with_overrides(spec, {"tuning.space": {"model.kernel_size": [2, 3], "model.units": [8]}}).check_tuning_space()
    with pytest.raises(SpecError, match="direct"):
        with_overrides(spec, {"model.head": "decoder"}).validate()


def test_a_training_span_shorter_than_one_window_is_a_data_error(tmp_path):
    spec = with_overrides(hourly_spec(write_hourly(tmp_path / "s.csv")), {"data.history": 60})
    with pytest.raises(DataError, match="fewer than history"):
        build_data(spec)


@pytest.mark.skipif(not SHARED.is_dir(), reason="needs ../shared/data")
def test_real_series_pm25_and_melbourne():
    from seqkeras.pipeline import load_spec

    root = pathlib.Path(__file__).resolve().parents[1]
    pm25 = load_spec(root / "pipelines" / "pm25_forecast.toml")
    series = read_series(SHARED / "pollution.csv.gz", pm25.data)
    assert len(series.times) == 43824 and series.inserted == 0
    assert int(np.isnan(series.values[:, 0]).sum()) == 2067
    with gzip.open(SHARED / "pollution.csv.gz", "rt") as f:
        assert series.raw_rows(0, 1) == [f.readlines()[1].rstrip("\n")]
    melbourne = load_spec(root / "pipelines" / "melbourne_temperature.toml")
    data = build_data(melbourne, SHARED.parent)
    assert data.inserted_rows == 2 and data.bounds[2] == 3652
    assert str(data.series.times[data.bounds[0]]) == "1989-01-01T00"


def test_init_guesses_the_columns_and_spans_of_a_series(tmp_path, monkeypatch):
    from seqkeras import cli
    from seqkeras.pipeline import load_spec

    hourly = write_hourly(tmp_path / "hourly.csv")
    daily = tmp_path / "daily.csv"
    daily.write_text('"Date","Temp"\n' + "".join(f'"2001-01-{d:02d}",{d}\n' for d in range(1, 32)))
    monkeypatch.chdir(tmp_path)
    for path, name in ((hourly, "h"), (daily, "d")):
        assert cli.main(["init", "forecasting", "--data", str(path), "--name", name]) == 0
    h, d = load_spec(tmp_path / "h.toml"), load_spec(tmp_path / "d.toml")
    assert (h.data.time_columns, h.data.frequency, h.data.target, h.data.covariates, h.data.categorical) == \
        (["year", "month", "day", "hour"], "hour", "y", ["x"], ["c"])
    assert (h.data.validation_start, h.data.test_start) == ("2020-01-03", "2020-01-04")
    assert (d.data.time_columns, d.data.frequency, d.data.target) == (["Date"], "day", "Temp")
    assert (d.data.validation_start, d.data.test_start) == ("2001-01-22", "2001-01-27")


def test_a_tuning_trial_of_another_history_trains_on_windows_of_its_length(tmp_path):
    import keras_tuner

    from seqkeras.forecasting.application import ForecastingApplication
    from seqkeras.pipeline.tuning import SpecHyperModel

    spec = with_overrides(hourly_spec(write_hourly(tmp_path / "s.csv")), {"tuning.space": {"data.history": [5, 8]}})
    app = ForecastingApplication()
    data = app.build_data(spec, None, None)
    hypermodel = app.hypermodel(spec, data)
    hp = keras_tuner.HyperParameters()
    hypermodel.values(hp)
    hp.values["data.history"] = 8
    model = hypermodel.build(hp)
    assert model.input_shape[1] == 8
    seen = {}
    model.fit = lambda *args, **kwargs: seen.update(kwargs)
    hypermodel.fit(hp, model, x=data.train, validation_data=data.validation, epochs=1)
    assert next(iter(seen["x"]))[0].shape[1] == 8 and next(iter(seen["validation_data"]))[0].shape[1] == 8
    assert hypermodel.trial(hp)[1] is hypermodel.trial(hp)[1]                  # cut once per value
    hp.values["data.history"] = 5
    assert hypermodel.trial(hp)[1] is data                                      # the base value: no rebuild
    with pytest.raises(ValueError, match="cannot tune"):
        SpecHyperModel(app, spec, data)
