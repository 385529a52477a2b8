"""`seqkeras.forecasting.evaluation` against brute-force Python loops written from its definitions."""

import ast
import doctest
import math
import pathlib

import numpy as np
import pytest

from seqkeras.forecasting import evaluation
from seqkeras.forecasting.evaluation import (BASELINES, baseline_forecasts, best_baseline, climatology_table, compare,
                                             forecast_metrics, plot_error_by_horizon, plot_forecasts, rolling_origins,
                                             truth_matrix)

SEASON = 5
HORIZON = 12  # > 2 seasons, so seasonal naive reaches back three seasons


def _series(rows=80, seed=0):
    """A seasonal series with scattered NaNs, a gap longer than a season, and NaN leading rows."""
    rng = np.random.default_rng(seed)
    keys = np.arange(rows) % SEASON
    target = 10 + 3 * keys + rng.normal(size=rows).round(2)
    target[rng.random(rows) < 0.2] = np.nan
    target[:2] = np.nan
    target[30:38] = np.nan  # whole window empty for some origins
    return target, keys


# ----------------------------------------------------------------------------- brute force


def _last_present(target, origin):
    for row in range(origin - 1, -1, -1):
        if not math.isnan(target[row]):
            return target[row]
    return math.nan


def _brute_baselines(target, origins, horizon, season, keys, train_end):
    train = [(keys[r] if keys is not None else 0, target[r]) for r in range(train_end) if not math.isnan(target[r])]
    overall = sum(value for _, value in train) / len(train)
    by_key = {}
    for key, value in train:
        by_key.setdefault(key, []).append(value)
    out = {name: np.zeros((len(origins), horizon)) for name in BASELINES}
    for i, o in enumerate(origins):
        last = _last_present(target, o)
        window = [target[r] for r in range(max(0, o - season), o) if not math.isnan(target[r])]
        for k in range(horizon):
            out["persistence"][i, k] = last
            # the latest row before o at the same position in the season as o + k
            row = o + k
            while row >= o:
                row -= season
            out["seasonal_naive"][i, k] = target[row] if row >= 0 and not math.isnan(target[row]) else last
            out["window_mean"][i, k] = sum(window) / len(window) if window else last
            key = keys[o + k] if keys is not None else 0
            values = by_key.get(key)
            out["climatology"][i, k] = sum(values) / len(values) if values else overall
    return out


def _brute_metrics(truth, point, quantiles=None, levels=()):
    O, H = truth.shape
    per_step = {"mae": [], "rmse": [], "smape": []}
    pooled = {"mae": [], "sq": [], "smape": []}
    pinball, inside = [], []
    for k in range(H):
        errors, squares, smapes = [], [], []
        for i in range(O):
            y, f = truth[i, k], point[i, k]
            if math.isnan(y):
                continue
            errors.append(abs(y - f))
            squares.append((y - f) ** 2)
            smapes.append(0.0 if y == f == 0 else 200 * abs(y - f) / (abs(y) + abs(f)))
            if quantiles is not None:
                for j, q in enumerate(levels):
                    d = y - quantiles[i, k, j]
                    pinball.append(max(q * d, (q - 1) * d))
                inside.append(quantiles[i, k, 0] <= y <= quantiles[i, k, -1])
        per_step["mae"].append(sum(errors) / len(errors) if errors else math.nan)
        per_step["rmse"].append(math.sqrt(sum(squares) / len(squares)) if squares else math.nan)
        per_step["smape"].append(sum(smapes) / len(smapes) if smapes else math.nan)
        pooled["mae"] += errors
        pooled["sq"] += squares
        pooled["smape"] += smapes
    out = dict(per_step)
    out["mean_mae"] = sum(pooled["mae"]) / len(pooled["mae"])
    out["mean_rmse"] = math.sqrt(sum(pooled["sq"]) / len(pooled["sq"]))
    out["mean_smape"] = sum(pooled["smape"]) / len(pooled["smape"])
    if quantiles is not None:
        out["pinball"] = sum(pinball) / len(pinball)
        out["coverage"] = sum(inside) / len(inside)
    return out


# ----------------------------------------------------------------------------- origins


@pytest.mark.parametrize("start,end,horizon,stride,min_history", [
    (0, 50, 7, 1, 0), (10, 50, 7, 3, 0), (0, 50, 7, 4, 13), (20, 26, 7, 1, 0), (20, 27, 7, 1, 0), (5, 40, 1, 2, 30)])
