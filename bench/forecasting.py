"""Forecasting peers on our spans and origins: statsmodels ETS / SARIMA, Darts RNNs, training speed.

Every forecaster is scored by `seqkeras.forecasting.evaluation` on the origins our
application evaluates (``rolling_origins(first_validation, first_test, H, stride,
min_history=T)``, the validation span of the pipeline spec), next to our four baselines
and, with ``--model-report``, our trained model's figures from the same origins. No
peer ever sees a row of the test span (rows ≥ first_test): fitting uses the training
span, forecasting the rows before each origin.

Peers and their protocol (printed with the results):

* **ETS** (`statsmodels` ``ETSModel``, additive errors, maximum likelihood with the
  initial states estimated) fitted once on the training span; then the fitted
  parameters are run, not refitted, over the observed series before the test span and
  each origin's H-step forecast and Gaussian quantiles come from the state at the origin
  ("fixed parameters, rolling origin"). ETS cannot skip missing values: training NaNs
  are linearly interpolated inside the training span; later NaNs are carried forward
  (causal: no origin's state sees a later row). An hourly series gets ETS(A,N,A) with
  period ``spec.season``; a season longer than `MAX_STATE_SEASON` (daily data, 365) is
  too long for a seasonal state, so a daily series gets ETS(A,N,N) on the raw series
  and ETS(A,N,N) on the anomalies from the training climatology (the climatology
  baseline's table, added back to the forecast).
* **SARIMA** (``SARIMAX``, (2,0,1)(1,0,1)ₛ with a constant) fitted once on the
  training span, then ``results.apply`` to the observed series (same parameters, one
  Kalman filter pass over all rows) and ``get_prediction(dynamic=0)`` at each origin:
  the forecast from the filtered state at the origin. The Kalman filter skips missing
  values: no fill. A daily series gets ARIMA(2,0,1) on the climatology anomalies
  instead (a period-365 seasonal state is too slow).
* **Darts** ``BlockRNNModel`` (input_chunk_length = T, output_chunk_length = H) and
  ``RNNModel`` (autoregressive, training_length = T + H), hidden size / layers /
  dropout / batch / learning rate / clipping / epochs / early-stopping patience from the
  spec, ``QuantileRegression(spec quantiles)``, trained on the training span with the
  validation span for early stopping (best weights restored, as our runner does).
  Inputs are standardized by the training-span mean and std our model uses; Darts
  cannot mask, so the target NaNs are filled as for ETS. BlockRNN reads the past
  covariates of the spec (numeric + one-hot categorical) and the spec's calendar
  features (Darts' cyclic encoders, past only: BlockRNN takes no future covariates);
  RNNModel takes no past covariates, so it reads the target and the calendar features
  as future covariates. Forecasts: ``historical_forecasts(retrain=False,
  last_points_only=False)`` from the first origin's row with our stride, checked origin
  by origin; BlockRNN's quantiles are its quantile outputs
  (``predict_likelihood_parameters``), RNNModel's are empirical quantiles of
  ``--samples`` sample paths; the point forecast is the median.
* **Speed**: training windows per second of our forecaster (the application's
  ``build_model``), a same-size plain Keras model (``keras.layers.GRU``/``LSTM`` of the
  same units on the already-encoded features, the same Dense head and optimizer) — the
  anchor — and Darts' BlockRNNModel, each for the same number of batches of the same
  batch size, timed after a warm-up, in the same process. The Keras models read the
  same seeded sample of training windows; Darts draws its own shuffled batches from the
  same training span (its trainer owns the data loader).

Threads: TensorFlow (intra- and inter-op), torch (intra- and inter-op) and the BLAS
libraries all get ``--threads`` (default 1), so neither framework gets more cores.

Setup: ``pip install -e .[bench]`` (a CPU-only torch wheel installed first saves the
CUDA libraries). The extra pins pandas < 3: Darts 0.48 cannot step a daily index under
pandas 3 (``Timedelta // Day`` raises a TypeError in ``historical_forecasts``).

Reproduce (each series runs alone; about 12 min for PM2.5 — SARIMA's fit is most of it —
and 3 min for Melbourne on one core; see ``--help`` for the caps):

    python bench/forecasting.py --series pm25 --data-dir ../shared/data \\
        --model-report runs/pm25_forecast/evaluation_validation.json
    python bench/forecasting.py --series melbourne --data-dir ../shared/data \\
        --model-report runs/melbourne_temperature/evaluation_validation.json
    python bench/forecasting.py --series both --quick        # a 1–2 minute smoke run

Writes ``bench/results/forecasting_<series>.json`` (every figure, the settings, the
timings and the checks).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import math
import os
import pathlib
import sys
import tempfile
import time
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from harness import OverBudget, limit_threads, markdown_table, versions  # noqa: E402
from seqkeras.forecasting import evaluation  # noqa: E402

PEER_PACKAGES = ("torch", "darts", "pytorch-lightning", "statsmodels", "pandas")

try:                                          # Darts' trainer; without it the statsmodels peers still run
    from pytorch_lightning import Callback as LightningCallback
except ImportError:
    LightningCallback = object

SPECS = {"pm25": "pipelines/pm25_forecast.toml", "melbourne": "pipelines/melbourne_temperature.toml"}
PEERS = ("ets", "sarima", "blockrnn", "rnn")
MAX_STATE_SEASON = 52          # longest season given its own ETS / SARIMA state
DEFAULT_LEVELS = (0.1, 0.5, 0.9)
DARTS_CALENDAR = {"hour": "hour", "day_of_week": "dayofweek", "day_of_year": "dayofyear"}
QUICK = {"stride_factor": 10, "maxiter": 3, "epochs": 1, "train_batches": 5, "samples": 20,
         "speed_batches": 3, "warmup_batches": 2}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--series", choices=[*SPECS, "both"], default="both")
    parser.add_argument("--data-dir", default="../shared/data")
    parser.add_argument("--model-report", action="append", default=[],
                        help="evaluation_validation.json of `seqkeras run`/`evaluate` (repeatable; a report "
                             "is used for the series whose origins and baseline figures it reproduces)")
    parser.add_argument("--output", default="bench/results/forecasting_{series}.json")
    parser.add_argument("--peers", nargs="*", choices=PEERS, default=list(PEERS))
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--threads", type=int, default=1, help="TensorFlow, torch and BLAS threads")
    parser.add_argument("--quick", action="store_true",
                        help=f"smoke run: evaluation stride ×{QUICK['stride_factor']}, statsmodels "
                             f"maxiter {QUICK['maxiter']}, Darts {QUICK['epochs']} epoch of "
                             f"{QUICK['train_batches']} batches, {QUICK['speed_batches']} timed batches")
    parser.add_argument("--stride", type=int, default=None, help="rows between origins (default: the spec's)")
    parser.add_argument("--maxiter", type=int, default=None,
                        help="statsmodels optimizer iterations (default: its own, ETS 1000, SARIMAX 50)")
    parser.add_argument("--peer-minutes", type=float, default=10.0,
                        help="a statsmodels fit that runs longer is abandoned and the peer skipped")
    parser.add_argument("--epochs", type=int, default=None, help="Darts epochs (default: the spec's)")
    parser.add_argument("--darts-minutes", type=float, default=None,
                        help="Darts training time cap per model (default: the spec's training.max_minutes)")
    parser.add_argument("--train-batches", type=int, default=0, help="Darts batches per epoch (0 = all)")
    parser.add_argument("--samples", type=int, default=200, help="RNNModel sample paths per origin")
    parser.add_argument("--darts-cell", default=None, help="Darts RNN type (default: the spec's cell, GRU or LSTM)")
    parser.add_argument("--speed-batches", type=int, default=50, help="timed training batches per model")
    parser.add_argument("--warmup-batches", type=int, default=5, help="untimed batches before them")
    args = parser.parse_args(argv)
    if args.quick:
        args.maxiter = args.maxiter or QUICK["maxiter"]
        args.epochs = args.epochs or QUICK["epochs"]
        args.train_batches = args.train_batches or QUICK["train_batches"]
        args.samples = min(args.samples, QUICK["samples"])
        args.speed_batches = min(args.speed_batches, QUICK["speed_batches"])
        args.warmup_batches = min(args.warmup_batches, QUICK["warmup_batches"])
    return args


# ----------------------------------------------------------------------------- setting


@dataclasses.dataclass
class Bench:
    """One series: the spec, its data, the origins and truth every forecaster is scored on."""

    name: str
    spec: object
    data: object
    origins: np.ndarray
    truth: np.ndarray
    levels: tuple
    stride: int

    @property
    def train_end(self) -> int:
        return self.data.bounds[0]

    @property
    def end(self) -> int:
        """One past the last row any peer may read: the first test row."""
        return self.data.bounds[1]

    @property
    def horizon(self) -> int:
        return self.data.horizon

    @property
    def history(self) -> int:
        return self.data.history

    def observed(self) -> np.ndarray:
        """float64[end]: the target before the test span, NaN = missing."""
        return self.data.target[:self.end].astype(np.float64)

    def filled(self) -> np.ndarray:
        """`observed` without NaN, for peers that cannot skip a missing value: linear
        interpolation inside the training span (edges: the nearest value), then the last
        value carried forward (causal, so an origin's input never depends on a later row)."""
        y = self.observed()
        train, rest = y[:self.train_end], y[self.train_end:]
        rows = np.arange(train.size)
        present = ~np.isnan(train)
        train[~present] = np.interp(rows[~present], rows[present], train[present])
        carried = np.maximum.accumulate(np.where(np.isnan(rest), -1, np.arange(rest.size)))
        rest = np.where(carried >= 0, rest[np.maximum(carried, 0)], train[-1])
        return np.concatenate([train, rest])

    def climatology(self) -> np.ndarray:
        """float64[end]: the climatology baseline's value for every row (training table)."""
        table = evaluation.climatology_table(self.data.target, self.data.keys, self.train_end)
        overall = float(np.nanmean(self.data.target[:self.train_end]))
        return np.array([table.get(int(k), overall) for k in self.data.keys[:self.end]])

    def at_origins(self, values: np.ndarray) -> np.ndarray:
        """float[O, H]: `values` (one per row) at the forecast rows of every origin."""
        return values[self.origins[:, None] + np.arange(self.horizon)]


def load_bench(name: str, args) -> Bench:
    from seqkeras.forecasting.data import build_data
    from seqkeras.pipeline import load_spec

    spec = load_spec(SPECS[name])
    data = build_data(spec, args.data_dir)
    first_validation, first_test, _ = data.bounds
    stride = args.stride or spec.evaluation.stride * (QUICK["stride_factor"] if args.quick else 1)
    origins = evaluation.rolling_origins(first_validation, first_test, data.horizon, stride,
                                         min_history=data.history)
    # The evaluated forecasts lie in the validation span and their histories exist.
    assert origins[0] >= max(first_validation, data.history) and origins[-1] + data.horizon <= first_test
    truth = evaluation.truth_matrix(data.target, origins, data.horizon)
    levels = tuple(spec.model.quantiles) or DEFAULT_LEVELS
    return Bench(name, spec, data, origins, truth, levels, stride)


@dataclasses.dataclass
class Peer:
    """A peer's forecasts at every origin and how they were made."""

    name: str
    point: np.ndarray               # float[O, H]
    quantiles: np.ndarray | None    # float[O, H, Q] at Bench.levels
    protocol: str
    fit_seconds: float
    forecast_seconds: float
    notes: list[str] = dataclasses.field(default_factory=list)
    checks: list[str] = dataclasses.field(default_factory=list)


def budget(minutes: float):
    """An optimizer callback that raises `OverBudget` once `minutes` have passed."""
    deadline = time.perf_counter() + 60 * minutes

    def callback(*_):
        if time.perf_counter() > deadline:
            raise OverBudget(f"fit still running after {minutes:g} min")
    return callback


def gaussian_quantiles(mean: np.ndarray, variance: np.ndarray, levels) -> np.ndarray:
    from scipy.stats import norm

    return mean[..., None] + np.sqrt(np.maximum(variance, 0))[..., None] * norm.ppf(levels)


# ----------------------------------------------------------------------------- statsmodels


def ets_peer(bench: Bench, args, series: np.ndarray, label: str, seasonal: bool,
             offset: np.ndarray | None = None, note: str = "") -> Peer:
    """ETSModel fitted on ``series[:train_end]``, its parameters run over `series`,
    an H-step forecast from every origin (+ `offset` per row, e.g. the climatology)."""
    import pandas as pd
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    # A pandas series: ETSResults.get_prediction fails on a bare ndarray (statsmodels 0.15).
    options = dict(error="add", trend=None, seasonal="add" if seasonal else None,
                   seasonal_periods=bench.spec.season if seasonal else None)
    start = time.perf_counter()
    model = ETSModel(pd.Series(series[:bench.train_end]), **options)
    fit = model.fit(disp=False, callback=budget(args.peer_minutes),
                    **({"maxiter": args.maxiter} if args.maxiter else {}))
    fit_seconds = time.perf_counter() - start
    start = time.perf_counter()
    rolled = ETSModel(pd.Series(series), **options).smooth(fit.params)
    H = bench.horizon
    means, variances = np.empty((len(bench.origins), H)), np.empty((len(bench.origins), H))
    for i, origin in enumerate(bench.origins):
        prediction = rolled.get_prediction(start=int(origin), end=int(origin) + H - 1, dynamic=0, method="exact")
        means[i], variances[i] = np.asarray(prediction.predicted_mean), np.asarray(prediction.var_pred_mean)
    forecast_seconds = time.perf_counter() - start
    checks = [check_close(f"{label}: the fixed-parameter run reproduces the fit on the training span",
                          np.asarray(rolled.fittedvalues)[:bench.train_end], np.asarray(fit.fittedvalues))]
    for i in (0, len(bench.origins) - 1):        # the forecast at o uses rows < o, and all of them
        origin = int(bench.origins[i])
        alone = ETSModel(pd.Series(series[:origin]), **options).smooth(fit.params).forecast(H)
        checks.append(check_close(f"{label}: rolling forecast at origin {origin} = forecast of the prefix [0, {origin})",
                                  means[i], np.asarray(alone)))
    shift = 0.0 if offset is None else bench.at_origins(offset)
    notes = [f"converged: {fit.mle_retvals.get('converged')}, params: "
             + ", ".join(f"{k}={v:.4g}" for k, v in zip(fit.param_names, fit.params) if "initial" not in k)]
    return Peer(label, means + shift, gaussian_quantiles(means, variances, bench.levels) + np.asarray(shift)[..., None],
                "ETSModel fit once on train (NaN interpolated); fixed params smoothed over rows < origin "
                "(later NaN carried forward); exact Gaussian quantiles" + note, fit_seconds, forecast_seconds,
                notes, checks)


def sarima_peer(bench: Bench, args, series: np.ndarray, label: str, seasonal: bool,
                offset: np.ndarray | None = None, note: str = "") -> Peer:
    """SARIMAX fitted on ``series[:train_end]`` (NaN allowed), `apply`-ed to `series`,
    ``get_prediction(dynamic=0)`` at every origin (+ `offset` per row)."""
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    seasonal_order = (1, 0, 1, bench.spec.season) if seasonal else (0, 0, 0, 0)
    start = time.perf_counter()
    model = SARIMAX(series[:bench.train_end], order=(2, 0, 1), seasonal_order=seasonal_order, trend="c")
    fit = model.fit(disp=False, callback=budget(args.peer_minutes),
                    **({"maxiter": args.maxiter} if args.maxiter else {}))
    fit_seconds = time.perf_counter() - start
    start = time.perf_counter()
    rolled = fit.apply(series)                 # same parameters, one filter pass, no refit
    H = bench.horizon
    means, variances = np.empty((len(bench.origins), H)), np.empty((len(bench.origins), H))
    for i, origin in enumerate(bench.origins):
        prediction = rolled.get_prediction(start=int(origin), end=int(origin) + H - 1, dynamic=0)
        means[i] = np.asarray(prediction.predicted_mean)
        variances[i] = np.asarray(prediction.var_pred_mean).reshape(-1)
    forecast_seconds = time.perf_counter() - start
    checks = []
    for i in (0, len(bench.origins) - 1):
        origin = int(bench.origins[i])
        alone = fit.apply(series[:origin]).forecast(H)
        checks.append(check_close(f"{label}: rolling forecast at origin {origin} = forecast of the prefix "
                                  f"[0, {origin})", means[i], np.asarray(alone)))
    shift = 0.0 if offset is None else bench.at_origins(offset)
    notes = [f"converged: {fit.mle_retvals.get('converged')}, params: "
             + ", ".join(f"{k}={v:.4g}" for k, v in zip(fit.param_names, fit.params))]
    return Peer(label, means + shift, gaussian_quantiles(means, variances, bench.levels) + np.asarray(shift)[..., None],
                "SARIMAX fit once on train (Kalman filter skips NaN); apply() over rows < test, "
                "get_prediction(dynamic=0) per origin; Gaussian quantiles" + note, fit_seconds, forecast_seconds,
                notes, checks)


def statsmodels_peers(bench: Bench, args) -> tuple[list[Peer], list[str]]:
    # Imported before the warning filter below: statsmodels adds an "always" filter on import.
    import statsmodels.tsa.exponential_smoothing.ets  # noqa: F401
    import statsmodels.tsa.statespace.sarimax  # noqa: F401

    peers, skipped = [], []
    season = bench.spec.season
    seasonal = season <= MAX_STATE_SEASON
    filled, observed = bench.filled(), bench.observed()
    runs = []
    if "ets" in args.peers:
        if seasonal:
            runs.append(lambda: ets_peer(bench, args, filled, f"ets(A,N,A) m={season}", True))
        else:
            clim = bench.climatology()
            runs.append(lambda: ets_peer(bench, args, filled, "ets(A,N,N)", False))
            runs.append(lambda: ets_peer(bench, args, filled - clim, "ets(A,N,N)+climatology", False, clim,
                                         "; on anomalies from the training climatology, added back"))
            skipped.append(f"seasonal ETS: period {season} exceeds {MAX_STATE_SEASON} (one state per season "
                           "row); ETS(A,N,N) raw and on climatology anomalies instead")
    if "sarima" in args.peers:
        if seasonal:
            runs.append(lambda: sarima_peer(bench, args, observed, f"sarima(2,0,1)(1,0,1){season}", True))
        else:
            clim = bench.climatology()
            runs.append(lambda: sarima_peer(bench, args, observed - clim, "arima(2,0,1)+climatology", False, clim,
                                            "; on anomalies from the training climatology, added back"))
            skipped.append(f"SARIMA (1,0,1){season}: a {season}-row seasonal state is too slow to fit; "
                           "ARIMA(2,0,1) on climatology anomalies instead")
    for run in runs:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                peer = run()
        except OverBudget as error:
            skipped.append(f"a statsmodels peer was skipped: {error} (--peer-minutes {args.peer_minutes:g})")
            print(f"  skipped: {skipped[-1]}", flush=True)
            continue
        print(f"  {peer.name}: fit {peer.fit_seconds:.1f} s, forecasts {peer.forecast_seconds:.1f} s", flush=True)
        peers.append(peer)
    return peers, skipped


def check_close(what: str, a, b, rtol: float = 1e-6, atol: float = 1e-6) -> str:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape or not np.allclose(a, b, rtol=rtol, atol=atol):
        raise AssertionError(f"check failed: {what} (max difference "
                             f"{np.nanmax(np.abs(a - b)) if a.shape == b.shape else a.shape + b.shape})")
    return what


# ----------------------------------------------------------------------------- Darts


def darts_cell(bench: Bench, args) -> str:
    if args.darts_cell:
        return args.darts_cell
    cell = bench.spec.model.cell.lower()
    return "GRU" if cell == "gru" else "LSTM" if cell.startswith("lstm") else "GRU"


def darts_inputs(bench: Bench):
    """(target, covariates or None, times) as Darts TimeSeries over rows [0, first test),
    standardized by the training statistics our model uses (NaN target filled, see
    `Bench.filled`; NaN covariate → 0, the training mean, as our model imputes)."""
    import pandas as pd
    from darts import TimeSeries

    data, layout = bench.data, bench.data.layout
    times = pd.DatetimeIndex(data.series.times[:bench.end].astype("datetime64[ns]"))
    freq = "h" if layout.frequency == "hour" else "D"
    target = ((bench.filled() - data.mean[0]) / data.std[0]).astype(np.float32)
    series = TimeSeries.from_times_and_values(times, target[:, None], freq=freq, columns=[layout.target])
    rows = data.rows[:bench.end]
    columns, names = [], []
    numeric = rows[:, layout.target_index + 1:layout.numeric_slice.stop]
    if numeric.shape[1]:
        columns.append(np.nan_to_num((numeric - data.mean[1:]) / data.std[1:]))
        names += list(layout.covariates)
    for k, (name, categories) in enumerate(layout.categorical):
        codes = rows[:, layout.categorical_slice.start + k]
        columns.append((codes[:, None] == np.arange(len(categories))).astype(np.float32))   # -1 / NaN → zeros
        names += [f"{name}={c}" for c in categories]
    covariates = None
    if columns:
        covariates = TimeSeries.from_times_and_values(times, np.concatenate(columns, 1).astype(np.float32),
                                                      freq=freq, columns=names)
    return series, covariates, times


class FitClock(LightningCallback):
    """A Lightning callback: epochs and batches run, and the wall time of batches [first, last].
    (Module level: Darts pickles its trainer's callbacks with the checkpoints.)"""

    def __init__(self, first: int = -1, last: int = -1):
        self.first, self.last = first, last
        self.epochs, self.batches, self.start, self.stop = 0, 0, None, None

    def on_train_batch_start(self, trainer, module, batch, batch_index):
        if batch_index == self.first and self.start is None:
            self.start = time.perf_counter()

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_index):
        self.batches += 1
        if batch_index == self.last and self.stop is None:
            self.stop = time.perf_counter()

    def on_train_epoch_end(self, trainer, module):
        self.epochs += 1


