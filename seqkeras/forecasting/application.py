"""`ForecastingApplication`: multi-horizon forecasting on the shared pipeline machinery.

Every evaluation scores the model and the naive baselines (persistence, seasonal
naive, window mean, climatology) with the same code on the same rolling origins
(`seqkeras.forecasting.evaluation`), prints them side by side, writes the full
per-step figures to ``<run dir>/evaluation_<span>.json`` and the plots beside them.
A backtest is an evaluation over another span::

    seqkeras evaluate pipelines/pm25_forecast.toml --set evaluation.span='"2013-06-01..2013-08-31"'
"""

from __future__ import annotations

import datetime
import json
import math
import pathlib

import keras
import numpy as np

from seqkeras.data.sources.common import csv_rows
from seqkeras.forecasting import evaluation
from seqkeras.forecasting.data import ISO_TIME_RE, ForecastData, build_data, evaluation_bounds, with_windows
from seqkeras.forecasting.model import ForecastLoss, MaskedMAE, build_forecaster, point_column
from seqkeras.forecasting.server import ForecastServer
from seqkeras.forecasting.spec import Spec
from seqkeras.pipeline.application import Application
from seqkeras.pipeline.spec import JIT_COMPILE
from seqkeras.pipeline.tuning import SpecHyperModel

PREDICT_BATCH = 512


class ForecastingApplication(Application):
    """A CSV series → recurrent or dilated-convolution forecaster (direct or decoder head,
    quantiles) → rows-in export."""

    name = "forecasting"
    spec_class = Spec
    headline_metric = "mae"

    def build_data(self, spec, data_dir, run_dir) -> ForecastData:
        """The series read and checked, training-span layout and statistics, and
        ``(history float32[B, T, F], truth float32[B, H])`` windows (`build_data`)."""
        return build_data(spec, data_dir, run_dir)

    def build_model(self, spec, data) -> keras.Model:
        """The forecaster ``float32[B, T, F] → float32[B, H, Q]`` (original units), compiled
        with the masked pinball / MAE / MSE loss and the masked MAE of the point column."""
        m = spec.model
        model = build_forecaster(
            data.layout, data.mean, data.std, data.history, data.horizon, quantiles=m.quantiles, cell=m.cell,
            cell_options=m.cell_options, units=m.units, layers=m.layers, bidirectional=m.bidirectional,
            head=m.head, dropout=m.dropout, residual=m.residual, jit_compile=JIT_COMPILE[m.jit_compile],
            kind=m.kind, kernel_size=m.kernel_size, dilation_cycle=m.dilation_cycle, name=spec.name or "forecaster")
        model.compile(optimizer=self.optimizer(spec),
                      loss=ForecastLoss(m.quantiles, m.loss, float(data.std[0])),
                      metrics=[MaskedMAE(point_column(m.quantiles))])
        return model

    def hypermodel(self, spec, data):
        """The spec's search space; a trial that changes ``data.history`` (or the batch
        size) re-cuts the windows from the rows already read (`with_windows`)."""
        return SpecHyperModel(self, spec, data, rebuild=with_windows)

    def evaluate(self, spec, model, data) -> dict[str, float]:
        """Model and baselines over the rolling origins of ``evaluation.span``: prints the
        side-by-side tables, saves the per-step figures and plots in the run directory,
        returns the model's mean MAE / RMSE / sMAPE (and coverage, pinball) and each
        baseline's mean MAE."""
        start, end = evaluation_bounds(spec, data)
        if spec.evaluation.span != "test" and end > data.bounds[1]:
            print(f"warning: evaluation.span {spec.evaluation.span!r} reaches into the test span "
                  f"(from {spec.data.test_start}): keep such figures out of model selection")
        origins = evaluation.rolling_origins(start, end, data.horizon, spec.evaluation.stride,
                                             min_history=data.history)
        if not len(origins):
            raise ValueError(f"evaluation.span {spec.evaluation.span!r} holds no forecast origin "
                             f"(horizon {data.horizon}, history {data.history})")
        levels = list(spec.model.quantiles)
        outputs = predict(model, data.windows(origins))
        point = outputs[..., point_column(levels)]
        quantiles = outputs if levels else None
        target = data.target
        truth = evaluation.truth_matrix(target, origins, data.horizon)
        results = {"model": evaluation.forecast_metrics(truth, point, quantiles, levels)}
        for name, forecast in evaluation.baseline_forecasts(target, origins, data.horizon, spec.season, data.keys,
                                                            data.bounds[0]).items():
            results[name] = evaluation.forecast_metrics(truth, forecast)
        print(evaluation.compare(results))
        self._save(spec, data, results, origins, point, quantiles, levels)
        best = evaluation.best_baseline(results)
        model_metrics = results["model"]
        best_mae = float(results[best]["mean_mae"])
        summary = {key: float(model_metrics[f"mean_{key}"]) for key in ("mae", "rmse", "smape")}
        summary.update({key: float(model_metrics[key]) for key in ("coverage", "pinball") if key in model_metrics})
        summary.update({f"{name}_mae": float(results[name]["mean_mae"]) for name in evaluation.BASELINES})
        summary["mae_ratio_to_best_baseline"] = summary["mae"] / best_mae if best_mae > 0 else math.inf
        summary["origins"] = int(len(origins))
        return summary

    def _save(self, spec, data, results, origins, point, quantiles, levels) -> None:
        if data.run_dir is None:
            return
        span = spec.evaluation.span.replace("..", "_to_")
        (data.run_dir / f"evaluation_{span}.json").write_text(json.dumps(
            {"span": spec.evaluation.span, "stride": spec.evaluation.stride, "origins": int(len(origins)),
             "results": results}, indent=1, default=float))
        if spec.evaluation.plots:
            title = f"{spec.name}: {spec.evaluation.span}"
            evaluation.plot_forecasts(data.run_dir / f"forecasts_{span}.png", data.target, origins, data.horizon,
                                      point, quantiles, levels, count=spec.evaluation.plot_origins,
                                      history=min(3 * data.horizon, data.history), title=title)
            evaluation.plot_error_by_horizon(data.run_dir / f"error_by_horizon_{span}.png", results, title=title)

    def exporter(self, spec, model, data) -> ForecastServer:
        """The rows → forecast server (`ForecastServer`)."""
        return ForecastServer(model, data, spec.model.quantiles, spec.data.missing_values)

    def after_run(self, spec, model, data, report) -> None:
        metrics = report.get("validation", {})
        if "mae" in metrics:
            print(f"validation MAE {metrics['mae']:.4g} = {metrics['mae_ratio_to_best_baseline']:.3f} × the best "
                  f"baseline ({metrics['origins']} origins)")

    def starter(self, data_files):
        """``data.path``, the time columns, frequency, target, covariates and the spans
        (70 % / 15 % / 15 % of the rows) of the user's CSV file."""
        return starter_keys(data_files[0])


