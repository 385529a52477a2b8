"""The long-range tasks as a pipeline application (``application = "long_range"``).

Plugs `seqkeras.tasks` into the shared pipeline machinery (`seqkeras.pipeline`):
``seqkeras run pipelines/adding.toml`` trains one cell on one task and lag with
the spec's optimizer, clipping (logged by `GradientControl`: ``grad_norm``,
``clipped``), optional Pascanu regulariser, TensorBoard and keras-tuner. The model is
the study's (`seqkeras.study.gradients.build_network`). There is no serving export:
the tasks are synthetic benchmarks.
"""

from __future__ import annotations

import dataclasses

import keras
import numpy as np
import tensorflow as tf

from seqkeras.pipeline.data import Data
from seqkeras.pipeline.spec import PipelineSpec, SpecError, TrainingSpec
from seqkeras.pipeline.training import make_optimizer
from seqkeras.pipeline.tuning import SpecHyperModel
from seqkeras.tasks import TASKS, AddingProblem, Agreement, CopyMemory


@dataclasses.dataclass
class DataSpec:
    """Which task, at which lag."""

    task: str = "adding"               # "adding" | "copy_memory" | "agreement"
    lag: int = 20                      # see the task's docstring for its meaning
    length: int = 3                    # copy_memory: symbols to recall
    symbols: int = 6                   # copy_memory: alphabet size
    validation_examples: int = 512     # fixed validation set (seeded)


@dataclasses.dataclass
class ModelSpec:
    """The recurrent model: projection → one seqkeras cell → task head."""

    cell: str = "lstm"                 # elman | lstm | lstm-<greff variant> | gru | ran | additive
    units: int = 32
    clip_value: float = 0.0            # clip every gradient entry to ±v; 0 = off
    pascanu: float = 0.0               # weight of Pascanu et al.'s Ω; 0 = off


@dataclasses.dataclass
class Spec(PipelineSpec):
    data: DataSpec = dataclasses.field(default_factory=DataSpec)
    model: ModelSpec = dataclasses.field(default_factory=ModelSpec)
    training: TrainingSpec = dataclasses.field(
        default_factory=lambda: TrainingSpec(optimizer="adam", learning_rate=1e-2, clip_norm=1.0,
                                             epochs=4, steps_per_epoch=100)
    )

    def validate(self) -> None:
        super().validate()
        if self.data.task not in TASKS:
            raise SpecError(self.source, "data.task", f"must be one of {sorted(TASKS)}, "
                            f"received {self.data.task!r}")
        if self.data.lag < 2:
            raise SpecError(self.source, "data.lag", f"must be ≥ 2, received {self.data.lag}")
        if self.training.steps_per_epoch < 1:
            raise SpecError(self.source, "training.steps_per_epoch",
                            "must be ≥ 1: the task streams are endless")
        from seqkeras.study.gradients import make_cell

        try:
            make_cell(self.model.cell, 2)
        except ValueError as error:
            raise SpecError(self.source, "model.cell", str(error)) from None


def make_task(data_spec):
    if data_spec.task == "copy_memory":
        return CopyMemory(length=data_spec.length, symbols=data_spec.symbols)
    return {"adding": AddingProblem, "agreement": Agreement}[data_spec.task]()


def build_data(spec, data_dir=None) -> Data:
    """An endless stream of fresh training batches and a fixed validation set."""
    task = make_task(spec.data)
    lag, batch = spec.data.lag, spec.training.batch_size
    x, y = task.arrays(lag, spec.data.validation_examples, seed=spec.training.seed + 7)
    validation = tf.data.Dataset.from_tensor_slices((x, y)).batch(batch)
    return Data(
        train=task.dataset(lag, batch_size=batch, seed=spec.training.seed + 1000),
        validation=validation,
        info={"task": task.name, "lag": lag, "sequence_length": task.sequence_length(lag),
              "chance": task.chance},
    )


def build_model(spec, data) -> keras.Model:
    from seqkeras.diagnostics import GradientControl
    from seqkeras.study.gradients import build_network

    task = make_task(spec.data)
    keras.utils.set_random_seed(spec.training.seed)
    network, loss = build_network(task, spec.model.cell, spec.model.units, spec.data.lag)
    model = GradientControl(
        network,
        clip_norm=spec.training.clip_norm or None,
        clip_value=spec.model.clip_value or None,
        pascanu=spec.model.pascanu,
    )
    # GradientControl clips (and logs it); the optimizer itself must not clip again
    optimizer = make_optimizer(dataclasses.replace(spec.training, clip_norm=0.0))
    metrics = [] if task.kind == "regression" else ["accuracy"]
    model.compile(optimizer=optimizer, loss=loss, metrics=metrics)
    return model


HyperModel = SpecHyperModel  # every dotted spec key is tunable, e.g. "training.learning_rate"


def evaluate(model, spec, data) -> dict[str, float]:
    """Validation loss (and accuracy) plus the task score (R² for adding)."""
    task = make_task(spec.data)
    results = model.evaluate(data.validation, verbose=0, return_dict=True)
    xs, ys = zip(*[(x.numpy(), y.numpy()) for x, y in data.validation])
    prediction = model.predict(np.concatenate(xs), verbose=0)
    results["score"] = task.score(np.concatenate(ys), prediction)
    return {key: float(value) for key, value in results.items()}


def export(model, spec, data, output_dir):
    raise NotImplementedError("the long-range tasks are synthetic benchmarks; nothing to serve")
