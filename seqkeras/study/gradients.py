"""`seqkeras study gradients`: every cell on long-range tasks, gradient flow, which gates matter.

The experiment, a fixed budget per run so that cells are compared fairly:

1. for every cell, keras-tuner `RandomSearch` picks Adam's learning rate on the
   tuning task (a few trials of the same step budget, fixed seeds);
2. every cell is trained with that rate on every task × lag for `steps` steps of
   fresh data (batch 32, `units` hidden units, gradient clipping by global norm)
   and scored on a fixed held-out set;
3. on the gradient-flow task the exact ‖∂L/∂s_{T−d}‖ is measured per cell before
   and after training (`seqkeras.diagnostics.model_gradient_flow`);
4. the LSTM variants are compared with the vanilla LSTM as in Greff et al. (2017).

Models come from `seqkeras.tasks.model.build_network`; cells are labelled
``"lstm-nfg"`` etc. in the results and the report (`registry_name` gives the
`make_cell` spelling ``"lstm:nfg"``). Outputs in `--output`: `results.json`, and
from `seqkeras.study.report` the `README.md` (report with the headline table) and
the PNGs `accuracy_vs_lag.png`, `gradient_flow_init.png`,
`gradient_flow_trained.png`, `step_jacobian_norms.png`, `gates.png`.
"""

import dataclasses
import json
import os
import shutil
import tempfile
import time

import keras
import keras_tuner
import numpy as np

from seqkeras.diagnostics import GradientControl, model_gradient_flow
from seqkeras.study.report import write_report
from seqkeras.tasks import get_task
from seqkeras.study.options import FULL_CELLS, QUICK_CELLS, TASK_NAMES
from seqkeras.tasks.model import build_network, make_cell



@dataclasses.dataclass
class StudyConfig:
    """Budget and design of the study (defaults: the full study, ≈ 30 min on 2 cores)."""

    cells: tuple = FULL_CELLS              # cell labels, see `registry_name`
    tasks: tuple = TASK_NAMES
    lags: tuple = (10, 30)                 # every task at every lag
    units: int = 32                        # hidden units of every cell
    batch_size: int = 32
    steps: int = 120                       # training steps per (cell, task, lag)
    eval_examples: int = 512               # fixed held-out set per (task, lag)
    trials: int = 2                        # keras-tuner trials per cell
    learning_rates: tuple = (3e-3, 1e-2, 3e-2)
    tune_task: str = "adding"
    tune_lag: int = 10
    flow_task: str = "adding"              # where gradient flow is measured
    flow_lag: int = 30
    flow_examples: int = 16
    clip_norm: float = 1.0                 # gradient clipping by global norm
    noise_seeds: int = 1                   # extra seeds of the vanilla LSTM at the middle lag
    seed: int = 0

    @classmethod
    def quick(cls):
        """≤ 3 minutes: 3 cells, short lags, a few dozen steps, one tuner trial."""
        return cls(
            cells=QUICK_CELLS, tasks=("adding", "agreement"), lags=(4, 8), units=16,
            steps=20, eval_examples=128, trials=1, learning_rates=(1e-2,), tune_lag=4,
            flow_lag=8,
            flow_examples=8, noise_seeds=0,
        )


# -- models -------------------------------------------------------------------------
def registry_name(label):
    """The `make_cell` name of a study cell label: ``"lstm-nfg"`` → ``"lstm:nfg"``."""
    return label.replace("-", ":", 1) if label.startswith("lstm-") else label


def build_model(task, cell_name, units, lag, learning_rate, clip_norm, seed):
    """`build_network` wrapped in `GradientControl` (clipping), compiled with Adam.

    Args:
        task: a `seqkeras.tasks.LongRangeTask`.
        cell_name: a study cell label (``"lstm-nfg"``, see `registry_name`).
        units: hidden units of the projection and the cell.
        lag: the task's lag.
        learning_rate: Adam's learning rate.
        clip_norm: gradient clipping by global norm.
        seed: the Keras random seed set before building.
    """
    keras.utils.set_random_seed(seed)
    network, loss = build_network(task, registry_name(cell_name), units, lag)
    model = GradientControl(network, clip_norm=clip_norm)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=loss)
    return model


