"""keras-tuner glue: a HyperModel over any spec, the tuner the spec names, a summary.

The search space is written in the spec (``[tuning.space]``) as dotted spec keys →
ranges (see `seqkeras.pipeline.spec.TuningSpec`). `SpecHyperModel.build(hp)` copies the
spec with the trial's values and calls the application's `make_model`, so every
application gets tuning for free; an application may return its own HyperModel from
`Application.hypermodel`.

The tuner directory is ``<run>/tuner/`` with ``overwrite=False``: a search started
again resumes (finished trials are kept, the interrupted one is rerun). A distributed
search (`seqkeras.pipeline.distributed`) runs the same code in every process: keras-tuner
makes the chief serve the oracle and the workers run trials; the chief writes the summary.
"""

from __future__ import annotations

import dataclasses
import json
import math
import pathlib
import time

import keras
import keras_tuner

from seqkeras.pipeline import distributed
from seqkeras.pipeline.distributed import CHIEF
from seqkeras.pipeline.resume import atomic_write_text
from seqkeras.pipeline.spec import get_key, with_overrides
from seqkeras.pipeline.training import schedule_callbacks


# Tuned keys that change the batches rather than the model.
DATA_KEY_PREFIXES = ("data.", "training.batch_size")


class SpecHyperModel(keras_tuner.HyperModel):
    """A keras-tuner HyperModel whose hyperparameters are dotted keys of a spec.

    Args:
        application: the `Application` (its `make_model` builds each trial's model).
        spec: the base spec; ``spec.tuning.space`` is the search space.
        data: the `Data` the models are trained on.
        rebuild: ``(trial spec, data) → Data`` for trials that tune keys changing the
            batches (``data.*``, ``training.batch_size``): the trial's model is built for,
            trained and validated on its own batches (cached per distinct value). None:
            the data stays fixed across trials, and tuning such a key is a `ValueError`.
    """

    def __init__(self, application, spec, data, name=None, tunable=True, rebuild=None):
        super().__init__(name=name, tunable=tunable)
        self.application = application
        self.spec = spec
        self.data = data
        self.rebuild = rebuild
        self._batches = {}
        fixed = [key for key in spec.tuning.space if key.startswith(DATA_KEY_PREFIXES)]
        if fixed and rebuild is None:
            raise ValueError(f"tuning.space.{fixed[0]}: the {spec.application!r} application trains every "
                             f"trial on the same batches, so it cannot tune {fixed}; remove them")

    def values(self, hp: keras_tuner.HyperParameters) -> dict:
        """Declare the space on `hp` and return this trial's ``{dotted key: value}``."""
        values = {}
        for key, space in self.spec.tuning.space.items():
            if isinstance(space, list):
                values[key] = spec_value(space, hp.Choice(key, space))
                continue
            low, high = space["min"], space["max"]
            sampling = space.get("sampling", "linear")
            default = get_key(self.spec, key)
            if isinstance(low, int) and isinstance(high, int) and not isinstance(default, float):
                values[key] = hp.Int(key, low, high, step=space.get("step", 1), sampling=sampling)
            else:
                values[key] = hp.Float(key, float(low), float(high), step=space.get("step"), sampling=sampling)
        return values

    def trial(self, hp):
        """``(trial spec, its Data)``."""
        values = self.values(hp)
        spec = with_overrides(self.spec, values)
        changed = tuple(sorted((k, repr(v)) for k, v in values.items()
                               if k.startswith(DATA_KEY_PREFIXES) and v != get_key(self.spec, k)))
        if not changed or self.rebuild is None:
            return spec, self.data
        if changed not in self._batches:
            self._batches[changed] = self.rebuild(spec, self.data)
        return spec, self._batches[changed]

    def build(self, hp):
        return self.application.make_model(*self.trial(hp))

    def fit(self, hp, model, *args, **kwargs):
        """Train one trial on its batches with the trial spec's learning-rate schedule,
        spanning the trial's epochs (the time budget and early stopping belong to the
        final training)."""
        spec, data = self.trial(hp)
        if data is not self.data:
            kwargs["x"] = data.train.repeat() if kwargs.get("steps_per_epoch") else data.train
            kwargs["validation_data"] = data.validation
        trial = dataclasses.replace(spec.training, epochs=self.spec.tuning.epochs, max_minutes=0.0,
                                    early_stopping=0)
        base_rate = float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))
        kwargs["callbacks"] = [*kwargs.get("callbacks", []), *schedule_callbacks(trial, base_rate)]
        return model.fit(*args, **kwargs)


