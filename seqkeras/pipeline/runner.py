"""The generic flow: ingest → (tune) → train → evaluate → export, for any application.

Every artefact of a pipeline lives under ``<work_dir>/<spec.name>/`` (`RunPaths`). An
interrupted ``seqkeras run`` / ``train`` started again with the same spec resumes from
the last finished epoch (BackupAndRestore); tuning resumes its trials.

The runner applies the shared spec keys for every application: the seed, the
precision policy (`Application.make_model`), the learning-rate schedule, the time
budget and early stopping (`schedule_callbacks`), and the export version policy.
"""

from __future__ import annotations

import json
import pathlib
import shutil
import time
from typing import Any

import keras

from seqkeras.pipeline import registry, tuning
from seqkeras.pipeline.resume import (EpochCheckpoint, ResumableBackup, remove_temporaries, resumed_epoch,
                                      save_weights_atomically, trim_history)
from seqkeras.pipeline.run_paths import RunPaths
from seqkeras.pipeline.spec import to_dict, with_overrides
from seqkeras.pipeline.training import (EpochTimer, LearningRateLogger, plot_learning_curve, read_history,
                                        schedule_callbacks)

# Batch-level loss every 100 steps as well: an epoch's running mean can hide a collapse
# late in the epoch; the batch curve shows when it happened.
TENSORBOARD_BATCH_INTERVAL = 100


def application(spec):
    """The registered `Application` of `spec`."""
    return registry.get(spec.application)


def build_data(spec, data_dir=None, paths: RunPaths | None = None):
    """Ingest: the application's `build_data`, keeping fitted state in the run directory."""
    run_dir = None
    if paths is not None:
        paths.root.mkdir(parents=True, exist_ok=True)
        run_dir = paths.root
    return application(spec).build_data(spec, data_dir, run_dir)


def tensorboard_callbacks(log_dir) -> list[keras.callbacks.Callback]:
    """A TensorBoard callback writing epoch and batch-level logs to `log_dir`."""
    return [keras.callbacks.TensorBoard(str(log_dir), write_graph=False, profile_batch=0,
                                        update_freq=TENSORBOARD_BATCH_INTERVAL)]


def train(spec, data, paths: RunPaths, epochs: int | None = None, verbose: int | str = "auto",
          extra_callbacks=(), resume: bool = True, keep_backup: bool = False) -> tuple[keras.Model, dict]:
    """Train the application's model for `spec`, resuming an interrupted run.

    Callbacks: the application's own (e.g. state resets, metrics), the schedule,
    CSVLogger, a checkpoint every epoch, `ResumableBackup` (``paths.backup``; resumes at
    the last finished epoch; every write atomic), TensorBoard.

    The backup is deleted once ``final.weights.h5`` is written (a finished run trained
    again starts afresh), or kept with `keep_backup` until the caller's later steps
    (evaluation, export) are done and it calls `discard_backup`: a command killed in
    those steps then resumes at its last epoch instead of training again from scratch.

    Returns:
        (model, history) — history read back from ``history.csv`` (all epochs, across resumes).
    """
    app = application(spec)
    if epochs:
        # The schedule (cosine) spans the epochs that will run, not the spec's.
        spec = with_overrides(spec, {"training.epochs": epochs})
    keras.utils.set_random_seed(spec.training.seed)
    paths.root.mkdir(parents=True, exist_ok=True)
    # A run killed inside a checkpoint, backup or history write left a temporary there.
    remove_temporaries(paths.root, paths.checkpoints, paths.backup)
    epochs = spec.training.epochs
    finished = resumed_epoch(paths.backup) if resume else 0
    fresh = finished == 0
    if fresh:
        for stale in (paths.history, paths.backup):
            if stale.is_dir():
                shutil.rmtree(stale)
            elif stale.exists():
                stale.unlink()
    else:
        trim_history(paths.history, finished)
    model = app.make_model(spec, data)
    base_lr = float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))
    spent = 0.0 if fresh else sum(read_history(paths.history).get("epoch_seconds", []))
    paths.checkpoints.mkdir(parents=True, exist_ok=True)
    callbacks = [
        *app.callbacks(spec, data),
        *schedule_callbacks(spec.training, base_lr, spent_seconds=spent),
        LearningRateLogger(),
        EpochTimer(),
        # Logged, then checkpointed, then backed up: a kill between any two reruns the
        # epoch, and `trim_history` drops its row.
        keras.callbacks.CSVLogger(str(paths.history), append=True),
        EpochCheckpoint(paths.checkpoints),
        ResumableBackup(paths.backup, delete_on_end=False),
        *tensorboard_callbacks(paths.logs),
        *extra_callbacks,
    ]
    model.fit(data.train, validation_data=data.validation, epochs=epochs,
              steps_per_epoch=spec.training.steps_per_epoch or None,
              validation_steps=spec.training.validation_steps or None,
              callbacks=callbacks, verbose=verbose)
    save_weights_atomically(model, paths.weights)
    if not keep_backup:
        discard_backup(paths)
    history = read_history(paths.history)
    plot_learning_curve(history, paths.learning_curve, title=spec.name)
    return model, history


def discard_backup(paths: RunPaths) -> None:
    """Delete the run's backup: the next `train` of this run starts afresh."""
    shutil.rmtree(paths.backup, ignore_errors=True)


