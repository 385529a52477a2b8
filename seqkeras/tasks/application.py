"""The long-range tasks as a pipeline application (``application = "long_range"``).

``seqkeras run pipelines/adding.toml`` trains one cell (`seqkeras.tasks.model`) on one
task and lag with the spec's optimizer and clipping (logged by `GradientControl`:
``grad_norm``, ``clipped``), the optional Pascanu regulariser, TensorBoard and
keras-tuner, and exports a SavedModel (`LongRangeServer`) that answers the task from
its raw input.
"""

from __future__ import annotations

import dataclasses

import keras
import numpy as np
import tensorflow as tf

from seqkeras.diagnostics import GradientControl
from seqkeras.pipeline.application import Application
from seqkeras.pipeline.data import Data
from seqkeras.pipeline.spec import PipelineSpec, TrainingSpec
from seqkeras.pipeline.training import make_optimizer
from seqkeras.serving import Exporter, WarmupRequest
from seqkeras.tasks import TASKS, AddingProblem, Agreement, CopyMemory, LongRangeTask
from seqkeras.tasks.model import build_network


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

    cell: str = "lstm"                 # elman | lstm | lstm:<greff variant> | gru | ran | additive
    units: int = 32
    clip_value: float = 0.0            # clip every gradient entry to ±v; 0 = off
    pascanu: float = 0.0               # weight of Pascanu et al.'s Ω; 0 = off


@dataclasses.dataclass
class Spec(PipelineSpec):
    """A long-range task pipeline; ``training.steps_per_epoch`` ≥ 1 (the task streams
    are endless)."""

    # Inputs have the task's fixed length T = sequence_length(lag): no token limit to set.
    unsupported_keys = ("export.max_tokens",)

    application: str = "long_range"
    data: DataSpec = dataclasses.field(default_factory=DataSpec)
    model: ModelSpec = dataclasses.field(default_factory=ModelSpec)
    training: TrainingSpec = dataclasses.field(
        default_factory=lambda: TrainingSpec(optimizer="adam", learning_rate=1e-2, clip_norm=1.0,
                                             epochs=4, steps_per_epoch=100)
    )

    def validate(self) -> None:
        super().validate()
        self.check_choices([("data.task", self.data.task, sorted(TASKS))])
        self.check_at_least(2, "data.lag", "data.symbols")
        self.check_at_least(1, "data.length", "data.validation_examples", "model.units",
                            "training.steps_per_epoch")
        self.check_at_least(0, "model.clip_value", "model.pascanu")
        self.check_cells("model.cell")


@dataclasses.dataclass(kw_only=True)
class LongRangeData(Data):
    """An endless stream of fresh training batches and a fixed validation set.

    Attributes:
        task: the `LongRangeTask` generating the examples.
        task_name: its name (``"adding"``, ...).
        lag: the task's lag.
        sequence_length: T, the length of every input.
        chance: the task score of a model without memory.
    """

    task: LongRangeTask
    task_name: str
    lag: int
    sequence_length: int
    chance: float


def make_task(data_spec: DataSpec) -> LongRangeTask:
    """The task of a ``[data]`` section."""
    if data_spec.task == "copy_memory":
        return CopyMemory(length=data_spec.length, symbols=data_spec.symbols)
    return {"adding": AddingProblem, "agreement": Agreement}[data_spec.task]()


