"""The sentence-classification pipeline spec: labelled corpus, tokenizer, acceptor model.

Example TOML (see ``pipelines/sst2_sentiment.toml``)::

    application = "classification"
    name = "sst2_sentiment"

    [data]
    train = "sst2/train_clean.tsv.gz"   # relative to the data directory
    validation = "sst2/valid_clean.tsv" # "" = a deterministic hash split of train
    format = "tsv"                      # "tsv" | "csv" (RFC 4180) | "last_tab" (UCI files)
    labels = ["0", "1"]
    class_names = ["negative", "positive"]

    [model]
    cell = "lstm"
    bidirectional = true
    pooling = "max"                     # "final" | "mean" | "max" | "attention"
"""

from __future__ import annotations

import dataclasses

from seqkeras.pipeline.spec import JIT_COMPILE, PipelineSpec, SpecError, TrainingSpec, TuningSpec

FORMATS = ("tsv", "csv", "last_tab")
POOLINGS = ("final", "mean", "max", "attention")
# What can initialise the classifier before it trains; at most one of them.
PRETRAINED_KEYS = ("pretrained_embeddings", "pretrained_language_model", "pretrained_classifier")
# The serving token limit when neither export.max_tokens nor data.max_length is set.
DEFAULT_SERVING_TOKENS = 2048


@dataclasses.dataclass
class DataSpec:
    """The labelled corpus, its validation split and the tokenizer."""

    train: str = ""                    # file or glob (data-dir relative); a glob's files are concatenated
    validation: str = ""               # "" = hash split of train (see `validation_fraction`)
    validation_fraction: float = 0.1   # of train, by a fingerprint of each text: deterministic,
                                       # duplicates stay on one side, each class ≈ this fraction
    format: str = "tsv"                # "tsv" (header) | "csv" (header, RFC-4180 quotes) |
                                       # "last_tab" (no header, split each line on its last tab)
    text_column: str = "sentence"      # header name (tsv, csv)
    label_column: str = "label"
    labels: list[str] = dataclasses.field(default_factory=list)       # label values in class order;
                                                                      # [] = sorted distinct train labels
    class_names: list[str] = dataclasses.field(default_factory=list)  # what the export returns; [] = labels
    tokenizer: str = "whitespace"      # "whitespace" | "treebank": also split punctuation and clitics
                                       # off words as PTB/SST are ("don't" → "do n't"), for raw text
    lowercase: bool = True
    strip_punctuation: bool = False    # delete ASCII punctuation (raw text such as IMDB)
    min_count: int = 1
    max_vocabulary: int = 0            # 0 = no limit (reserved tokens included)
    max_length: int = 0                # keep the first this-many tokens in training; 0 = all (serving:
                                       # export.max_tokens, whose 0 means this value, else 2048)
    shuffle_buffer: int = 20000
    length_weight: float = 0.0         # p > 0: weight training examples by tokens^p (mean 1), towards
                                       # whole sentences when training on phrases (SST); 0 = off
    pool_batches: int = 32             # length bucketing: sort pools of this many batches; 0 = off


@dataclasses.dataclass
class ModelSpec:
    """Embedding → (bi)directional recurrent stack → pooling → dropout → softmax."""

    cell: str = "lstm"                 # a key of seqkeras.cells.CELLS, or "lstm:<variant>"
    cell_options: dict = dataclasses.field(default_factory=dict)
    layers: int = 1
    units: int = 128
    embedding_dim: int = 128          # ignored with pretrained_embeddings (the vectors' width)
    pretrained_embeddings: str = ""    # word2vec text file (data-dir relative) initialising the embedding
    # A trained language_model run (its pipeline .toml, or its run directory; relative to
    # the current directory) whose embedding and recurrent stack initialise the encoder
    # (ULMFiT; `seqkeras.classification.pretrained`). cell, layers, units and
    # embedding_dim must be the LM's; a bidirectional encoder takes it forward only.
    pretrained_language_model: str = ""
    # A trained classification run on another labelled corpus (its pipeline .toml or run
    # directory) whose embedding, both directions and, with the same pooling and class
    # names, pooling and softmax initialise this classifier (supervised transfer). cell,
    # layers, units, embedding_dim and bidirectional must be its.
    pretrained_classifier: str = ""
    # ULMFiT's gradual unfreezing, coarse: the first N epochs train only what starts fresh
    # (pooling, softmax, a backward direction), the pretrained embedding and cells after.
    freeze_pretrained_epochs: int = 0
    train_embeddings: bool = True      # false: keep the (pretrained) embedding frozen
    bidirectional: bool = True
    pooling: str = "final"             # "final" state | masked "mean" | masked "max" | "attention"
    attention_units: int = 0           # attention pooling's hidden width; 0 = the encoder width
    dropout: float = 0.2               # on the embedding outputs
    layer_dropout: float = 0.0         # variational, on every recurrent level's input
    recurrent_dropout: float = 0.0     # variational, on h_{t-1}
    output_dropout: float = 0.2        # on the pooled vector
    jit_compile: str = "auto"          # "auto" | "true" | "false" for the recurrent loops