def test_rolling_origins_bounds(start, end, horizon, stride, min_history):
    origins = rolling_origins(start, end, horizon, stride, min_history)
    first = max(start, min_history)
    expected = []
    o = first
    while o + horizon <= end:
        expected.append(o)
        o += stride
    assert origins.tolist() == expected
    for o in origins:
        assert start <= o and o >= min_history and o + horizon - 1 < end


def test_rolling_origins_rejects_bad_arguments():
    with pytest.raises(ValueError, match="horizon"):
        rolling_origins(0, 10, 0)
    with pytest.raises(ValueError, match="stride"):
        rolling_origins(0, 10, 2, stride=0)


def test_truth_matrix():
    target, _ = _series()
    origins = rolling_origins(3, 80, HORIZON, stride=2)
    truth = truth_matrix(target, origins, HORIZON)
    expected = [[target[o + k] for k in range(HORIZON)] for o in origins]
    np.testing.assert_array_equal(truth, np.array(expected))
    with pytest.raises(ValueError, match="series end"):
        truth_matrix(target, [80 - HORIZON + 1], HORIZON)


# ----------------------------------------------------------------------------- baselines


def test_climatology_table_ignores_nan_and_later_rows():
    target, keys = _series()
    table = climatology_table(target, keys, 50)
    for key in range(SEASON):
        values = [target[r] for r in range(50) if keys[r] == key and not math.isnan(target[r])]
        assert table[key] == pytest.approx(sum(values) / len(values))
    assert climatology_table([np.nan, 1.0, 2.0], [7, 7, 8], 2) == {7: 1.0}


@pytest.mark.parametrize("use_keys", [True, False])
def test_baselines_match_brute_force(use_keys):
    target, keys = _series()
    keys = keys.copy()
    keys[50:][keys[50:] == 3] = 9  # a key never seen in training: the overall training mean
    keys = keys if use_keys else None
    origins = np.arange(0, 80 - HORIZON + 1)  # includes origins with no history at all
    got = baseline_forecasts(target, origins, HORIZON, SEASON, keys, train_end=50)
    want = _brute_baselines(target, origins, HORIZON, SEASON, keys, 50)
    assert tuple(got) == BASELINES
    for name in BASELINES:
        assert got[name].shape == (len(origins), HORIZON)
        np.testing.assert_allclose(got[name], want[name], rtol=1e-12, atol=1e-12, err_msg=name)
    # NaN only where nothing precedes the origin
    assert np.isnan(got["persistence"][:3]).all() and not np.isnan(got["persistence"][3:]).any()
    assert not np.isnan(got["climatology"]).any()


def test_baselines_use_only_rows_before_the_origin():
    target, keys = _series()
    origins = rolling_origins(40, 80, HORIZON, stride=3)
    before = baseline_forecasts(target, origins, HORIZON, SEASON, keys, train_end=40)
    for i, o in enumerate(origins):
        changed = target.copy()
        changed[o:] = 1e6
        after = baseline_forecasts(changed, [o], HORIZON, SEASON, keys, train_end=40)
        for name in BASELINES:
            np.testing.assert_array_equal(after[name][0], before[name][i], err_msg=name)


def test_seasonal_naive_positions():
    target = np.arange(20.0)
    forecast = baseline_forecasts(target, [10], 7, season=3, keys=None, train_end=10)["seasonal_naive"][0]
    assert forecast.tolist() == [7, 8, 9, 7, 8, 9, 7]


# ----------------------------------------------------------------------------- metrics


def test_metrics_match_brute_force():
    rng = np.random.default_rng(1)
    truth = rng.normal(size=(30, 6))
    truth[rng.random(truth.shape) < 0.25] = np.nan
    truth[:, 4] = np.nan  # a step with nothing scored
    truth[0, 0] = 0.0
    point = truth + rng.normal(size=truth.shape)
    point[0, 0] = 0.0  # y = ŷ = 0 counts 0 in sMAPE
    point[np.isnan(truth)] = np.nan  # allowed where the truth is missing
    levels = (0.1, 0.5, 0.9)
    quantiles = np.sort(point[..., None] + rng.normal(size=(*truth.shape, 3)), axis=-1)

    got = forecast_metrics(truth, point, quantiles, levels)
    want = _brute_metrics(truth, point, quantiles, levels)
    for key in ("mae", "rmse", "smape"):
        np.testing.assert_allclose(got[key], want[key], rtol=1e-12, err_msg=key)
        assert len(got[key]) == 6 and math.isnan(got[key][4])
    for key in ("mean_mae", "mean_rmse", "mean_smape", "pinball", "coverage"):
        assert got[key] == pytest.approx(want[key], rel=1e-12), key
    assert got["count"] == [int(c) for c in (~np.isnan(truth)).sum(axis=0)]
    assert got["interval"] == [0.1, 0.9]
    assert set(forecast_metrics(truth, point)) == {"mae", "rmse", "smape", "mean_mae", "mean_rmse", "mean_smape",
                                                   "count"}