class DistinctBayesianOracle(keras_tuner.oracles.BayesianOptimizationOracle):
    """keras-tuner's Bayesian oracle, never proposing a point already tried or running.

    Its Gaussian process is fitted to the completed trials only and its optimum is not
    checked against the points recorded so far: with parallel workers, two trials asked
    for before either ends get the same point, and the optimum can be a point already
    tried. Such a proposal is replaced by an untried random point.
    """

    def populate_space(self, trial_id):
        response = super().populate_space(trial_id)
        values = response.get("values")
        if values is not None and self._compute_values_hash(values) in self._tried_so_far:
            return self._random_populate_space()
        return response


def drop_ended_from_ongoing(project_dir) -> list[str]:
    """Remove from ``oracle.json``'s ongoing trials those whose ``trial.json`` has ended.

    keras-tuner's `Oracle.end_trial` saves ``oracle.json`` before it removes the ended
    trial from ``ongoing_trials``, and a chief serving workers does not save again until
    the next trial starts: a search killed in between reloads the trial as ongoing, and
    the tuner with its ID runs the completed trial again. Call it before the tuner is
    built, in the process that owns the oracle (single process or chief). Returns the
    trial ids removed.
    """
    project_dir = pathlib.Path(project_dir)
    state_file = project_dir / "oracle.json"
    if not state_file.is_file():
        return []
    state = json.loads(state_file.read_text(encoding="utf-8"))
    ended = []
    for tuner_id, trial_id in list(state.get("ongoing_trials", {}).items()):
        trial_file = project_dir / f"trial_{trial_id}" / "trial.json"
        if trial_file.is_file() and json.loads(trial_file.read_text(encoding="utf-8"))["status"] != "RUNNING":
            del state["ongoing_trials"][tuner_id]
            ended.append(trial_id)
    if ended:
        atomic_write_text(state_file, json.dumps(state))
    return ended


def make_tuner(spec, hypermodel, directory, project_name: str = "search"):
    """The keras-tuner tuner named by ``spec.tuning.tuner`` (resumable: overwrite=False)."""
    t = spec.tuning
    if distributed.role() != "worker":    # workers ask the chief's oracle, never read its file
        drop_ended_from_ongoing(pathlib.Path(directory) / project_name)
    objective = keras_tuner.Objective(t.objective, direction=t.direction)
    common = dict(directory=str(directory), project_name=project_name, overwrite=False,
                  executions_per_trial=t.executions_per_trial)
    if t.tuner == "random":
        return keras_tuner.RandomSearch(hypermodel, objective=objective, max_trials=t.max_trials, seed=t.seed,
                                        **common)
    if t.tuner == "bayesian":
        oracle = DistinctBayesianOracle(objective=objective, max_trials=t.max_trials, seed=t.seed)
        return keras_tuner.Tuner(oracle=oracle, hypermodel=hypermodel, **common)
    return keras_tuner.Hyperband(hypermodel, objective=objective, max_epochs=t.epochs, factor=t.hyperband_factor,
                                 seed=t.seed, **common)