def darts_model(kind: str, bench: Bench, args, work_dir: str, epochs: int, train_batches: int,
                callbacks: list, validation: bool):
    from darts.models import BlockRNNModel, RNNModel
    from darts.utils.likelihood_models import QuantileRegression

    spec, m, t = bench.spec, bench.spec.model, bench.spec.training
    levels = sorted(set(bench.levels) | {0.5})                  # Darts' QuantileRegression needs the median
    minutes = args.darts_minutes if args.darts_minutes is not None else t.max_minutes or 60
    trainer = {"accelerator": "cpu", "devices": 1, "enable_progress_bar": False, "enable_model_summary": False,
               "logger": False, "max_time": {"minutes": minutes}, "callbacks": list(callbacks)}
    if t.clip_norm:
        trainer["gradient_clip_val"] = t.clip_norm
    if train_batches:
        trainer["limit_train_batches"] = train_batches
        trainer["limit_val_batches"] = train_batches
    if validation and t.early_stopping:
        from pytorch_lightning.callbacks import EarlyStopping

        trainer["callbacks"].append(EarlyStopping("val_loss", patience=t.early_stopping, mode="min"))
    calendar = [DARTS_CALENDAR[name] for name in spec.data.calendar]
    common = dict(model=darts_cell(bench, args), hidden_dim=m.units, n_rnn_layers=m.layers, dropout=m.dropout,
                  likelihood=QuantileRegression(levels), batch_size=t.batch_size, n_epochs=epochs,
                  optimizer_kwargs={"lr": t.learning_rate}, random_state=t.seed, model_name=kind,
                  work_dir=work_dir, save_checkpoints=validation, force_reset=True, pl_trainer_kwargs=trainer)
    if kind == "blockrnn":
        encoders = {"cyclic": {"past": calendar}} if calendar else None
        return BlockRNNModel(input_chunk_length=bench.history, output_chunk_length=bench.horizon,
                             add_encoders=encoders, **common)
    encoders = {"cyclic": {"future": calendar}} if calendar else None
    return RNNModel(input_chunk_length=bench.history, training_length=bench.history + bench.horizon,
                    add_encoders=encoders, **common)