def test_coverage_of_a_known_band():
    truth = np.arange(10.0).reshape(5, 2)  # 0 .. 9
    point = truth.copy()
    band = np.stack([np.full_like(truth, 2.0), point, np.full_like(truth, 6.0)], axis=-1)
    metrics = forecast_metrics(truth, point, band, (0.05, 0.5, 0.95))
    assert metrics["coverage"] == pytest.approx(0.5)  # 2, 3, 4, 5, 6 of 0 .. 9, bounds inclusive
    truth[0, 0] = np.nan  # 0 no longer scored: 5 of 9
    assert forecast_metrics(truth, point, band, (0.05, 0.5, 0.95))["coverage"] == pytest.approx(5 / 9)


def test_nan_forecast_where_truth_present_raises():
    truth = np.ones((4, 3))
    point = np.ones((4, 3))
    point[2, 1] = np.nan
    with pytest.raises(ValueError, match=r"my_model.*NaN.*origin index 2, step 2"):
        forecast_metrics(truth, point, name="my_model")
    quantiles = np.ones((4, 3, 2))
    quantiles[0, 0, 1] = np.nan
    with pytest.raises(ValueError, match="quantile"):
        forecast_metrics(truth, np.ones((4, 3)), quantiles, (0.1, 0.9))


def test_metric_argument_errors():
    with pytest.raises(ValueError, match="shape"):
        forecast_metrics(np.ones((4, 3)), np.ones((4, 2)))
    with pytest.raises(ValueError, match="levels"):
        forecast_metrics(np.ones((4, 3)), np.ones((4, 3)), np.ones((4, 3, 2)), (0.9, 0.1))


# ----------------------------------------------------------------------------- tables and plots


def _results():
    target, keys = _series()
    origins = rolling_origins(50, 80, HORIZON, min_history=SEASON)
    truth = truth_matrix(target, origins, HORIZON)
    forecasts = baseline_forecasts(target, origins, HORIZON, SEASON, keys, train_end=50)
    model = forecasts["climatology"] * 0.5 + forecasts["seasonal_naive"] * 0.5
    levels = (0.1, 0.5, 0.9)
    quantiles = model[..., None] + np.array([-2.0, 0.0, 2.0])
    results = {"lstm": forecast_metrics(truth, model, quantiles, levels, name="lstm")}
    results.update({name: forecast_metrics(truth, values, name=name) for name, values in forecasts.items()})
    return target, origins, model, quantiles, levels, results


def test_compare_and_best_baseline():
    *_, results = _results()
    best = best_baseline(results)
    assert best == min(BASELINES, key=lambda name: results[name]["mean_mae"])
    text = compare(results)
    for name in ("lstm", *BASELINES):
        assert name in text
    ratio = results["lstm"]["mean_mae"] / results[best]["mean_mae"]
    assert f"{ratio:.3f}" in text
    first_table = text.split("\n\n")[0].splitlines()
    assert first_table[2].startswith("lstm") and "MAE/best" in first_table[0] and "coverage" in first_table[0]
    assert "MAE per horizon step" in text and f"\n{HORIZON} " in text
    with pytest.raises(ValueError, match="baseline"):
        best_baseline({"lstm": results["lstm"]})


def test_plots_write_png(tmp_path):
    target, origins, model, quantiles, levels, results = _results()
    written = plot_forecasts(tmp_path / "forecasts.png", target, origins, HORIZON, model, quantiles, levels,
                             count=3, history=20, title="test")
    assert written.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    written = plot_error_by_horizon(tmp_path / "sub" / "error.png", results, title="MAE")
    assert written.stat().st_size > 1000


def test_imports_only_numpy_and_matplotlib_and_doctests():
    tree = ast.parse(pathlib.Path(evaluation.__file__).read_text())
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    # seqkeras.tables is plain Python (no TensorFlow) too.
    assert {name if name.startswith("seqkeras") else name.split(".")[0] for name in imported} <= {
        "__future__", "math", "pathlib", "typing", "numpy", "matplotlib", "seqkeras.tables"}
    assert doctest.testmod(evaluation, optionflags=doctest.NORMALIZE_WHITESPACE).failed == 0