def search(spec, data, paths: RunPaths, verbose: int | str = "auto") -> dict:
    """The keras-tuner search of `spec` (`seqkeras.pipeline.tuning.tune`), with the
    application's callbacks in every trial; returns the best values. Callers check
    ``spec.check_tuning_space()`` first, before they read the corpus (`run`, ``seqkeras tune``)."""
    app = application(spec)
    keras.utils.set_random_seed(spec.training.seed)
    return tuning.tune(app, spec, data, paths, callbacks=app.callbacks(spec, data), verbose=verbose)


def load_trained(spec, data, paths: RunPaths) -> keras.Model:
    """Rebuild the spec's model and load ``final.weights.h5`` (or the last epoch checkpoint).

    `spec` must be the one the weights were trained with (`apply_best_hyperparameters`
    applied when the run was tuned).
    """
    model = application(spec).make_model(spec, data)
    weights = paths.weights
    if not weights.is_file():
        checkpoints = sorted(paths.checkpoints.glob("epoch_*.weights.h5"))
        if not checkpoints:
            raise FileNotFoundError(f"no trained weights for {spec.name!r} in {paths.root}: "
                                    f"run `seqkeras train` first")
        weights = checkpoints[-1]
    if model.optimizer is not None:
        # The weights file holds the optimizer's slots too: create them first, so they load
        # (instead of Keras skipping them with a warning).
        model.optimizer.build(model.trainable_variables)
    model.load_weights(str(weights))
    return model


def apply_best_hyperparameters(spec, paths: RunPaths):
    """The spec with the tuner's best values (``best_hyperparameters.json``) if tuned."""
    if paths.best_hyperparameters.is_file():
        overrides = json.loads(paths.best_hyperparameters.read_text())
        return with_overrides(spec, overrides)
    return spec


def evaluate(spec, model, data) -> dict[str, float]:
    """The application's validation metrics of `model`."""
    return application(spec).evaluate(spec, model, data)


def version_argument(spec):
    """The export version from ``[export]``: "auto", a fixed int, or a timestamp."""
    policy = spec.export.version_policy
    if policy == "fixed":
        return spec.export.version
    if policy == "timestamp":
        return int(time.time())
    return "auto"


def export(spec, model, data, output: str | pathlib.Path = "saved_models") -> pathlib.Path:
    """Write ``<output>/<model name>/<version>/`` from the application's `Exporter`."""
    exporter = application(spec).exporter(spec, model, data)
    return exporter.export(output, spec.model_name, version=version_argument(spec))


def run(spec, data_dir=None, output: str | pathlib.Path = "saved_models", work_dir: str | pathlib.Path = "runs",
        tune: bool | None = None, epochs: int | None = None, export_model: bool | None = None,
        verbose: int | str = "auto") -> dict[str, Any]:
    """ingest → (tune) → train → evaluate → export; returns (and saves) the report.

    Args:
        spec: an application spec (`seqkeras.pipeline.load_spec`).
        data_dir: the data directory (``--data-dir``).
        output: the export root (``saved_models``).
        work_dir: where run directories live (``runs``).
        tune: run the tuner first (default: ``spec.tuning.enabled``).
        epochs: override ``training.epochs``.
        export_model: export at the end (default: ``spec.export.enabled``).
    """
    app = application(spec)
    paths = RunPaths.for_spec(spec, work_dir)
    report: dict[str, Any] = {"spec": to_dict(spec), "source": spec.source}
    tune = spec.tuning.enabled if tune is None else tune
    if tune:
        spec.check_tuning_space()                   # before the corpus is read
    start = time.perf_counter()
    data = build_data(spec, data_dir, paths)
    report["ingest_seconds"] = round(time.perf_counter() - start, 2)
    if tune:
        t0 = time.perf_counter()
        best = search(spec, data, paths, verbose=verbose)
        report["tuning"] = {"best_hyperparameters": best, "seconds": round(time.perf_counter() - t0, 2)}
    # The tuned values (this search's or an earlier one's, as `train` and `export`
    # use them) may change the data too (batch size, word2vec's window): rebuild it.
    tuned = apply_best_hyperparameters(spec, paths)
    if tuned != spec:
        spec, data = tuned, build_data(tuned, data_dir, paths)
    report["data"] = data.summary()
    t0 = time.perf_counter()
    model, history = train(spec, data, paths, epochs=epochs, verbose=verbose, keep_backup=True)
    report["train_seconds"] = round(time.perf_counter() - t0, 2)
    report["epochs"] = len(history.get("loss", []))
    t0 = time.perf_counter()
    report["validation"] = evaluate(spec, model, data)
    report["evaluate_seconds"] = round(time.perf_counter() - t0, 2)
    report["learning_curve"] = str(paths.learning_curve)
    if spec.export.enabled if export_model is None else export_model:
        t0 = time.perf_counter()
        report["export"] = str(export(spec, model, data, output))
        report["export_seconds"] = round(time.perf_counter() - t0, 2)
    app.after_run(spec, model, data, report)
    report["total_seconds"] = round(time.perf_counter() - start, 2)
    paths.report.write_text(json.dumps(report, indent=2, default=str))
    discard_backup(paths)
    return report