def darts_peer(kind: str, bench: Bench, args) -> Peer:
    """Train a Darts RNN on the training span, forecast at every origin (see the module docstring)."""
    series, covariates, times = darts_inputs(bench)
    assert len(series) == bench.end and series.end_time() < bench.data.series.times[bench.end]  # no test row
    block = kind == "blockrnn"
    past = covariates if block else None
    T, H = bench.history, bench.horizon
    train = series[:bench.train_end]
    validation = series[bench.train_end - T:]                    # windows whose forecasts lie in validation
    epochs = args.epochs or bench.spec.training.epochs
    clock = FitClock()
    with tempfile.TemporaryDirectory() as work_dir:
        model = darts_model(kind, bench, args, work_dir, epochs, args.train_batches, [clock], True)
        start = time.perf_counter()
        model.fit(train, past_covariates=past, val_series=validation, val_past_covariates=past,
                  load_best=True, verbose=False)
        fit_seconds = time.perf_counter() - start
    first = bench.origins[0]
    start = time.perf_counter()
    forecasts = model.historical_forecasts(
        series, past_covariates=past, forecast_horizon=H, start=int(first), start_format="position",
        stride=bench.stride, retrain=False, last_points_only=False, verbose=False, show_warnings=False,
        predict_likelihood_parameters=block, num_samples=1 if block else args.samples,
        random_state=bench.spec.training.seed)
    forecast_seconds = time.perf_counter() - start

    # Alignment: one forecast per origin, starting at the origin's time, H steps long.
    assert len(forecasts) == len(bench.origins), (len(forecasts), len(bench.origins))
    for forecast, origin in zip(forecasts, bench.origins):
        assert forecast.start_time() == times[origin] and len(forecast) == H, (forecast.start_time(), origin)
    label = f"darts {'BlockRNN' if block else 'RNN'}-{darts_cell(bench, args)}"
    checks = [f"{label}: {len(forecasts)} forecasts, each starting at its origin's time and {H} steps long"]
    levels = sorted(set(bench.levels) | {0.5})                  # the median is the point forecast
    if block:
        components = [float(name.rsplit("_q", 1)[1]) for name in forecasts[0].components]
        columns = [components.index(q) for q in levels]
        scaled = np.stack([f.values()[:, columns] for f in forecasts])               # [O, H, Q]
        alone = model.predict(H, series=series[:first], past_covariates=past, predict_likelihood_parameters=True,
                              verbose=False, show_warnings=False).values()[:, columns]
        checks.append(check_close(f"{label}: historical forecast at origin {first} = predict() on the prefix "
                                  f"[0, {first})", scaled[0], alone, rtol=1e-4, atol=1e-5))
    else:
        samples = np.stack([f.all_values()[:, 0, :] for f in forecasts])              # [O, H, S]
        scaled = np.quantile(samples, levels, axis=-1).transpose(1, 2, 0)
    values = scaled.astype(np.float64) * float(bench.data.std[0]) + float(bench.data.mean[0])
    point = values[..., levels.index(0.5)]
    quantiles = values[..., [levels.index(q) for q in bench.levels]]
    crossings = float(np.mean(np.diff(quantiles, axis=-1) < 0))
    cell = darts_cell(bench, args)
    inputs = ("target + past covariates " + ", ".join(bench.spec.data.covariates + bench.spec.data.categorical)
              if block and covariates is not None else "target")
    calendar = ", ".join(bench.spec.data.calendar)
    protocol = (f"Darts {'BlockRNNModel' if block else 'RNNModel'}({cell}) trained on train (NaN filled), "
                f"val = validation for early stopping; {inputs}"
                + (f"; calendar ({calendar}) as {'past' if block else 'future'} covariates" if calendar else "")
                + ("; quantile outputs" if block else f"; {args.samples} sample paths"))
    notes = [f"epochs run: {clock.epochs} of {epochs}, train batches: {clock.batches}",
             f"crossed quantile pairs: {crossings:.2%}"]
    return Peer(label, point, quantiles, protocol, fit_seconds, forecast_seconds, notes, checks)


