"""The translation pipeline spec: parallel corpus, subwords, encoder–decoder, decoding.

Example TOML (see ``pipelines/multi30k_de_en.toml``)::

    application = "translation"
    name = "multi30k_de_en"

    [data]
    train_source = "multi30k/train.de.gz"
    train_target = "multi30k/train.en.gz"
    validation_source = "multi30k/val.de.gz"
    validation_target = "multi30k/val.en.gz"
    vocabulary = "separate"        # or "shared"

    [model]
    cell = "gru"
    attention = "luong"            # "bahdanau" | "luong" | "none"

    [decoding]
    beam_width = 5
    length_penalty = 0.6

    [export]
    max_tokens = 0                 # serving keeps the first N source subwords; 0 = 128
"""

from __future__ import annotations

import dataclasses

from seqkeras.pipeline.spec import PipelineSpec, SpecError, TrainingSpec, TuningSpec

ATTENTIONS = ("bahdanau", "luong", "none")
LUONG_SCORES = ("general", "dot")
DEFAULT_MAX_SOURCE_TOKENS = 128        # export.max_tokens = 0: serving reads this many source subwords


@dataclasses.dataclass
class DataSpec:
    """Line-aligned parallel files (data-dir relative) and the subword vocabularies."""

    train_source: str = "multi30k/train.de.gz"
    train_target: str = "multi30k/train.en.gz"
    validation_source: str = "multi30k/val.de.gz"   # held-out pair, required to run ("" = not set yet)
    validation_target: str = "multi30k/val.en.gz"
    vocabulary: str = "separate"       # "separate" (one WordPiece vocabulary per side) | "shared"
    source_vocab_size: int = 8000      # WordPiece entries, reserved tokens included
    target_vocab_size: int = 8000      # (shared: source_vocab_size is used for both)
    lowercase: bool = False            # BLEU is computed against the raw (cased) references
    max_length: int = 64               # drop training pairs with more subwords on either side
    shuffle_buffer: int = 30000
    bucket_pool: int = 32              # batches per length-bucketing pool (0 = input order)


@dataclasses.dataclass
class ModelSpec:
    """Embedding → deep bidirectional encoder; attentional recurrent decoder."""

    cell: str = "gru"                  # encoder cell, a key of seqkeras.cells.CELLS ("lstm:cifg" = variant)
    decoder_cell: str = ""             # "" = the encoder's cell
    cell_options: dict = dataclasses.field(default_factory=dict)
    attention: str = "luong"           # "bahdanau" (additive) | "luong" (multiplicative) | "none"
    luong_score: str = "general"       # "general" | "dot" (needs units == 2 · encoder_units)
    input_feeding: bool = False        # Luong: feed the attentional vector h̃_{t-1} to step t
    attention_units: int = 0           # additive score width (0 = units)
    embedding_dim: int = 256
    encoder_units: int = 256           # per direction
    encoder_layers: int = 1
    units: int = 512                   # decoder
    decoder_layers: int = 1
    dropout: float = 0.2               # on embeddings and on the attentional vector
    tie_embeddings: bool = False       # output layer shares the target embedding (Press & Wolf)


@dataclasses.dataclass
class DecodingSpec:
    """Decoding used by evaluation and as the exported model's defaults."""

    beam_width: int = 5
    length_penalty: float = 0.6        # GNMT: score / ((5 + |y|) / 6) ** α; 0 = raw log-probability
    max_length_a: float = 1.5          # max target tokens = a · source tokens + b (capped)
    max_length_b: int = 10
    max_length_cap: int = 200
    batch_size: int = 128              # sources per decoding batch in evaluation
    max_beam_width: int = 16           # serving clamp


@dataclasses.dataclass
class MTTrainingSpec(TrainingSpec):
    """`TrainingSpec` plus label smoothing."""

    label_smoothing: float = 0.1
    batch_size: int = 64
    clip_norm: float = 5.0


@dataclasses.dataclass
class MTTuningSpec(TuningSpec):
    """`TuningSpec` whose default space is cell, attention, width, depth, dropout,
    output tying and learning rate. Do not tune the data keys (vocabulary sizes, batch
    size): the vocabularies and batches are built once, before the search."""

    space: dict = dataclasses.field(default_factory=lambda: {
        "model.cell": ["gru", "lstm"],
        "model.attention": ["luong", "bahdanau", "none"],
        "model.units": [256, 512],
        "model.encoder_layers": [1, 2],
        "model.dropout": [0.1, 0.3, 0.4],
        "model.tie_embeddings": [True, False],
        "training.learning_rate": {"min": 5e-4, "max": 3e-3, "sampling": "log"},
    })


@dataclasses.dataclass
class Spec(PipelineSpec):
    """A translation pipeline."""

    application: str = "translation"
    data: DataSpec = dataclasses.field(default_factory=DataSpec)
    model: ModelSpec = dataclasses.field(default_factory=ModelSpec)
    decoding: DecodingSpec = dataclasses.field(default_factory=DecodingSpec)
    training: MTTrainingSpec = dataclasses.field(default_factory=MTTrainingSpec)
    tuning: MTTuningSpec = dataclasses.field(default_factory=MTTuningSpec)
    evaluate_limit: int = 0            # translate only the first N validation sources (0 = all)
    samples: int = 3                   # translations printed after `seqkeras run`

    # Every shared key is honoured (export.max_tokens: 0 = DEFAULT_MAX_SOURCE_TOKENS).
    default_max_tokens = DEFAULT_MAX_SOURCE_TOKENS

    def validate(self) -> None:
        super().validate()
        d, m, dec = self.data, self.model, self.decoding
        self.check_choices([
            ("data.vocabulary", d.vocabulary, ("separate", "shared")),
            ("model.attention", m.attention, ATTENTIONS),
            ("model.luong_score", m.luong_score, LUONG_SCORES),
        ])
        self.check_cells("model.cell", *(["model.decoder_cell"] if m.decoder_cell else []))
        self.check_at_least(8, "data.source_vocab_size", "data.target_vocab_size")  # 4 entries are reserved
        self.check_at_least(1, "data.max_length", "model.embedding_dim", "model.encoder_units",
                            "model.encoder_layers", "model.units", "model.decoder_layers", "decoding.beam_width",
                            "decoding.max_length_cap", "decoding.batch_size", "decoding.max_beam_width")
        self.check_at_least(0, "decoding.max_length_a", "decoding.max_length_b", "evaluate_limit", "samples")
        self.check_fraction("model.dropout", "training.label_smoothing")
        if m.attention == "luong" and m.luong_score == "dot" and m.units != 2 * m.encoder_units:
            raise SpecError(self.source, "model.luong_score", f"'dot' needs model.units == 2 · model.encoder_units "
                            f"({2 * m.encoder_units}), received units = {m.units}")
        if dec.beam_width > dec.max_beam_width:
            raise SpecError(self.source, "decoding.beam_width",
                            f"must be ≤ decoding.max_beam_width ({dec.max_beam_width})")