def tune(application, spec, data, paths, callbacks=(), verbose="auto") -> dict:
    """Search, write the summary (markdown table + PNG) and the best values; return them.

    Args:
        application: the spec's `Application` (its `hypermodel`).
        spec, data: the pipeline spec and its `Data`.
        paths: the run's `RunPaths` (tuner project, summary, best values).
        callbacks: callbacks for every trial (the runner's shared ones).

    The best trial's values are saved to ``best_hyperparameters.json``; `train`,
    `evaluate` and `export` then use the spec with them applied.
    """
    tuner = make_tuner(spec, application.hypermodel(spec, data), paths.tuner)
    t = spec.tuning
    steps = t.steps_per_epoch or spec.training.steps_per_epoch or None
    fit_kwargs = dict(
        # Trials of a fixed number of steps draw them from an endless stream, so a
        # trial's epochs are as long as asked even where one pass is shorter.
        x=data.train.repeat() if steps else data.train, validation_data=data.validation, epochs=t.epochs,
        steps_per_epoch=steps,
        validation_steps=(t.validation_steps or spec.training.validation_steps or None),
        callbacks=list(callbacks), verbose=verbose)
    role = distributed.role()
    if t.max_minutes > 0 and t.tuner != "hyperband" and role is None:
        # Grow the trial budget one at a time until the time budget is spent.
        deadline = time.monotonic() + 60 * t.max_minutes
        oracle = tuner.oracle
        while time.monotonic() < deadline:
            done = len([tr for tr in oracle.trials.values() if tr.status in ("COMPLETED", "INVALID", "FAILED")])
            if done >= t.max_trials:
                break
            oracle.max_trials = done + 1
            tuner.search(**fit_kwargs)
        oracle.max_trials = t.max_trials
    else:
        if t.max_minutes > 0 and role == CHIEF:
            print(f"tuning.max_minutes = {t.max_minutes} is not applied to a distributed search: "
                  f"it runs tuning.max_trials = {t.max_trials} trials")
        # The chief serves the oracle here until every trial is done; a worker runs trials.
        tuner.search(**fit_kwargs)
    if role == "worker":
        return {}  # the chief writes the summary and the best values
    best = tuner.get_best_hyperparameters(1)
    space = spec.tuning.space
    values = {k: spec_value(space[k], v) for k, v in best[0].values.items() if k in space} if best else {}
    paths.root.mkdir(parents=True, exist_ok=True)
    paths.best_hyperparameters.write_text(json.dumps(values, indent=2))
    write_summary(tuner, spec, paths)
    return values


def spec_value(space, value):
    """A value keras-tuner returns, as the spec wrote it.

    keras-tuner stores a ``Choice`` among booleans as 1/0 (and may hand back NumPy
    scalars); the spec's typed fields want the listed value itself (``true``).
    """
    value = value.item() if hasattr(value, "item") else value
    if isinstance(space, list):
        return next((option for option in space if option == value), value)
    return value


def trial_rows(tuner, spec) -> list[dict]:
    """One row per trial: id, status, score, and its hyperparameter values (best first)."""
    rows = []
    for trial in tuner.oracle.trials.values():
        score = trial.score
        row = {"trial": trial.trial_id, "status": trial.status,
               "score": None if score is None or (isinstance(score, float) and math.isnan(score)) else float(score)}
        row.update({k: spec_value(space, trial.hyperparameters.values.get(k)) for k, space in spec.tuning.space.items()})
        rows.append(row)
    sign = 1 if spec.tuning.direction == "min" else -1
    rows.sort(key=lambda r: (r["score"] is None, sign * (r["score"] or 0.0)))
    return rows


def write_summary(tuner, spec, paths):
    """``tuning_summary.md`` (a table of trials, best first) and ``tuning_trials.png``."""
    rows = trial_rows(tuner, spec)
    keys = ["trial", "status", "score", *spec.tuning.space]
    lines = [f"# Tuning {spec.name}: {spec.tuning.tuner}, objective {spec.tuning.objective} "
             f"({spec.tuning.direction})", "",
             "| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    for row in rows:
        cells = [(f"{row[k]:.4g}" if isinstance(row[k], float) else str(row[k])) for k in keys]
        lines.append("| " + " | ".join(cells) + " |")
    text = "\n".join(lines) + "\n"
    paths.tuning_summary.write_text(text)
    print(text)
    scored = [r for r in rows if r["score"] is not None]
    if scored:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        labels = [", ".join(f"{k.split('.')[-1]}={_short(r[k])}" for k in spec.tuning.space) for r in scored]
        fig, ax = plt.subplots(figsize=(8, 0.5 * len(scored) + 1.5))
        ax.barh(range(len(scored)), [r["score"] for r in scored], color="tab:blue")
        ax.set_yticks(range(len(scored)), labels, fontsize=8)
        ax.invert_yaxis()
        ax.set_xlabel(spec.tuning.objective)
        ax.set_title(f"{spec.name}: trials (best first)")
        fig.tight_layout()
        fig.savefig(paths.tuning_plot, dpi=100)
        plt.close(fig)
    return rows


def _short(value):
    return f"{value:.3g}" if isinstance(value, float) else value