# ----------------------------------------------------------------------------- speed


def speed(bench: Bench, args) -> list[dict]:
    """Training windows/s: our forecaster, plain Keras (the anchor), Darts BlockRNN."""
    import tensorflow as tf

    from seqkeras.forecasting.application import ForecastingApplication
    from seqkeras.forecasting.data import origins_between
    from seqkeras.forecasting.model import ForecastEncoding
    from seqkeras.pipeline import make_optimizer

    spec, data = bench.spec, bench.data
    B, warm, timed = spec.training.batch_size, args.warmup_batches, args.speed_batches
    count = B * (warm + timed)
    origins = origins_between(0, bench.train_end, bench.history, bench.horizon, spec.data.train_stride, data.target)
    origins = np.random.default_rng(spec.training.seed).permutation(origins)[:count]
    assert len(origins) == count, f"{len(origins)} training windows, fewer than {count}"
    windows = data.windows(origins)
    truth = data.target[origins[:, None] + np.arange(bench.horizon)]

    def keras_speed(model, x, y) -> float:
        clock = KerasClock(warm, warm + timed - 1)
        model.fit(tf.data.Dataset.from_tensor_slices((x, y)).batch(B), epochs=1, verbose=0, shuffle=False,
                  callbacks=[clock])
        return timed * B / (clock.stop - clock.start)

    rows = []
    keras.utils.set_random_seed(spec.training.seed)
    ours = ForecastingApplication().build_model(spec, data)
    rows.append({"model": f"seqkeras forecaster ({spec.model.cell}, {spec.model.head} head)",
                 "windows_per_second": keras_speed(ours, windows, truth), "parameters": ours.count_params()})

    encoded = np.asarray(ForecastEncoding(data.layout, data.mean, data.std)(windows))
    Q = len(spec.model.quantiles) or 1
    keras.utils.set_random_seed(spec.training.seed)
    plain = plain_keras_model(spec, encoded.shape[-1], bench.horizon, Q)
    plain.compile(optimizer=make_optimizer(spec.training), loss=pinball(spec.model.quantiles or [0.5]))
    target = np.nan_to_num((truth - data.mean[0]) / data.std[0])
    rows.append({"model": f"plain keras ({plain.layers[1].__class__.__name__}({spec.model.units}), "
                          f"{encoded.shape[-1]} encoded features)",
                 "windows_per_second": keras_speed(plain, encoded, target), "parameters": plain.count_params(),
                 "anchor": True})

    try:
        series, covariates, _ = darts_inputs(bench)
        clock = FitClock(warm, warm + timed - 1)
        with tempfile.TemporaryDirectory() as work_dir:
            darts = darts_model("blockrnn", bench, args, work_dir, 1, warm + timed, [clock], False)
            darts.fit(series[:bench.train_end], past_covariates=covariates, verbose=False)
        rows.append({"model": f"darts BlockRNNModel({darts_cell(bench, args)}, {spec.model.units})",
                     "windows_per_second": timed * B / (clock.stop - clock.start),
                     "parameters": sum(p.numel() for p in darts.model.parameters())})
    except ImportError as error:
        print(f"  speed: no Darts row ({error})")
    anchor = rows[1]["windows_per_second"]
    for row in rows:
        row["ratio_to_plain_keras"] = row["windows_per_second"] / anchor
    return rows


