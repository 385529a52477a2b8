"""The application contract: what one application supplies to the shared machinery.

An application (language model, classification, tagging, ...) is one subclass of
`Application`, registered under its name in `seqkeras.pipeline.registry`, plus one
TOML spec per corpus in ``pipelines/``. The shared runner, tuner, exporter and CLI call
only the hooks below, always with the arguments in the order ``spec, model, data``:

==========================================  ==========================================
``spec_class``                              the `PipelineSpec` subclass its TOML loads into
``build_data(spec, data_dir, run_dir)``     → `Data` (tf.data batches + fitted state)
``build_model(spec, data)``                 → a compiled `keras.Model`
``hypermodel(spec, data)``                  → a keras-tuner HyperModel (default: every
                                            dotted spec key tunable, `SpecHyperModel`;
                                            pass it ``rebuild`` to tune data keys)
``evaluate(spec, model, data)``             → ``{metric: float}`` on the validation split
``exporter(spec, model, data)``             → its `seqkeras.serving.Exporter` (signatures
                                            and warm-up requests; written by the runner)
``callbacks(spec, data)``                   → extra Keras callbacks (default: none)
``after_run(spec, model, data, report)``    print samples, add to the report (default: the
                                            headline metric)
``starter(data_files)``                     → ``{dotted key: value}`` for ``seqkeras init``
                                            (default: ``{"data.train": data_files[0]}``)
==========================================  ==========================================

The shared keys of every spec (seed, precision, optimizer and clipping, schedule,
time budget, early stopping, export token limit) are applied by shared code: the
runner sets the seed and the precision policy before `build_model` (`make_model`), the
schedule / budget callbacks around `fit`, and `make_optimizer` turns the training
section into the optimizer. A spec lists the shared keys its application cannot honour
in ``unsupported_keys``; setting one is an error at load time.

Registration (`seqkeras.pipeline.registry.get`) checks the contract: a subclass of
`Application`, its ``name`` and spec class agree, every required hook is implemented,
and every hook keeps the base signature.

Adding an application = one module with an `Application` subclass, one line in
``registry.BUILTIN``, one TOML file.
"""

from __future__ import annotations

import abc
import pathlib
from typing import Any, ClassVar

import keras

from seqkeras.pipeline.data import Data
from seqkeras.pipeline.spec import PipelineSpec
from seqkeras.pipeline.training import distribution_strategy, make_optimizer


