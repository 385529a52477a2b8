"""The dense-feature sequence spec: a ``.ts`` file, its folds, the task, the encoder.

Example TOML (see ``pipelines/japanese_vowels.toml``, ``pipelines/japanese_vowels_frames.toml``)::

    application = "sequences"
    name = "japanese_vowels"

    [data]
    train = "japanese_vowels/JapaneseVowels_TRAIN.ts"
    task = "classify"          # "classify" (sequence → label) | "label_frames" (a label per frame)
    folds = 5                  # stratified k-fold cross-validation on the training file
    fold = 0                   # the fold that validates (the others train)

    [model]
    cell = "gru"
    units = 64
    bidirectional = true
    pooling = "final"          # classify: "final" | "mean" | "max"
    output = "softmax"         # label_frames: "softmax" | "crf"

The cross-validated figure is every fold's run: ``python bench/sequences_cv.py
--pipeline pipelines/japanese_vowels.toml`` (``--set data.fold=i`` for i in 0..folds−1).
"""

from __future__ import annotations

import dataclasses

from seqkeras.pipeline.spec import JIT_COMPILE, PipelineSpec, SpecError, TrainingSpec, TuningSpec

TASKS = ("classify", "label_frames")
POOLINGS = ("final", "mean", "max")
OUTPUTS = ("softmax", "crf")


@dataclasses.dataclass
class DataSpec:
    """The ``.ts`` file, the k-fold split and (for frame labelling) the streams.

    Folds are stratified by label and seeded by ``split_seed`` (not the training seed,
    so runs with other training seeds validate on the same utterances). Frame
    labelling concatenates 2–6 utterances of distinct speakers into one stream, every
    frame labelled with its speaker; training streams draw only training-fold
    utterances, validation streams only validation-fold ones.
    """

    train: str = ""                    # the .ts file, data-dir relative (plain or .gz)
    task: str = "classify"             # "classify" | "label_frames"
    folds: int = 5                     # k of the stratified k-fold split (≥ 2)
    fold: int = 0                      # the validation fold, 0 … folds − 1
    split_seed: int = 0                # seeds the fold assignment and the streams
    crop: float = 0.0                  # classify: each epoch, train on a random window of crop…100 %
                                       # of each utterance's frames (augmentation); 0 = whole utterances
    streams: int = 2000                # label_frames: training streams per epoch (drawn afresh each epoch)
    validation_streams: int = 300      # label_frames: validation streams
    min_turns: int = 2                 # label_frames: utterances per stream, at least …
    max_turns: int = 6                 # … and at most (each from a different speaker)


@dataclasses.dataclass
class ModelSpec:
    """Frames → normalization → dense projection → recurrent encoder → head."""

    cell: str = "gru"                  # a key of seqkeras.cells.CELLS, or "lstm:<variant>"
    cell_options: dict = dataclasses.field(default_factory=dict)
    units: int = 64
    layers: int = 1
    bidirectional: bool = True         # frame labelling wants it: a turn's first frames are told apart by what follows
    projection: int = 64               # width of the dense (tanh) input projection; 0 = none
    pooling: str = "final"             # classify: "final" | "mean" | "max" over the encoder outputs
    output: str = "softmax"            # label_frames: "softmax" | "crf"
    noise: float = 0.0                 # training only: N(0, noise²) added to the normalized frames
    dropout: float = 0.2               # on the projected frames and the encoder outputs
    recurrent_dropout: float = 0.0     # variational, on h_{t-1}
    jit_compile: str = "auto"          # "auto" | "true" | "false" for the recurrent loops


@dataclasses.dataclass
class EvaluationSpec:
    """What `evaluate` prints beside the figures."""

    examples: int = 3                  # validation examples printed (gold vs predicted)


@dataclasses.dataclass
class SequencesTuningSpec(TuningSpec):
    objective: str = "val_loss"
    space: dict = dataclasses.field(default_factory=lambda: {
        "model.cell": ["gru", "lstm"],
        "model.units": [32, 64, 128],
        "model.projection": [0, 64],
        "model.dropout": [0.1, 0.3],
        "training.learning_rate": {"min": 1e-3, "max": 1e-2, "sampling": "log"},
    })


@dataclasses.dataclass
class Spec(PipelineSpec):
    """A dense-feature sequence pipeline. Requests are frames, not tokens."""

    unsupported_keys = ("export.max_tokens",)

    application: str = "sequences"
    data: DataSpec = dataclasses.field(default_factory=DataSpec)
    model: ModelSpec = dataclasses.field(default_factory=ModelSpec)
    evaluation: EvaluationSpec = dataclasses.field(default_factory=EvaluationSpec)
    training: TrainingSpec = dataclasses.field(default_factory=lambda: TrainingSpec(batch_size=16, epochs=60))
    tuning: SequencesTuningSpec = dataclasses.field(default_factory=SequencesTuningSpec)

    def validate(self) -> None:
        super().validate()
        d, m = self.data, self.model
        if not d.train:
            raise SpecError(self.source, "data.train", "missing: name the .ts file")
        self.check_choices([("data.task", d.task, TASKS), ("model.pooling", m.pooling, POOLINGS),
                            ("model.output", m.output, OUTPUTS),
                            ("model.jit_compile", m.jit_compile, tuple(JIT_COMPILE))])
        self.check_cells("model.cell")
        self.check_fraction("model.dropout", "model.recurrent_dropout", "data.crop")
        self.check_at_least(2, "data.folds", "data.min_turns")
        self.check_at_least(1, "data.streams", "data.validation_streams", "model.units", "model.layers")
        self.check_at_least(0, "data.fold", "model.projection", "model.noise", "evaluation.examples")
        if d.fold >= d.folds:
            raise SpecError(self.source, "data.fold", f"must be < data.folds = {d.folds}, received {d.fold}")
        if d.max_turns < d.min_turns:
            raise SpecError(self.source, "data.max_turns", f"must be ≥ data.min_turns = {d.min_turns}, "
                            f"received {d.max_turns}")