def plain_keras_model(spec, features: int, horizon: int, outputs: int):
    m = spec.model
    layer = keras.layers.GRU if m.cell.lower() == "gru" else keras.layers.LSTM
    inputs = keras.Input((None, features))
    x = inputs
    for level in range(m.layers):
        x = layer(m.units, return_sequences=level < m.layers - 1)(x)
        if m.dropout:
            x = keras.layers.Dropout(m.dropout)(x)
    x = keras.layers.Dense(m.units, activation="relu")(x)
    x = keras.layers.Reshape((horizon, outputs))(keras.layers.Dense(horizon * outputs)(x))
    return keras.Model(inputs, x, name="plain_keras")


def pinball(levels):
    levels = keras.ops.convert_to_tensor(np.asarray(levels, np.float32))

    def loss(y, q):
        difference = y[..., None] - q
        return keras.ops.mean(keras.ops.maximum(levels * difference, (levels - 1.0) * difference))
    return loss


class KerasClock(keras.callbacks.Callback):
    """A Keras callback: the wall time of batches [first, last] (reading each step's loss
    makes the step finish before the clock is read)."""

    def __init__(self, first: int, last: int):
        super().__init__()
        self.first, self.last, self.start, self.stop = first, last, None, None

    def on_train_batch_begin(self, batch, logs=None):
        if batch == self.first:
            self.start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        float((logs or {}).get("loss", 0.0))
        if batch == self.last:
            self.stop = time.perf_counter()