class Application(abc.ABC):
    """Base class of every application (see the module docstring for the hooks)."""

    name: ClassVar[str] = ""
    spec_class: ClassVar[type[PipelineSpec]] = PipelineSpec
    # The validation metric printed after a run (a key of `evaluate`'s result).
    headline_metric: ClassVar[str] = "loss"

    # -- required hooks ---------------------------------------------------------------
    @abc.abstractmethod
    def build_data(self, spec: PipelineSpec, data_dir: str | pathlib.Path | None,
                   run_dir: pathlib.Path | None) -> Data:
        """Ingest: tf.data ``train`` / ``validation`` batches and fitted preprocessing.

        Args:
            spec: the application's spec.
            data_dir: the data directory (``--data-dir``); None = the default lookup.
            run_dir: the run directory, where fitted state (vocabularies) is saved and
                loaded from, so evaluation and export use the training run's ids;
                None = do not persist.
        """

    @abc.abstractmethod
    def build_model(self, spec: PipelineSpec, data: Data) -> keras.Model:
        """The compiled model of `spec` for `data` (use `optimizer(spec)`)."""

    @abc.abstractmethod
    def evaluate(self, spec: PipelineSpec, model: keras.Model, data: Data) -> dict[str, float]:
        """Validation metrics of a trained model."""

    @abc.abstractmethod
    def exporter(self, spec: PipelineSpec, model: keras.Model, data: Data):
        """The `seqkeras.serving.Exporter` serving this model (raw inputs in, answers out)."""

    # -- optional hooks ---------------------------------------------------------------
    def hypermodel(self, spec: PipelineSpec, data: Data):
        """The keras-tuner HyperModel of a search (default: every dotted key tunable)."""
        from seqkeras.pipeline.tuning import SpecHyperModel

        return SpecHyperModel(self, spec, data)

    def callbacks(self, spec: PipelineSpec, data: Data) -> list[keras.callbacks.Callback]:
        """Extra callbacks for training and every tuning trial."""
        return []

    def after_run(self, spec: PipelineSpec, model: keras.Model, data: Data, report: dict) -> None:
        """After `seqkeras run`: print the headline validation metric."""
        value = report.get("validation", {}).get(self.headline_metric)
        if value is not None:
            print(f"validation {self.headline_metric.replace('_', ' ')}: {value:.4f}")

    def starter(self, data_files: list[str]) -> dict[str, Any]:
        """Spec keys (dotted key → value) that ``seqkeras init`` sets for a user's data
        files (e.g. the file format and columns it detects); may raise `ValueError`
        with a message for the user when the files do not fit the application."""
        return {"data.train": data_files[0]}

    # -- shared behaviour (not hooks) -----------------------------------------------------
    def make_model(self, spec: PipelineSpec, data: Data) -> keras.Model:
        """`build_model` under the spec's shared settings: what the runner and tuner call.

        The precision policy is set while the model is built (its layers keep it) and
        the previous global policy restored after, so nothing else inherits it. With
        ``training.distribution = "mirrored"`` the model is built under
        `tf.distribute.MirroredStrategy` (`distribution_strategy`).
        """
        previous = keras.mixed_precision.global_policy()
        keras.mixed_precision.set_global_policy(spec.training.precision)
        try:
            # Variables created under a strategy's scope are mirrored, and Keras then runs
            # fit / evaluate / predict through that strategy: one replica per device.
            with distribution_strategy(spec.training.distribution).scope():
                return self.build_model(spec, data)
        finally:
            keras.mixed_precision.set_global_policy(previous)

    @staticmethod
    def optimizer(spec: PipelineSpec, loss_scale: float = 1.0) -> keras.optimizers.Optimizer:
        """The optimizer of ``spec.training`` (with its gradient clipping)."""
        return make_optimizer(spec.training, loss_scale)


REQUIRED_HOOKS = ("build_data", "build_model", "evaluate", "exporter")
OPTIONAL_HOOKS = ("hypermodel", "callbacks", "after_run", "starter")


def check_application(cls, name: str) -> None:
    """Raise `TypeError` unless `cls` is a complete `Application` registered as `name`."""
    import inspect

    if not (isinstance(cls, type) and issubclass(cls, Application)):
        raise TypeError(f"application {name!r}: {cls!r} is not a subclass of seqkeras.pipeline.Application")
    if cls.name != name:
        raise TypeError(f"application {name!r}: {cls.__name__}.name is {cls.name!r}")
    if not (isinstance(cls.spec_class, type) and issubclass(cls.spec_class, PipelineSpec)) \
            or cls.spec_class is PipelineSpec:
        raise TypeError(f"application {name!r}: {cls.__name__}.spec_class must be its own PipelineSpec subclass")
    if cls.spec_class().application != name:
        raise TypeError(f"application {name!r}: {cls.spec_class.__name__}.application defaults to "
                        f"{cls.spec_class().application!r}")
    missing = sorted(getattr(cls, "__abstractmethods__", ()))
    if missing:
        raise TypeError(f"application {name!r}: {cls.__name__} does not implement {missing}")
    for hook in REQUIRED_HOOKS + OPTIONAL_HOOKS:
        expected = list(inspect.signature(getattr(Application, hook)).parameters)
        received = list(inspect.signature(getattr(cls, hook)).parameters)
        if received != expected:
            raise TypeError(f"application {name!r}: {cls.__name__}.{hook}{tuple(received)} must take "
                            f"{tuple(expected)}")
