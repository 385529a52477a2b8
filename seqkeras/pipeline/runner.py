"""The generic flow: ingest → (tune) → train → evaluate → export, for any application.

Every artefact of a pipeline lives under ``<work_dir>/<spec.name>/`` (`RunPaths`):

    backup/            keras.callbacks.BackupAndRestore (deleted when training completes)
    checkpoints/       weights after every epoch (epoch_NNN.weights.h5)
    logs/              TensorBoard
    history.csv        one row per epoch (CSVLogger, appended across resumes)
    learning_curve.png
    final.weights.h5   the trained model (evaluate / export / generate load it)
    vocabulary.txt     the tokenizer's vocabulary (applications with text input)
    tuner/             keras-tuner project (resumable, overwrite=False)
    tuning_summary.md, tuning_trials.png, best_hyperparameters.json
    report.json        metrics, wall times, export path

An interrupted ``seqkeras run`` / ``train`` started again with the same spec resumes
from the last finished epoch (BackupAndRestore); tuning resumes its trials.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
import shutil
import time
from typing import Any

import keras

from seqkeras.pipeline import registry
from seqkeras.pipeline.spec import to_dict, with_overrides
from seqkeras.pipeline.training import (EpochTimer, LearningRateLogger, plot_learning_curve, read_history,
                                        schedule_callbacks)


@dataclasses.dataclass
class RunPaths:
    """The files of one pipeline under ``<work_dir>/<name>/``."""

    root: pathlib.Path

    @classmethod
    def for_spec(cls, spec, work_dir: str | pathlib.Path = "runs") -> "RunPaths":
        return cls(pathlib.Path(work_dir) / spec.name)

    backup = property(lambda self: self.root / "backup")
    checkpoints = property(lambda self: self.root / "checkpoints")
    logs = property(lambda self: self.root / "logs")
    history = property(lambda self: self.root / "history.csv")
    learning_curve = property(lambda self: self.root / "learning_curve.png")
    weights = property(lambda self: self.root / "final.weights.h5")
    vocabulary = property(lambda self: self.root / "vocabulary.txt")
    tuner = property(lambda self: self.root / "tuner")
    best_hyperparameters = property(lambda self: self.root / "best_hyperparameters.json")
    report = property(lambda self: self.root / "report.json")


def application(spec):
    """The registered application module of `spec`."""
    return registry.get(spec.application)


def build_data(spec, data_dir=None, paths: RunPaths | None = None):
    """Ingest: the application's `build_data`, keeping its vocabulary in the run directory."""
    app = application(spec)
    kwargs = {}
    if paths is not None and _accepts(app.build_data, "vocabulary_path"):
        paths.root.mkdir(parents=True, exist_ok=True)
        kwargs["vocabulary_path"] = paths.vocabulary
    return app.build_data(spec, data_dir, **kwargs)


def _accepts(fn, name: str) -> bool:
    import inspect
    return name in inspect.signature(fn).parameters


def app_callbacks(spec, data) -> list[keras.callbacks.Callback]:
    app = application(spec)
    return list(app.callbacks(spec, data)) if hasattr(app, "callbacks") else []


def _steps(value: int):
    return value or None


def tensorboard_callbacks(log_dir) -> list[keras.callbacks.Callback]:
    """A TensorBoard callback, or none (with a note) when tensorboard is not installed."""
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        print("note: tensorboard is not installed; no TensorBoard logs (pip install tensorboard)")
        return []
    # Batch-level loss every 100 steps as well: an epoch's running mean can hide a
    # collapse late in the epoch; the batch curve shows when it happened.
    return [keras.callbacks.TensorBoard(str(log_dir), write_graph=False, profile_batch=0,
                                        update_freq=TENSORBOARD_BATCH_INTERVAL)]


TENSORBOARD_BATCH_INTERVAL = 100