# ----------------------------------------------------------------------------- report


def model_report(paths: list[str], bench: Bench, results: dict) -> tuple[dict | None, str]:
    """Our model's figures from the first report whose origins are this run's: the same
    stride and origin count, and every baseline's MAE equal to ours."""
    for path in paths:
        report = json.loads(pathlib.Path(path).read_text())
        figures = report.get("results", {})
        if (report.get("span") == "validation" and "model" in figures and report.get("stride") == bench.stride
                and report.get("origins") == len(bench.origins)
                and all(name in figures and math.isclose(figures[name]["mean_mae"], results[name]["mean_mae"],
                                                         rel_tol=1e-9) for name in evaluation.BASELINES)):
            return figures["model"], (f"model row from {path}: stride {bench.stride}, {len(bench.origins)} "
                                      "origins and every baseline's MAE equal this run's")
    if paths:
        return None, f"no model row: none of {paths} holds this run's origins (stride {bench.stride})"
    return None, ""


def timing_table(peers: list[Peer]) -> str:
    return markdown_table(["forecaster", "fit s", "forecast s", "protocol"],
                          [[p.name, f"{p.fit_seconds:.1f}", f"{p.forecast_seconds:.1f}", p.protocol] for p in peers])


def speed_table(rows: list[dict]) -> str:
    return markdown_table(["model", "parameters", "windows/s", "× plain keras"],
                          [[r["model"], f"{r['parameters']:,}", f"{r['windows_per_second']:.0f}",
                            f"{r['ratio_to_plain_keras']:.2f}"] for r in rows])


