"""The sequence-tagging pipeline spec: column corpus, tag scheme, tagger, training, tuning, export.

Example TOML (see ``pipelines/ud_ewt_pos.toml``, ``conll2003_ner.toml``, ``wikiann_ner.toml``)::

    application = "tagging"
    name = "conll2003_ner"

    [data]
    train = "conll2003/eng.train.gz"     # relative to the data directory
    validation = "conll2003/eng.testa"
    format = "conll2003"                 # "conllu" | "conll2003" | "wikiann"
    tag_format = "iob1"                  # what the file holds: "none" (POS) | "iob1" | "iob2" | "bioes"
    tag_scheme = "bioes"                 # what the model predicts (and serves)

    [model]
    cell = "lstm"
    layers = 2
    units = 128
    output = "crf"                       # "crf" | "softmax"
    char_features = true

The metric follows from the data: token accuracy when ``tag_format = "none"``,
entity-level span precision / recall / F1 (conlleval's definition, via seqeval)
otherwise. The shared ``export.max_tokens`` is the longest sentence the export tags
(longer ones are cut); 0 = 512 tokens.
"""

from __future__ import annotations

import dataclasses

from seqkeras.data.sources import CONLL_FORMATS
from seqkeras.pipeline.spec import JIT_COMPILE, PipelineSpec, SpecError, TrainingSpec, TuningSpec
from seqkeras.tagging.schemes import SCHEMES


@dataclasses.dataclass
class DataSpec:
    """The corpus, its columns and tag scheme, and the vocabularies."""

    train: str = ""                    # path relative to the data directory (or absolute)
    validation: str = ""               # "" = the last `validation_fraction` of the train sentences
    validation_fraction: float = 0.1
    format: str = "conllu"             # "conllu" | "conll2003" | "wikiann" (seqkeras.data.conll_sentences)
    token_column: int = -1             # -1 = the format's default (conllu FORM, conll2003 col 0)
    tag_column: int = -1               # -1 = the format's default (conllu UPOS, conll2003 NER)
    tag_format: str = "none"           # tags in the file: "none" (plain labels, e.g. POS) | "iob1" | "iob2" | "bioes"
    tag_scheme: str = "none"           # tags the model predicts: "none" | "iob2" | "bioes" (conversion if ≠ tag_format)
    lowercase: bool = False            # lower-case words for the word lookup (characters keep their case)
    min_count: int = 1                 # words seen fewer times in train are <unk>
    max_vocabulary: int = 0            # 0 = no limit (reserved tokens included)
    max_word_length: int = 30          # characters kept per word for the character features


@dataclasses.dataclass
class ModelSpec:
    """Word embedding (+ character BiRNN per word) → deep BiRNN → CRF or softmax."""

    cell: str = "lstm"                 # a key of seqkeras.cells.CELLS, or "lstm:<variant>"
    cell_options: dict = dataclasses.field(default_factory=dict)
    layers: int = 2
    units: int = 128                   # per direction
    embedding_dim: int = 100
    word_dropout: float = 0.05         # training: a word id becomes <unk> with this probability
    char_features: bool = True         # Lample et al.: final states of a character BiRNN per word
    char_cell: str = "lstm"
    char_embedding_dim: int = 32
    char_units: int = 32               # per direction
    dropout: float = 0.5               # on the stack's input and output
    recurrent_dropout: float = 0.0     # variational dropout on h_{t-1}
    output: str = "crf"                # "crf" (linear-chain CRF, Viterbi) | "softmax" (per-token argmax)
    jit_compile: str = "auto"          # "auto" | "true" | "false" for the recurrent loops


@dataclasses.dataclass
class TaggingTrainingSpec(TrainingSpec):
    """`TrainingSpec` with the tagger's defaults (Adam 2e-3, clipping at 5)."""

    learning_rate: float = 2e-3
    clip_norm: float = 5.0


@dataclasses.dataclass
class TaggingTuningSpec(TuningSpec):
    """`TuningSpec` with the tagger's objective (the validation metric) and search space."""

    objective: str = "val_score"       # token accuracy (POS) or span F1 (NER), see `ValidationScore`
    direction: str = "max"
    space: dict = dataclasses.field(default_factory=lambda: {
        "model.cell": ["lstm", "gru"],
        "model.units": [64, 128],
        "model.char_features": [True, False],
        "model.output": ["crf", "softmax"],
        "training.learning_rate": {"min": 1e-3, "max": 5e-3, "sampling": "log"},
    })


@dataclasses.dataclass
class Spec(PipelineSpec):
    """A sequence-tagging pipeline."""

    default_max_tokens = 512           # longer sentences are tagged on their first 512 tokens

    application: str = "tagging"
    data: DataSpec = dataclasses.field(default_factory=DataSpec)
    model: ModelSpec = dataclasses.field(default_factory=ModelSpec)
    training: TaggingTrainingSpec = dataclasses.field(default_factory=TaggingTrainingSpec)
    tuning: TaggingTuningSpec = dataclasses.field(default_factory=TaggingTuningSpec)

    @property
    def metric(self) -> str:
        """``"accuracy"`` (plain labels) or ``"span_f1"`` (chunk tags)."""
        return "accuracy" if self.data.tag_scheme == "none" else "span_f1"

    def validate(self) -> None:
        super().validate()
        d = self.data
        self.check_choices([
            ("data.format", d.format, tuple(CONLL_FORMATS)),
            ("data.tag_format", d.tag_format, ("none",) + SCHEMES),
            ("data.tag_scheme", d.tag_scheme, ("none", "iob2", "bioes")),
            ("model.output", self.model.output, ("crf", "softmax")),
            ("model.jit_compile", self.model.jit_compile, tuple(JIT_COMPILE)),
        ])
        self.check_cells("model.cell", "model.char_cell")
        if not d.train:
            raise SpecError(self.source, "data.train", "missing: name the training file")
        if (d.tag_format == "none") != (d.tag_scheme == "none"):
            raise SpecError(self.source, "data.tag_scheme", f"cannot convert tag_format {d.tag_format!r} to "
                                                            f"tag_scheme {d.tag_scheme!r} ('none' needs 'none')")
        self.check_fraction("model.dropout", "model.recurrent_dropout", "model.word_dropout",
                            "data.validation_fraction")
        if not d.validation and d.validation_fraction == 0.0:
            raise SpecError(self.source, "data.validation", "give a validation file or validation_fraction > 0")
        self.check_at_least(1, "model.layers", "model.units", "model.embedding_dim", "model.char_embedding_dim",
                            "model.char_units", "data.max_word_length", "data.min_count")