def train(spec, data, paths: RunPaths, epochs: int | None = None, verbose: int | str = "auto",
          extra_callbacks=(), resume: bool = True) -> tuple[keras.Model, dict]:
    """Train the application's model for `spec`, resuming an interrupted run.

    Callbacks: the application's own (e.g. state resets, metrics), the schedule,
    BackupAndRestore (``paths.backup``; resumes at the last finished epoch),
    ModelCheckpoint every epoch, CSVLogger, TensorBoard.

    Returns:
        (model, history) — history read back from ``history.csv`` (all epochs, across resumes).
    """
    app = application(spec)
    keras.utils.set_random_seed(spec.training.seed)
    paths.root.mkdir(parents=True, exist_ok=True)
    epochs = epochs or spec.training.epochs
    fresh = not (resume and paths.backup.exists())
    if fresh:
        for stale in (paths.history, paths.backup):
            if stale.is_dir():
                shutil.rmtree(stale)
            elif stale.exists():
                stale.unlink()
    model = app.build_model(spec, data)
    base_lr = float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))
    spent = 0.0 if fresh else sum(read_history(paths.history).get("epoch_seconds", []))
    paths.checkpoints.mkdir(parents=True, exist_ok=True)
    callbacks = [
        *app_callbacks(spec, data),
        *schedule_callbacks(spec.training, base_lr, spent_seconds=spent),
        LearningRateLogger(),
        EpochTimer(),
        keras.callbacks.BackupAndRestore(str(paths.backup)),
        keras.callbacks.ModelCheckpoint(str(paths.checkpoints / "epoch_{epoch:03d}.weights.h5"),
                                        save_weights_only=True),
        keras.callbacks.CSVLogger(str(paths.history), append=True),
        *tensorboard_callbacks(paths.logs),
        *extra_callbacks,
    ]
    model.fit(data.train, validation_data=data.validation, epochs=epochs,
              steps_per_epoch=_steps(spec.training.steps_per_epoch),
              validation_steps=_steps(spec.training.validation_steps),
              callbacks=callbacks, verbose=verbose)
    model.save_weights(str(paths.weights))
    history = read_history(paths.history)
    plot_learning_curve(history, paths.learning_curve, title=spec.name)
    return model, history


def load_trained(spec, data, paths: RunPaths) -> keras.Model:
    """Rebuild the spec's model and load ``final.weights.h5`` (or the last epoch checkpoint)."""
    app = application(spec)
    spec = apply_best_hyperparameters(spec, paths)
    model = app.build_model(spec, data)
    weights = paths.weights
    if not weights.is_file():
        checkpoints = sorted(paths.checkpoints.glob("epoch_*.weights.h5"))
        if not checkpoints:
            raise FileNotFoundError(f"no trained weights for {spec.name!r} in {paths.root}: "
                                    f"run `seqkeras train` first")
        weights = checkpoints[-1]
    model.load_weights(str(weights))
    return model


def apply_best_hyperparameters(spec, paths: RunPaths):
    """The spec with the tuner's best values (``best_hyperparameters.json``) if tuned."""
    if paths.best_hyperparameters.is_file():
        overrides = json.loads(paths.best_hyperparameters.read_text())
        return with_overrides(spec, overrides)
    return spec


def evaluate(spec, model, data) -> dict[str, float]:
    return application(spec).evaluate(model, spec, data)


def version_argument(spec):
    """The export version from ``[export]``: "auto", a fixed int, or a timestamp."""
    policy = spec.export.version_policy
    if policy == "fixed":
        return spec.export.version
    if policy == "timestamp":
        return int(time.time())
    return "auto"


def export(spec, model, data, output: str | pathlib.Path = "saved_models") -> pathlib.Path | None:
    return application(spec).export(model, spec, data, output)


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
    from seqkeras.pipeline import tuning

    app = application(spec)
    paths = RunPaths.for_spec(spec, work_dir)
    report: dict[str, Any] = {"spec": to_dict(spec), "source": spec.source}
    start = time.perf_counter()
    data = build_data(spec, data_dir, paths)
    report["ingest_seconds"] = round(time.perf_counter() - start, 2)
    report["data"] = {k: v for k, v in data.info.items() if isinstance(v, (int, float, str))}
    tune = spec.tuning.enabled if tune is None else tune
    if tune:
        t0 = time.perf_counter()
        best = tuning.tune(spec, data, paths, verbose=verbose)
        report["tuning"] = {"best_hyperparameters": best, "seconds": round(time.perf_counter() - t0, 2)}
    spec = apply_best_hyperparameters(spec, paths) if tune else spec
    t0 = time.perf_counter()
    model, history = train(spec, data, paths, epochs=epochs, verbose=verbose)
    report["train_seconds"] = round(time.perf_counter() - t0, 2)
    report["epochs"] = len(history.get("loss", []))
    t0 = time.perf_counter()
    report["validation"] = evaluate(spec, model, data)
    report["evaluate_seconds"] = round(time.perf_counter() - t0, 2)
    report["learning_curve"] = str(paths.learning_curve)
    export_model = spec.export.enabled if export_model is None else export_model
    if export_model:
        t0 = time.perf_counter()
        try:
            path = export(spec, model, data, output)
            report["export"] = str(path) if path else None
        except NotImplementedError as error:
            report["export"] = None
            report["export_skipped"] = str(error)
            print(f"export skipped: {error}")
        report["export_seconds"] = round(time.perf_counter() - t0, 2)
    if hasattr(app, "after_run"):
        app.after_run(model, spec, data, report)
    report["total_seconds"] = round(time.perf_counter() - start, 2)
    paths.report.write_text(json.dumps(report, indent=2, default=str))
    return report