def train_and_score(config, cell_name, task, lag, learning_rate, seed, evaluation,
                    flow_batch=None):
    """Train one model on the budget and score it on `evaluation`.

    Args:
        config: the `StudyConfig` (units, batch size, steps, clipping).
        cell_name: a study cell label.
        task: a `seqkeras.tasks.LongRangeTask`; lag: its lag.
        learning_rate: Adam's learning rate; seed: model and data seed.
        evaluation: the held-out ``(x, y)`` arrays of `task` at `lag`.
        flow_batch: optional ``(x, y)`` on which the gradient flow of the "recurrent"
            layer is measured before and after training.

    Returns:
        (score, extra dict, {"init"|"trained": `GradientFlow`}, empty without `flow_batch`).
    """
    model = build_model(task, cell_name, config.units, lag, learning_rate, config.clip_norm, seed)
    flows = {}
    if flow_batch is not None:
        flows["init"] = model_gradient_flow(model, *flow_batch, max_examples=None)["recurrent"]
    dataset = task.dataset(lag, batch_size=config.batch_size, seed=seed + 1000)
    start = time.perf_counter()
    history = model.fit(dataset, steps_per_epoch=config.steps, epochs=1, verbose=0).history
    seconds = time.perf_counter() - start
    score, extra = _score_run(model, task, evaluation, history, seconds)
    if flow_batch is not None:
        flows["trained"] = model_gradient_flow(model, *flow_batch, max_examples=None)["recurrent"]
    return score, extra, flows


def tune_learning_rate(config, cell_name, directory, log, evaluation=None):
    """keras-tuner RandomSearch over Adam's learning rate for one cell.

    Args:
        config: the `StudyConfig` (tuning task and lag, trials, candidate rates).
        cell_name: a study cell label (also the tuner's project name).
        directory: the tuner's working directory.
        log: a ``print``-like callable.
        evaluation: optional held-out ``(x, y)`` of the tuning task and lag.

    Returns:
        (best rate, trials, runs): `runs[rate]` is the (score, extra) of the trial on
        `evaluation`, so the study does not retrain the tuning configuration.
    """
    task = get_task(config.tune_task)
    lag = config.tune_lag
    validation = task.arrays(lag, config.eval_examples, seed=config.seed + 7)
    runs = {}

    class LearningRateModel(keras_tuner.HyperModel):
        def build(self, hp):
            rate = hp.Choice("learning_rate", list(config.learning_rates))
            return build_model(task, cell_name, config.units, lag, rate, config.clip_norm, config.seed)

        def fit(self, hp, model, *args, **kwargs):
            kwargs.pop("epochs", None)
            dataset = task.dataset(lag, batch_size=config.batch_size, seed=config.seed + 1000)
            start = time.perf_counter()
            history = model.fit(dataset, steps_per_epoch=config.steps, epochs=1, verbose=0)
            seconds = time.perf_counter() - start
            if evaluation is not None:  # the test-set score, for the table only
                runs[hp.get("learning_rate")] = _score_run(
                    model, task, evaluation, history.history, seconds
                )
            validation_score, _ = _score_run(model, task, validation, history.history, seconds)
            return {"validation_error": 1.0 - validation_score}

    tuner = keras_tuner.RandomSearch(
        LearningRateModel(),
        objective=keras_tuner.Objective("validation_error", direction="min"),
        max_trials=min(config.trials, len(config.learning_rates)),
        seed=config.seed,
        directory=directory,
        project_name=cell_name,
        overwrite=True,
    )
    tuner.search(verbose=0)
    best = tuner.get_best_hyperparameters(1)[0].get("learning_rate")
    trials = [
        {"learning_rate": t.hyperparameters.get("learning_rate"), "validation_error": t.score}
        for t in tuner.oracle.trials.values()
    ]
    log(f"  tuned {cell_name}: lr={best} from {trials}")
    return best, trials, runs


