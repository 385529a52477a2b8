"""Rolling-origin evaluation of forecasts: origins, baselines, metrics, tables and plots.

Every forecaster — the model, the four baselines, and peers such as statsmodels or
Darts — is scored by these functions on the same origins, so their numbers compare.
Pure NumPy (and matplotlib for the plots): no TensorFlow, no Keras.

Conventions:

* a series is ``target: float[N]``, one row per step, NaN = missing;
* an origin ``o`` is a row index: the forecast at ``o`` may use rows ``< o`` only and
  predicts rows ``o, o + 1, ..., o + H − 1`` (horizon ``H``);
* a point forecast is ``float[O, H]`` (row ``i`` = origin ``origins[i]``, column ``k`` =
  step ``k + 1``); quantile forecasts are ``float[O, H, Q]`` for sorted `levels`.

Metrics skip the entries whose truth is missing (``count`` reports how many were
scored); a forecast that is NaN where the truth is present raises ``ValueError``.

Example:
    >>> target = np.arange(10.0)
    >>> origins = rolling_origins(0, 10, horizon=2, stride=3, min_history=2)
    >>> origins
    array([2, 5, 8])
    >>> truth = truth_matrix(target, origins, 2)
    >>> forecasts = baseline_forecasts(target, origins, 2, season=2, keys=None, train_end=6)
    >>> forecasts["persistence"].tolist()
    [[1.0, 1.0], [4.0, 4.0], [7.0, 7.0]]
    >>> forecast_metrics(truth, forecasts["persistence"])["mae"]
    [1.0, 2.0]
"""

from __future__ import annotations

import math
import pathlib
from typing import Mapping, Sequence

import numpy as np

from seqkeras.tables import number, text_table

BASELINES = ("persistence", "seasonal_naive", "window_mean", "climatology")


# ----------------------------------------------------------------------------- origins


def rolling_origins(start: int, end: int, horizon: int, stride: int = 1, min_history: int = 0) -> np.ndarray:
    """The forecast origins of one span, every `stride` rows.

    ``o ∈ [max(start, min_history), end − horizon]``, so every target row
    ``o + k, k < horizon`` lies in ``[start, end)`` and at least `min_history` rows
    precede each origin.

    Args:
        start: first row of the span (e.g. the validation or test start).
        end: one past the last row of the span.
        horizon: ``H ≥ 1``, the number of steps forecast from each origin.
        stride: ``≥ 1``, rows between consecutive origins.
        min_history: the smallest allowed origin (rows of history before it).

    Returns:
        ``int64[O]``, ascending; empty when the span is shorter than the horizon.

    Example:
        >>> rolling_origins(10, 20, horizon=3, stride=2).tolist()
        [10, 12, 14, 16]
    """
    if horizon < 1:
        raise ValueError(f"horizon must be ≥ 1, received {horizon}")
    if stride < 1:
        raise ValueError(f"stride must be ≥ 1, received {stride}")
    first = max(int(start), int(min_history))
    return np.arange(first, int(end) - int(horizon) + 1, int(stride), dtype=np.int64)


def _origins(origins, horizon: int) -> np.ndarray:
    origins = np.asarray(origins, dtype=np.int64).reshape(-1)
    if horizon < 1:
        raise ValueError(f"horizon must be ≥ 1, received {horizon}")
    if origins.size and origins.min() < 0:
        raise ValueError(f"origins must be ≥ 0, received {origins.min()}")
    return origins


def _rows(origins: np.ndarray, horizon: int) -> np.ndarray:
    """``int[O, H]``: the forecast rows ``o + k``."""
    return origins[:, None] + np.arange(horizon)[None, :]


def truth_matrix(target: np.ndarray, origins, horizon: int) -> np.ndarray:
    """``float[O, H]`` with entry ``[i, k] = target[origins[i] + k]`` (NaN = missing).

    Raises:
        ValueError: when a forecast row falls outside the series.
    """
    target = np.asarray(target, dtype=np.float64).reshape(-1)
    origins = _origins(origins, horizon)
    if origins.size and origins.max() + horizon > target.size:
        raise ValueError(f"origin {origins.max()} + horizon {horizon} runs past the series end ({target.size} rows)")
    return target[_rows(origins, horizon)]