def run_series(name: str, args) -> dict:
    started = time.perf_counter()
    bench = load_bench(name, args)
    data, T, H = bench.data, bench.history, bench.horizon
    first_validation, first_test, rows = data.bounds
    print(f"\n=== {name}: {SPECS[name]} — T={T}, H={H}, train rows [0, {first_validation}), validation "
          f"[{first_validation}, {first_test}), test [{first_test}, {rows}) unused; {len(bench.origins)} origins "
          f"{bench.origins[0]}..{bench.origins[-1]} every {bench.stride} rows; threads {args.threads}", flush=True)

    results = {}
    for baseline, forecast in evaluation.baseline_forecasts(data.target, bench.origins, H, bench.spec.season,
                                                            data.keys, first_validation).items():
        results[baseline] = evaluation.forecast_metrics(bench.truth, forecast, name=baseline)
    peers, notes = [], []
    if {"ets", "sarima"} & set(args.peers):
        found, skipped = statsmodels_peers(bench, args)
        peers += found
        notes += skipped
    for kind in ("blockrnn", "rnn"):
        if kind in args.peers:
            try:
                peer = darts_peer(kind, bench, args)
            except ImportError as error:                     # the statsmodels peers still count
                notes.append(f"darts {kind} skipped: {error} (pip install -e .[bench])")
                continue
            print(f"  {peer.name}: fit {peer.fit_seconds:.1f} s, forecasts {peer.forecast_seconds:.1f} s", flush=True)
            peers.append(peer)
    model = {}
    figures, message = model_report(args.model_report, bench, results)
    if figures:
        model["seqkeras (report)"] = figures
    if message:
        notes.append(message)
    for peer in peers:
        model[peer.name] = evaluation.forecast_metrics(bench.truth, peer.point, peer.quantiles, bench.levels,
                                                       name=peer.name)
    results = {**model, **results}
    speed_rows = [] if args.skip_speed else speed(bench, args)

    print(f"\n{name}: validation span, {len(bench.origins)} rolling origins, H = {H}\n")
    print(evaluation.compare(results))
    if peers:
        print("\n" + timing_table(peers))
    for peer in peers:
        for line in peer.notes:
            print(f"  {peer.name}: {line}")
    if speed_rows:
        print(f"\ntraining speed: {args.speed_batches} batches of {bench.spec.training.batch_size} windows after "
              f"{args.warmup_batches} warm-up batches, {args.threads} thread(s)\n" + speed_table(speed_rows))
    checks = [f"origins = rolling_origins({first_validation}, {first_test}, {H}, {bench.stride}, min_history={T}); "
              f"all forecast rows < {first_test}"] + [c for p in peers for c in p.checks]
    print("\nchecks passed:\n" + "\n".join(f"  {c}" for c in checks))
    if notes:
        print("notes:\n" + "\n".join(f"  {n}" for n in notes))

    output = pathlib.Path(args.output.format(series=name))
    output.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "series": name, "spec": SPECS[name], "quick": args.quick, "threads": args.threads,
        "arguments": {k: v for k, v in vars(args).items() if k not in ("series",)},
        "origins": {"count": int(len(bench.origins)), "first": int(bench.origins[0]),
                    "last": int(bench.origins[-1]), "stride": bench.stride, "history": T, "horizon": H,
                    "bounds": [int(b) for b in data.bounds]},
        "levels": list(bench.levels), "results": results,
        "peers": {p.name: {"protocol": p.protocol, "fit_seconds": p.fit_seconds,
                           "forecast_seconds": p.forecast_seconds, "notes": p.notes, "checks": p.checks}
                  for p in peers},
        "speed": speed_rows, "checks": checks, "notes": notes, "versions": versions(PEER_PACKAGES),
        "seconds": time.perf_counter() - started,
    }
    output.write_text(json.dumps(record, indent=1, default=float))
    print(f"wrote {output} ({record['seconds']:.0f} s)")
    return record


def main(argv=None):
    args = parse_args(argv)
    threads = limit_threads(args.threads)
    for logger in ("pytorch_lightning", "lightning.pytorch", "lightning_fabric", "darts"):
        logging.getLogger(logger).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module="pytorch_lightning|lightning|darts")
    warnings.filterwarnings("ignore", message="dropout option adds dropout")   # Darts passes it to a 1-level RNN
    warnings.filterwarnings("ignore", message=".*pin_memory.*")                 # torch's loader, CPU only
    with threads:
        for name in SPECS if args.series == "both" else [args.series]:
            run_series(name, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