def _score_run(model, task, evaluation, history, seconds):
    x, y = evaluation
    prediction = model.predict(x, batch_size=256, verbose=0)
    extra = {
        "train_seconds": round(seconds, 2),
        "final_loss": float(history["loss"][-1]),
        "grad_norm": float(history["grad_norm"][-1]),
        "clipped": float(history["clipped"][-1]),
    }
    if hasattr(task, "accuracy"):
        extra["accuracy_0.04"] = task.accuracy(y, prediction)
    return task.score(y, prediction), extra


# -- the experiment ------------------------------------------------------------------
def run_study(config, output, log=print):
    """Run the study and write the results and the report into `output`.

    Args:
        config: the `StudyConfig`.
        output: a directory (created) for ``results.json``, ``README.md`` and the PNGs.
        log: a ``print``-like callable for progress lines.

    Returns:
        the results dict, as saved in ``results.json``.
    """
    os.makedirs(output, exist_ok=True)
    started = time.perf_counter()
    tasks = {name: get_task(name) for name in config.tasks}
    evaluations = {
        (name, lag): task.arrays(lag, config.eval_examples, seed=config.seed + 1)
        for name, task in tasks.items()
        for lag in config.lags
    }
    flow_task = get_task(config.flow_task)
    fx, fy = flow_task.arrays(config.flow_lag, config.flow_examples, seed=config.seed + 2)
    results = {"config": dataclasses.asdict(config), "cells": {}}
    tuner_dir = tempfile.mkdtemp(prefix="seqkeras-tuner-")
    try:
        for cell_name in config.cells:
            cell_start = time.perf_counter()
            log(f"[{time.perf_counter() - started:6.0f}s] {cell_name}")
            tune_key = (config.tune_task, config.tune_lag)
            rate, trials, tuned = tune_learning_rate(
                config, cell_name, tuner_dir, log, evaluations.get(tune_key)
            )
            entry = {"learning_rate": rate, "trials": trials, "runs": []}
            flows = None
            for task_name, task in tasks.items():
                for lag in config.lags:
                    keras.backend.clear_session()
                    measure = task_name == config.flow_task and lag == config.flow_lag
                    if (task_name, lag) == tune_key and rate in tuned and not measure:
                        score, extra = tuned[rate]  # the tuner's trial is this very run
                        entry["runs"].append({"task": task_name, "lag": lag, "score": score,
                                              **extra, "from_tuner": True})
                        log(f"    {task_name:12s} lag {lag:3d}: score {score:.3f} (tuner trial)")
                        continue
                    score, extra, run_flows = train_and_score(
                        config, cell_name, task, lag, rate, config.seed,
                        evaluations[(task_name, lag)],
                        flow_batch=(fx, fy) if measure else None,
                    )
                    if measure:
                        flows = run_flows
                    entry["runs"].append({"task": task_name, "lag": lag, "score": score, **extra})
                    log(f"    {task_name:12s} lag {lag:3d}: score {score:.3f}")
            if flows is None:  # flow lag not among the trained lags: measure separately
                _, _, flows = train_and_score(
                    config, cell_name, flow_task, config.flow_lag, rate, config.seed,
                    flow_task.arrays(config.flow_lag, config.eval_examples, seed=config.seed + 1),
                    flow_batch=(fx, fy),
                )
            entry["flow"] = {
                stage: {
                    "decay": _finite_list(flow.distance_curve(normalized=True)[1]),
                    "grad_norm": _finite_list(flow.distance_curve()[1]),
                    "step_jacobian_norm": float(flow.step_jacobian_norms.mean()),
                    "step_jacobian_norms": _finite_list(flow.step_jacobian_norms.mean(axis=0)),
                    "product_norms": _finite_list(flow.product_curve()[1]),
                }
                for stage, flow in flows.items()
            }
            entry["seconds"] = round(time.perf_counter() - cell_start, 1)
            results["cells"][cell_name] = entry
            if cell_name == "lstm" and config.noise_seeds:
                results["lstm_seed_repeats"] = seed_repeats(config, tasks, evaluations, rate, log)
            _save(results, output, started)  # partial results survive an interruption
    finally:
        shutil.rmtree(tuner_dir, ignore_errors=True)
    _save(results, output, started)
    write_report(results, output)
    return results