@dataclasses.dataclass
class ClassificationTuningSpec(TuningSpec):
    objective: str = "val_accuracy"
    direction: str = "max"
    space: dict = dataclasses.field(default_factory=lambda: {
        "model.cell": ["lstm", "gru"],
        "model.units": [64, 128],
        "model.layers": [1, 2],
        "model.dropout": [0.2, 0.4],
        "training.learning_rate": {"min": 3e-4, "max": 3e-3, "sampling": "log"},
    })


@dataclasses.dataclass
class Spec(PipelineSpec):
    """A sentence-classification pipeline (every shared key is honoured)."""

    application: str = "classification"
    data: DataSpec = dataclasses.field(default_factory=DataSpec)
    model: ModelSpec = dataclasses.field(default_factory=ModelSpec)
    training: TrainingSpec = dataclasses.field(default_factory=TrainingSpec)
    tuning: ClassificationTuningSpec = dataclasses.field(default_factory=ClassificationTuningSpec)

    def validate(self) -> None:
        super().validate()
        d = self.data
        if not d.train:
            raise SpecError(self.source, "data.train", "missing: name the training file")
        self.check_choices([
            ("data.format", d.format, FORMATS),
            ("data.tokenizer", d.tokenizer, ("whitespace", "treebank")),
            ("model.pooling", self.model.pooling, POOLINGS),
            ("model.jit_compile", self.model.jit_compile, tuple(JIT_COMPILE)),
        ])
        if d.tokenizer == "treebank" and d.strip_punctuation:
            raise SpecError(self.source, "data.strip_punctuation", "the 'treebank' tokenizer keeps punctuation "
                            "as tokens: set strip_punctuation = false")
        self.check_cells("model.cell")
        self.check_fraction("model.dropout", "model.layer_dropout", "model.recurrent_dropout",
                            "model.output_dropout")
        self.check_at_least(1, "model.layers", "model.units", "model.embedding_dim", "data.min_count")
        self.check_at_least(0, "model.attention_units", "model.freeze_pretrained_epochs", "data.max_length",
                            "data.max_vocabulary", "data.shuffle_buffer", "data.pool_batches", "data.length_weight")
        sources = [key for key in PRETRAINED_KEYS if getattr(self.model, key)]
        if len(sources) > 1:
            raise SpecError(self.source, f"model.{sources[1]}", f"and model.{sources[0]} both initialise the "
                            f"embedding: set one")
        if self.model.freeze_pretrained_epochs and not sources:
            raise SpecError(self.source, "model.freeze_pretrained_epochs", "needs something pretrained: "
                            "model." + ", model.".join(PRETRAINED_KEYS[:-1]) + " or model." + PRETRAINED_KEYS[-1])
        if not d.validation and not 0.0 < d.validation_fraction < 1.0:
            raise SpecError(self.source, "data.validation_fraction",
                            f"must be in (0, 1) when no validation file is given, received {d.validation_fraction}")
        if d.class_names and d.labels and len(d.class_names) != len(d.labels):
            raise SpecError(self.source, "data.class_names",
                            f"has {len(d.class_names)} names for {len(d.labels)} labels")
        if len(set(d.labels)) != len(d.labels):
            raise SpecError(self.source, "data.labels", f"has duplicates: {d.labels}")

    @property
    def max_tokens(self) -> int:
        """The longest request the export reads, in tokens: ``export.max_tokens``, or when
        it is 0 the training cut ``data.max_length``, or when that is 0 too 2,048."""
        return self.export.max_tokens or self.data.max_length or DEFAULT_SERVING_TOKENS
