"""The language-model pipeline spec: corpus, tokenizer, model, training, tuning, export.

Example TOML (see ``pipelines/*_lm.toml``)::

    application = "language_model"
    name = "ptb_word_lm"

    [data]
    train = "ptb/ptb.train.txt.gz"      # relative to the data directory
    validation = "ptb/ptb.valid.txt"
    level = "word"                      # "word" → perplexity, "char" → bits per character
    tokenizer = "whitespace"

    [model]
    cell = "lstm"
    layers = 2
    units = 200

    [training]
    optimizer = "sgd"
    learning_rate = 1.0
    clip_norm = 5.0
    bptt_length = 35
"""

from __future__ import annotations

import dataclasses

from seqkeras.cells import CELLS
from seqkeras.pipeline.spec import PipelineSpec, SpecError, TrainingSpec, TuningSpec


@dataclasses.dataclass
class DataSpec:
    """The corpus and how it becomes one token stream."""

    train: str = "package:tinyshakespeare.txt.gz"   # path (data-dir relative), glob, or package:NAME
    validation: str = ""               # "" = the last `validation_fraction` of the train lines
    validation_fraction: float = 0.1
    level: str = "char"                # "word" (perplexity) | "char" (bits per character)
    tokenizer: str = "character"       # "character" | "whitespace"
    newline: str = "eos"               # line end as: "eos" (<eos> token) | "char" ("\n" token) | "drop"
    lowercase: bool = False
    min_count: int = 1
    max_vocabulary: int = 0            # 0 = no limit (reserved tokens included)


@dataclasses.dataclass
class ModelSpec:
    """Embedding → stacked recurrent cells → (tied) softmax."""

    cell: str = "lstm"                 # a key of seqkeras.cells.CELLS
    cell_options: dict = dataclasses.field(default_factory=dict)   # e.g. {variant = "cifg"}
    layers: int = 2
    units: int = 200
    embedding_dim: int = 0             # 0 = units
    tie_embeddings: bool = False       # softmax weights = embedding matrix (Press & Wolf)
    dropout: float = 0.0               # Zaremba: on the embedding output and the top output
    layer_dropout: float = 0.0         # variational dropout on every level's input
    recurrent_dropout: float = 0.0     # variational dropout on h_{t-1} (Gal & Ghahramani)
    init_scale: float = 0.0            # >0: uniform(-s, s) init of every weight (Zaremba: 0.1)
    softmax_precision: str = "float32" # "float32" | "bfloat16" (output layer matmuls only)
    sampled_softmax: int = 0           # >0: train with a sampled softmax over this many candidates
    jit_compile: str = "auto"          # "auto" | "true" | "false" for the recurrent loop


@dataclasses.dataclass
class LMTrainingSpec(TrainingSpec):
    """`TrainingSpec` plus truncated BPTT."""

    bptt_length: int = 35
    # Zaremba's loss is summed over the T steps of a window (mean over the batch): the
    # optimizer then acts as if the per-token loss were × T (SGD lr × T, clip ÷ T).
    sum_over_time: bool = False


@dataclasses.dataclass
class LMTuningSpec(TuningSpec):
    space: dict = dataclasses.field(default_factory=lambda: {
        "model.cell": ["lstm", "gru"],
        "model.units": [128, 256],
        "training.learning_rate": {"min": 1e-3, "max": 1e-2, "sampling": "log"},
    })


@dataclasses.dataclass
class Spec(PipelineSpec):
    """A language-model pipeline."""

    application: str = "language_model"
    data: DataSpec = dataclasses.field(default_factory=DataSpec)
    model: ModelSpec = dataclasses.field(default_factory=ModelSpec)
    training: LMTrainingSpec = dataclasses.field(default_factory=LMTrainingSpec)
    tuning: LMTuningSpec = dataclasses.field(default_factory=LMTuningSpec)
    generate_prompt: str = ""          # printed sample after `seqkeras run`; "" = none
    generate_length: int = 300
    generate_temperature: float = 0.8

    def validate(self) -> None:
        super().validate()
        src, d, m, t = self.source, self.data, self.model, self.training
        checks = [
            ("data.level", d.level, ("word", "char")),
            ("data.tokenizer", d.tokenizer, ("character", "whitespace")),
            ("data.newline", d.newline, ("eos", "char", "drop")),
            ("model.cell", m.cell.split(":")[0], tuple(CELLS)),
            ("model.softmax_precision", m.softmax_precision, ("float32", "bfloat16")),
            ("model.jit_compile", m.jit_compile, ("auto", "true", "false")),
        ]
        self.check_choices(checks)
        if d.newline == "char" and d.tokenizer != "character":
            raise SpecError(src, "data.newline", "'char' needs tokenizer = 'character'")
        for key in ("model.dropout", "model.layer_dropout", "model.recurrent_dropout"):
            value = getattr(m, key.split(".")[1])
            if not 0.0 <= value < 1.0:
                raise SpecError(src, key, f"must be in [0, 1), received {value}")
        if not 0.0 <= d.validation_fraction < 1.0:
            raise SpecError(src, "data.validation_fraction", f"must be in [0, 1), received {d.validation_fraction}")
        if not d.validation and d.validation_fraction == 0.0:
            raise SpecError(src, "data.validation", "give a validation file or validation_fraction > 0")
        for key, value in (("model.layers", m.layers), ("model.units", m.units),
                           ("training.bptt_length", t.bptt_length)):
            if value < 1:
                raise SpecError(src, key, f"must be ≥ 1, received {value}")