# ----------------------------------------------------------------------------- baselines


def climatology_table(target: np.ndarray, keys: np.ndarray, train_end: int) -> dict[int, float]:
    """The mean target per key over the training rows ``< train_end``, NaN ignored.

    Args:
        target: ``float[N]``.
        keys: ``int[≥ train_end]``, one key per row (e.g. hour of day for hourly
            data, day of year for daily data).
        train_end: one past the last training row.

    Returns:
        ``{key: mean}`` for every key with at least one non-missing training target.

    Example:
        >>> climatology_table(np.array([1.0, 2.0, 3.0, np.nan, 9.0]), np.array([0, 1, 0, 1, 0]), 4)
        {0: 2.0, 1: 2.0}
    """
    target = np.asarray(target, dtype=np.float64).reshape(-1)[:train_end]
    keys = np.asarray(keys).reshape(-1)[:train_end]
    if keys.size < target.size:
        raise ValueError(f"keys must cover the {target.size} training rows, received {keys.size} keys")
    present = ~np.isnan(target)
    unique, inverse = np.unique(keys[present], return_inverse=True)
    sums = np.bincount(inverse, weights=target[present], minlength=unique.size)
    counts = np.bincount(inverse, minlength=unique.size)
    return {int(key): float(total / count) for key, total, count in zip(unique, sums, counts)}


def _persistence(target: np.ndarray, origins: np.ndarray) -> np.ndarray:
    """``float[O]``: the last non-missing target before each origin, NaN if none."""
    padded = np.concatenate([[np.nan], target])  # padded[o] = target[o − 1]
    last = np.maximum.accumulate(np.where(np.isnan(padded), 0, np.arange(padded.size)))
    return padded[last[origins]]