def predict(model: keras.Model, windows: np.ndarray) -> np.ndarray:
    """float32[O, H, Q] forecasts of `model` for history windows float32[O, T, F]."""
    chunks = [np.asarray(model(windows[i:i + PREDICT_BATCH], training=False))
              for i in range(0, len(windows), PREDICT_BATCH)]
    return np.concatenate(chunks).astype(np.float32)


INDEX_COLUMNS = {"no", "index", "id", "row"}
MISSING_VALUES = set(Spec().data.missing_values)


def starter_keys(path: str) -> dict:
    """Guess the ``[data]`` keys of a CSV series (see `ForecastingApplication.starter`)."""
    rows = list(csv_rows(pathlib.Path(path), ",", True, "strict"))
    if len(rows) < 10:
        raise ValueError(f"{path}: a series needs a header and at least 10 rows")
    header = [h.strip() for h in rows[0][1]]
    first = rows[1][1]
    lower = [h.lower() for h in header]
    if {"year", "month", "day"} <= set(lower):
        time_columns = [header[lower.index(k)] for k in ("year", "month", "day", "hour") if k in lower]
    else:
        iso = [h for h, v in zip(header, first) if ISO_TIME_RE.fullmatch(v.strip().strip('"'))]
        if not iso:
            raise ValueError(f"{path}: no time column (an ISO date, or year/month/day columns)")
        time_columns = iso[:1]
    numeric, categorical = [], []
    for i, name in enumerate(header):
        if name in time_columns or name.lower() in INDEX_COLUMNS:
            continue
        values = [r[1][i].strip() for r in rows[1:200] if i < len(r[1])]
        (numeric if all(_is_number_or_missing(v) for v in values) else categorical).append(name)
    if not numeric:
        raise ValueError(f"{path}: no numeric column to forecast")

    def date(row) -> datetime.date:
        fields = [row[header.index(c)].strip().strip('"') for c in time_columns]
        if len(fields) == 1:
            return datetime.date.fromisoformat(fields[0][:10])
        return datetime.date(*(int(float(f)) for f in fields[:3]))

    hourly = len(time_columns) == 4 or any(len(r[1][header.index(time_columns[0])].strip('"')) > 10 for r in rows[1:3])
    data = [r[1] for r in rows[1:] if r[1]]
    return {"data.path": path, "data.time_columns": time_columns, "data.frequency": "hour" if hourly else "day",
            "data.target": numeric[0], "data.covariates": numeric[1:], "data.categorical": categorical,
            "data.calendar": ["hour", "day_of_week", "day_of_year"] if hourly else ["day_of_year"],
            "data.validation_start": date(data[int(0.7 * len(data))]).isoformat(),
            "data.test_start": date(data[int(0.85 * len(data))]).isoformat()}


def _is_number_or_missing(text: str) -> bool:
    if text in MISSING_VALUES:
        return True
    try:
        float(text)
        return True
    except ValueError:
        return False