class LongRangeServer(Exporter):
    """Serving module: the task's raw input in, the model's answer out.

    Signature ``serving_default``, by task input:

    * ``features``: float32[None, T, F] (adding: value and marker per step), or
    * ``tokens``: int32[None, T] (copy_memory, agreement: token ids);

    outputs, by task kind:

    * regression (adding): ``value`` float32[None];
    * classes (agreement): ``probabilities`` float32[None, classes], ``class`` int32[None];
    * sequence classes (copy_memory): ``probabilities`` float32[None, answer_steps,
      classes], ``class`` int32[None, answer_steps].

    Args:
        model: the trained model (inputs and outputs as `seqkeras.tasks.model.build_network`).
        task: its `LongRangeTask`.
        lag: the lag it was trained at (T = ``task.sequence_length(lag)``).
    """

    def __init__(self, model: keras.Model, task: LongRangeTask, lag: int):
        super().__init__(name="long_range")
        self.model = model
        self.regression = task.kind == "regression"
        steps = task.sequence_length(lag)
        if task.vocabulary_size:
            self.input_name = "tokens"
            signature = tf.TensorSpec([None, steps], tf.int32, name=self.input_name)
        else:
            self.input_name = "features"
            signature = tf.TensorSpec([None, steps, task.features], tf.float32, name=self.input_name)
        self.warmup_inputs = task.arrays(lag, 2)[0]
        self.serve = tf.function(self._serve, input_signature=[signature])

    def _serve(self, inputs):
        prediction = tf.cast(self.model(inputs, training=False), tf.float32)
        if self.regression:
            return {"value": prediction[:, 0]}
        return {"probabilities": prediction, "class": tf.argmax(prediction, axis=-1, output_type=tf.int32)}

    def signatures(self) -> dict:
        return {"serving_default": self.serve.get_concrete_function()}

    def warmup_requests(self) -> list[WarmupRequest]:
        """Two examples of the task (`LongRangeTask.arrays`)."""
        return [WarmupRequest("serving_default", {self.input_name: self.warmup_inputs})]

    def check_outputs(self, outputs) -> None:
        for name, value in outputs["serving_default"].items():
            if len(value) != len(self.warmup_inputs) or not np.all(np.isfinite(value)):
                raise RuntimeError(f"exported long-range model answers wrongly: {name} = {value}")


class LongRangeApplication(Application):
    """One recurrent cell on a synthetic long-range dependency task."""

    name = "long_range"
    spec_class = Spec
    headline_metric = "score"

    def build_data(self, spec: Spec, data_dir, run_dir) -> LongRangeData:
        """Fresh training batches from the task's generator and a seeded validation set
        (no files: `data_dir` and `run_dir` are not used)."""
        task = make_task(spec.data)
        lag, batch = spec.data.lag, spec.training.batch_size
        x, y = task.arrays(lag, spec.data.validation_examples, seed=spec.training.seed + 7)
        return LongRangeData(
            train=task.dataset(lag, batch_size=batch, seed=spec.training.seed + 1000),
            validation=tf.data.Dataset.from_tensor_slices((x, y)).batch(batch),
            task=task, task_name=task.name, lag=lag, sequence_length=task.sequence_length(lag),
            chance=task.chance)

    def build_model(self, spec: Spec, data: LongRangeData) -> keras.Model:
        """`build_network` wrapped in `GradientControl` (clipping, Pascanu's Ω), compiled."""
        network, loss = build_network(data.task, spec.model.cell, spec.model.units, data.lag)
        model = GradientControl(
            network,
            clip_norm=spec.training.clip_norm or None,
            clip_value=spec.model.clip_value or None,
            pascanu=spec.model.pascanu,
        )
        # GradientControl clips (and logs it); the optimizer itself must not clip again
        optimizer = make_optimizer(dataclasses.replace(spec.training, clip_norm=0.0))
        metrics = [] if data.task.kind == "regression" else ["accuracy"]
        model.compile(optimizer=optimizer, loss=loss, metrics=metrics)
        return model

    def evaluate(self, spec: Spec, model: keras.Model, data: LongRangeData) -> dict[str, float]:
        """Validation loss (and accuracy) plus the task score (R² for adding)."""
        results = model.evaluate(data.validation, verbose=0, return_dict=True)
        xs, ys = zip(*[(x.numpy(), y.numpy()) for x, y in data.validation])
        prediction = model.predict(np.concatenate(xs), verbose=0)
        results["score"] = data.task.score(np.concatenate(ys), prediction)
        return {key: float(value) for key, value in results.items()}

    def exporter(self, spec: Spec, model: keras.Model, data: LongRangeData) -> LongRangeServer:
        return LongRangeServer(model, data.task, data.lag)

    def starter(self, data_files: list[str]) -> dict:
        """The tasks generate their own examples: no data file fits."""
        raise ValueError("the long_range application generates its examples (data.task, data.lag) and reads "
                         "no data files; start from pipelines/adding.toml, copy_memory.toml or agreement.toml")