def merge_results(directories):
    """Combine `results.json` of runs over disjoint cells with the same budget.

    Args:
        directories: result directories, each with a ``results.json``.

    Raises:
        ValueError: two runs with different budgets.
    """
    merged = None
    for directory in directories:
        with open(os.path.join(directory, "results.json")) as handle:
            part = json.load(handle)
        if merged is None:
            merged = {**part, "cells": {}, "parts": []}
        budget = {k: v for k, v in part["config"].items() if k != "cells"}
        if budget != {k: v for k, v in merged["config"].items() if k != "cells"}:
            raise ValueError(f"{directory}: a different study budget, cannot merge")
        for cell, entry in part["cells"].items():
            merged["cells"].setdefault(cell, entry)
        if "lstm_seed_repeats" in part:
            merged["lstm_seed_repeats"] = part["lstm_seed_repeats"]
        merged["parts"].append({"directory": directory, "cells": list(part["cells"]),
                                "wall_seconds": part["wall_seconds"]})
    merged["config"]["cells"] = list(merged["cells"])
    merged["wall_seconds"] = max(p["wall_seconds"] for p in merged["parts"])
    return merged


def _save(results, output, started):
    results["wall_seconds"] = round(time.perf_counter() - started, 1)
    with open(os.path.join(output, "results.json"), "w") as handle:
        json.dump(results, handle, indent=1)


def seed_repeats(config, tasks, evaluations, rate, log):
    """The vanilla LSTM retrained with other seeds at the middle lag: the noise level.

    Args:
        config: the `StudyConfig` (``noise_seeds`` repeats).
        tasks: {task name: task}; evaluations: {(task name, lag): held-out (x, y)}.
        rate: the vanilla LSTM's tuned learning rate.
        log: a ``print``-like callable.

    Returns:
        [{"task", "lag", "seed", "score"}], one per repeat and task.
    """
    lag = config.lags[len(config.lags) // 2]
    noise = []
    for repeat in range(config.noise_seeds):
        for task_name, task in tasks.items():
            keras.backend.clear_session()
            seed = config.seed + 1 + repeat
            score, _, _ = train_and_score(config, "lstm", task, lag, rate, seed,
                                          evaluations[(task_name, lag)])
            noise.append({"task": task_name, "lag": lag, "seed": seed, "score": score})
            log(f"    noise: {task_name:12s} lag {lag:3d} seed {seed}: score {score:.3f}")
    return noise


def _finite_list(values):
    """Floats of `values` as a JSON-ready list, None for NaN and ±inf."""
    return [None if not np.isfinite(v) else float(v) for v in np.asarray(values, dtype=float)]


# -- command line ---------------------------------------------------------------------
def main(args):
    """Run the study, or with ``--report-only`` rewrite the report; returns the exit code."""
    if args.report_only:
        if args.merge:
            results = merge_results([d.strip() for d in args.merge.split(",")])
            os.makedirs(args.output, exist_ok=True)
            with open(os.path.join(args.output, "results.json"), "w") as handle:
                json.dump(results, handle, indent=1)
        else:
            with open(os.path.join(args.output, "results.json")) as handle:
                results = json.load(handle)
        write_report(results, args.output)
        print(f"wrote {os.path.join(args.output, 'README.md')}")
        return 0
    config = StudyConfig.quick() if args.quick else StudyConfig()
    changes = {}
    if args.cells:
        changes["cells"] = tuple(c.strip() for c in args.cells.split(","))
        for cell in changes["cells"]:
            try:
                make_cell(registry_name(cell), 2)
            except ValueError:
                raise ValueError(f"Unknown cell {cell!r}; expected one of {FULL_CELLS}") from None
    if args.steps:
        changes["steps"] = args.steps
    if args.lags:
        changes["lags"] = tuple(int(v) for v in args.lags.split(","))
        changes["tune_lag"] = changes["lags"][len(changes["lags"]) // 2]
        changes["flow_lag"] = changes["lags"][-1]
    config = dataclasses.replace(config, **changes)
    results = run_study(config, args.output, log=lambda m: print(m, flush=True))
    print(f"wrote {os.path.join(args.output, 'README.md')} in {results['wall_seconds']:.0f}s")
    return 0