def baseline_forecasts(target: np.ndarray, origins, horizon: int, season: int, keys: np.ndarray | None,
                       train_end: int) -> dict[str, np.ndarray]:
    """The four baseline point forecasts at every origin, each ``float[O, H]``.

    For origin ``o`` and step ``k = 0 .. H − 1`` (forecast row ``o + k``):

    * ``persistence``: the last non-missing target before ``o`` (searching back); NaN
      only when no earlier row has a value.
    * ``seasonal_naive``: ``target[o + k − season·⌈(k + 1) / season⌉]``, the same
      position in the latest season that ends before ``o`` (so for ``k < season`` it
      is one season ago, for ``season ≤ k < 2·season`` two seasons ago, …); when that
      row is missing, or before the series start, the persistence value.
    * ``window_mean``: the mean of the non-missing targets in rows
      ``[o − season, o)``; when the window holds no value, the persistence value.
    * ``climatology``: the training mean of the target over rows ``< train_end`` with
      the key of the forecast row, ``keys[o + k]`` (`climatology_table`); a key with no
      training value gets the overall training mean. ``keys=None`` means one key for
      every row: the overall training mean.

    Args:
        target: ``float[N]``, NaN = missing.
        origins: ``int[O]`` with ``0 ≤ o ≤ N``.
        horizon: ``H``.
        season: ``≥ 1``, the seasonal period in rows (24 for hourly, 7 or 365 for daily).
        keys: ``int[≥ max(origins) + H]`` or None.
        train_end: one past the last training row; needs a non-missing target before it.

    Returns:
        ``{name: float[O, H]}`` for the names in `BASELINES`, in that order.

    Example:
        >>> target = np.array([1.0, 2.0, 3.0, 4.0, np.nan, 6.0])
        >>> forecasts = baseline_forecasts(target, [4], 2, season=2, keys=None, train_end=4)
        >>> {name: values.tolist() for name, values in forecasts.items()}  # doctest: +NORMALIZE_WHITESPACE
        {'persistence': [[4.0, 4.0]], 'seasonal_naive': [[3.0, 4.0]], 'window_mean': [[3.5, 3.5]],
         'climatology': [[2.5, 2.5]]}
    """
    target = np.asarray(target, dtype=np.float64).reshape(-1)
    origins = _origins(origins, horizon)
    if season < 1:
        raise ValueError(f"season must be ≥ 1, received {season}")
    if origins.size and origins.max() > target.size:
        raise ValueError(f"origins must be ≤ the series length {target.size}, received {origins.max()}")
    steps = np.arange(horizon)
    persistence = _persistence(target, origins)
    persistence_matrix = np.repeat(persistence[:, None], horizon, axis=1)

    # Seasonal naive: k − season·⌈(k+1)/season⌉ ≤ −1, so the row always precedes o.
    offsets = steps - season * ((steps + 1 + season - 1) // season)
    rows = origins[:, None] + offsets[None, :]
    padded = np.concatenate([[np.nan], target])  # rows before the series start read the NaN at 0
    seasonal = padded[np.clip(rows, -1, None) + 1]
    seasonal = np.where(np.isnan(seasonal), persistence_matrix, seasonal)

    # Window mean from prefix sums over rows [o − season, o).
    present = ~np.isnan(target)
    sums = np.concatenate([[0.0], np.cumsum(np.where(present, target, 0.0))])
    counts = np.concatenate([[0], np.cumsum(present)])
    low = np.clip(origins - season, 0, None)
    window_count = counts[origins] - counts[low]
    window_sum = sums[origins] - sums[low]
    window = np.where(window_count > 0, window_sum / np.maximum(window_count, 1), persistence)
    window_matrix = np.repeat(window[:, None], horizon, axis=1)

    train = target[:train_end]
    if not np.any(~np.isnan(train)):
        raise ValueError(f"no non-missing target before train_end={train_end}: climatology is undefined")
    overall = float(np.nanmean(train))
    if keys is None:
        climatology = np.full((origins.size, horizon), overall)
    else:
        keys = np.asarray(keys).reshape(-1)
        if origins.size and origins.max() + horizon > keys.size:
            raise ValueError(f"keys must cover every forecast row (up to {origins.max() + horizon - 1}), "
                             f"received {keys.size} keys")
        table = climatology_table(target, keys, train_end)
        known = np.fromiter(table.keys(), dtype=np.int64, count=len(table))
        means = np.fromiter(table.values(), dtype=np.float64, count=len(table))
        wanted = keys[_rows(origins, horizon)].astype(np.int64)
        where = np.clip(np.searchsorted(known, wanted), 0, max(known.size - 1, 0))
        climatology = np.where(known[where] == wanted, means[where], overall)

    return {"persistence": persistence_matrix, "seasonal_naive": seasonal, "window_mean": window_matrix,
            "climatology": climatology}


# ----------------------------------------------------------------------------- metrics


def _check_forecast(values: np.ndarray, scored: np.ndarray, what: str, name: str):
    """Raise when `values` (``[O, H]`` or ``[O, H, Q]``) is NaN where `scored` (``[O, H]``) holds."""
    missing = np.isnan(values)
    bad = scored & (missing.any(axis=-1) if missing.ndim == 3 else missing)
    if bad.any():
        origin, step = (int(v) for v in np.argwhere(bad)[0])
        raise ValueError(f"{name}: {what} is NaN at {int(bad.sum())} entries where the truth is present "
                         f"(first at origin index {origin}, step {step + 1})")


def _per_step(values: np.ndarray, scored: np.ndarray, count: np.ndarray) -> np.ndarray:
    """Mean over the scored entries of each column; NaN for a column with none."""
    total = np.where(scored, values, 0.0).sum(axis=0)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def _pooled(values: np.ndarray, scored: np.ndarray) -> float:
    return float(values[scored].mean()) if scored.any() else math.nan


def forecast_metrics(truth: np.ndarray, point: np.ndarray, quantiles: np.ndarray | None = None,
                     levels: Sequence[float] = (), *, name: str = "forecast") -> dict:
    """Point (and quantile) accuracy per horizon step and over all steps.

    With ``e = y − ŷ`` over the entries whose truth ``y`` is present:

    * ``mae = mean |e|``, ``rmse = sqrt(mean e²)``,
    * ``smape = mean 200·|e| / (|y| + |ŷ|)`` (an entry with ``y = ŷ = 0`` counts 0),
    * ``pinball = mean over levels q and entries of max(q·(y − ŷ_q), (q − 1)·(y − ŷ_q))``,
    * ``coverage`` = share of truths with ``ŷ_lowest ≤ y ≤ ŷ_highest`` (the quantiles
      of the lowest and highest levels).

    Args:
        truth: ``float[O, H]`` (`truth_matrix`), NaN = missing, not scored.
        point: ``float[O, H]``.
        quantiles: ``float[O, H, Q]`` or None.
        levels: the ``Q`` quantile levels in ascending order, e.g. ``(0.1, 0.5, 0.9)``.
        name: the forecaster, named in errors.

    Returns:
        A JSON-ready dict: ``"mae"``, ``"rmse"``, ``"smape"`` (lists of ``H`` floats,
        per step; NaN for a step with nothing scored), ``"mean_mae"``, ``"mean_rmse"``,
        ``"mean_smape"`` (over all scored entries pooled), ``"count"`` (list of ``H``
        ints: scored entries per step); with quantiles also ``"pinball"``,
        ``"coverage"`` (floats) and ``"interval"`` (``[lowest, highest]`` level).

    Raises:
        ValueError: on mismatched shapes, unsorted levels, or a NaN forecast where the
            truth is present.

    Example:
        >>> truth = np.array([[1.0, np.nan], [3.0, 4.0]])
        >>> metrics = forecast_metrics(truth, np.array([[2.0, 0.0], [3.0, 2.0]]))
        >>> metrics["mae"], metrics["mean_mae"], metrics["count"]
        ([0.5, 2.0], 1.0, [2, 1])
    """
    truth = np.asarray(truth, dtype=np.float64)
    point = np.asarray(point, dtype=np.float64)
    if truth.ndim != 2:
        raise ValueError(f"truth must be float[O, H], received shape {truth.shape}")
    if point.shape != truth.shape:
        raise ValueError(f"{name}: point forecast shape {point.shape} differs from the truth's {truth.shape}")
    scored = ~np.isnan(truth)
    _check_forecast(point, scored, "the point forecast", name)
    count = scored.sum(axis=0)
    error = np.where(scored, truth - point, 0.0)
    absolute = np.abs(error)
    squared = error**2
    denominator = np.abs(np.where(scored, truth, 0.0)) + np.abs(np.where(scored, point, 0.0))
    smape = np.divide(200.0 * absolute, denominator, out=np.zeros_like(absolute), where=denominator > 0)
    metrics = {
        "mae": _per_step(absolute, scored, count).tolist(),
        "rmse": np.sqrt(_per_step(squared, scored, count)).tolist(),
        "smape": _per_step(smape, scored, count).tolist(),
        "mean_mae": _pooled(absolute, scored),
        "mean_rmse": math.sqrt(_pooled(squared, scored)),
        "mean_smape": _pooled(smape, scored),
        "count": [int(c) for c in count],
    }
    if quantiles is None:
        return metrics

    quantiles = np.asarray(quantiles, dtype=np.float64)
    levels = np.asarray(levels, dtype=np.float64).reshape(-1)
    if quantiles.shape != (*truth.shape, levels.size):
        raise ValueError(f"{name}: quantiles must be float[O, H, Q] = {(*truth.shape, levels.size)} for "
                         f"{levels.size} levels, received shape {quantiles.shape}")
    if levels.size == 0 or np.any(np.diff(levels) <= 0) or levels[0] <= 0 or levels[-1] >= 1:
        raise ValueError(f"levels must be strictly ascending in (0, 1), received {levels.tolist()}")
    _check_forecast(quantiles, scored, "a quantile forecast", name)
    difference = truth[..., None] - quantiles
    loss = np.maximum(levels * difference, (levels - 1.0) * difference)
    inside = (quantiles[..., 0] <= truth) & (truth <= quantiles[..., -1])
    metrics["pinball"] = float(loss[scored].mean()) if scored.any() else math.nan
    metrics["coverage"] = float(inside[scored].mean()) if scored.any() else math.nan
    metrics["interval"] = [float(levels[0]), float(levels[-1])]
    return metrics


# ----------------------------------------------------------------------------- tables


def best_baseline(results: Mapping[str, dict], baselines: Sequence[str] = BASELINES) -> str:
    """The baseline in `results` with the lowest ``mean_mae`` (ties: the first in `baselines`).

    Raises:
        ValueError: when `results` scores none of `baselines`.
    """
    scored = [(results[name]["mean_mae"], position, name) for position, name in enumerate(baselines)
              if name in results and not math.isnan(results[name]["mean_mae"])]
    if not scored:
        raise ValueError(f"results hold no scored baseline among {tuple(baselines)}, received {list(results)}")
    return min(scored)[2]


def compare(results: Mapping[str, dict], reference: str = "persistence") -> str:
    """Plain-text comparison of `forecast_metrics` results scored on the same origins.

    The first table has one row per forecaster — the non-baseline ones (the model,
    peers) in the order given, then the baselines — and the columns mean MAE, RMSE,
    sMAPE, ``MAE/best`` (mean MAE over the best baseline's, `best_baseline`),
    ``MAE/<reference>`` (over the reference's, when it is in `results`), and
    coverage / pinball when any forecaster has them. The second table gives the MAE
    per horizon step: one row per step, one column per forecaster.

    Example:
        >>> results = {"model": {"mean_mae": 1.0, "mean_rmse": 2.0, "mean_smape": 3.0, "mae": [1.0]},
        ...            "persistence": {"mean_mae": 2.0, "mean_rmse": 3.0, "mean_smape": 4.0, "mae": [2.0]}}
        >>> print(compare(results))
        forecaster     MAE   RMSE  sMAPE  MAE/best  MAE/persistence
        -----------  -----  -----  -----  --------  ---------------
        model        1.000  2.000  3.000     0.500            0.500
        persistence  2.000  3.000  4.000     1.000            1.000
        best baseline: persistence
        <BLANKLINE>
        MAE per horizon step
        step  model  persistence
        ----  -----  -----------
        1     1.000        2.000
    """
    names = [name for name in results if name not in BASELINES] + [name for name in results if name in BASELINES]
    if not names:
        raise ValueError("results is empty: nothing to compare")
    best = best_baseline(results) if any(name in results for name in BASELINES) else None
    ratios = []
    if best is not None:
        ratios.append(("MAE/best", results[best]["mean_mae"]))
    if reference in results:
        ratios.append((f"MAE/{reference}", results[reference]["mean_mae"]))
    quantile = any("coverage" in results[name] for name in names)

    header = ["forecaster", "MAE", "RMSE", "sMAPE", *(label for label, _ in ratios)]
    if quantile:
        header += ["coverage", "interval", "pinball"]
    rows = []
    for name in names:
        result = results[name]
        row = [name, number(result["mean_mae"]), number(result["mean_rmse"]), number(result["mean_smape"])]
        row += [number(result["mean_mae"] / denominator if denominator else math.nan) for _, denominator in ratios]
        if quantile:
            interval = result.get("interval")
            row += [number(result.get("coverage")),
                    f"{interval[0]:g}–{interval[1]:g}" if interval else "-", number(result.get("pinball"))]
        rows.append(row)
    text = text_table(header, rows)
    if best is not None:
        text += f"\nbest baseline: {best}"

    horizon = max(len(results[name].get("mae", ())) for name in names)
    if horizon:
        steps = []
        for step in range(horizon):
            per_step = [results[name].get("mae", ()) for name in names]
            steps.append([str(step + 1), *(number(mae[step] if step < len(mae) else None) for mae in per_step)])
        text += "\n\nMAE per horizon step\n" + text_table(["step", *names], steps)
    return text


# ----------------------------------------------------------------------------- plots


def _figure(rows: int, width: float, height: float):
    """A matplotlib Figure drawn by the Agg canvas; pyplot and its global backend are untouched."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height))
    FigureCanvasAgg(figure)
    return figure, figure.subplots(rows, 1, squeeze=False)[:, 0]


def _save(figure, path) -> pathlib.Path:
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.tight_layout()
    figure.savefig(path, format="png", dpi=100)
    return path


def plot_forecasts(path, target: np.ndarray, origins, horizon: int, point: np.ndarray,
                   quantiles: np.ndarray | None = None, levels: Sequence[float] = (), count: int = 3,
                   history: int = 48, title: str = "") -> pathlib.Path:
    """PNG of forecast against truth at `count` evenly spaced origins, one panel each.

    Each panel shows the last `history` target rows before the origin, the truth over
    the horizon, the point forecast and, with quantiles, the band between the lowest
    and highest level shaded.

    Args:
        path: the PNG to write (parent folders are created).
        target: ``float[N]``.
        origins: ``int[O]``; `point` row ``i`` is the forecast at ``origins[i]``.
        horizon: ``H``.
        point: ``float[O, H]``.
        quantiles: ``float[O, H, Q]`` or None; `levels` their ``Q`` ascending levels.

    Returns:
        `path`.
    """
    target = np.asarray(target, dtype=np.float64).reshape(-1)
    origins = _origins(origins, horizon)
    point = np.asarray(point, dtype=np.float64)
    if origins.size == 0:
        raise ValueError("origins is empty: nothing to plot")
    if point.shape != (origins.size, horizon):
        raise ValueError(f"point must be float[O, H] = {(origins.size, horizon)}, received {point.shape}")
    chosen = np.unique(np.linspace(0, origins.size - 1, max(1, min(count, origins.size))).round().astype(int))
    figure, axes = _figure(chosen.size, 9, 2.6 * chosen.size + 0.4)
    for axis, i in zip(axes, chosen):
        origin = int(origins[i])
        past = np.arange(max(0, origin - history), origin)
        future = np.arange(origin, min(origin + horizon, target.size))
        axis.plot(past, target[past], color="0.4", lw=1, label="history")
        axis.plot(future, target[future], color="black", lw=1.5, label="truth")
        steps = origin + np.arange(horizon)
        axis.plot(steps, point[i], color="tab:blue", lw=1.5, label="forecast")
        if quantiles is not None and len(levels):
            band = np.asarray(quantiles, dtype=np.float64)[i]
            axis.fill_between(steps, band[:, 0], band[:, -1], color="tab:blue", alpha=0.2,
                              label=f"{levels[0]:g}–{levels[-1]:g} quantiles")
        axis.axvline(origin - 0.5, color="0.7", ls="--", lw=0.8)
        axis.set_title(f"origin {origin}", fontsize=9)
        axis.grid(alpha=0.3)
    axes[0].legend(fontsize=7, loc="upper left")
    axes[-1].set_xlabel("row")
    if title:
        figure.suptitle(title)
    return _save(figure, path)


def plot_error_by_horizon(path, results: Mapping[str, dict], metric: str = "mae", title: str = "") -> pathlib.Path:
    """PNG of a per-step metric (``"mae"``, ``"rmse"`` or ``"smape"``) against the step, one line per forecaster.

    Returns:
        `path`.
    """
    figure, (axis,) = _figure(1, 7, 4.5)
    for name, result in results.items():
        if metric not in result:
            raise ValueError(f"{name}: results hold no per-step {metric!r}; keys are {sorted(result)}")
        values = np.asarray(result[metric], dtype=np.float64)
        axis.plot(np.arange(1, values.size + 1), values, marker="o", ms=3, label=name,
                  lw=2 if name not in BASELINES else 1)
    axis.set_xlabel("horizon step")
    axis.set_ylabel(metric)
    axis.set_title(title)
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    return _save(figure, path)
