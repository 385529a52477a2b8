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
    kind = "rnn"                        # or "nnlm" (with context = n), "dilated_cnn"
    cell = "lstm"
    layers = 2
    units = 200

    [training]
    optimizer = "sgd"
    learning_rate = 1.0
    clip_norm = 5.0
    bptt_length = 35

The tuning space may name any dotted key (``"model.cell"`` with LSTM variants written
``"lstm:<variant>"``, ``"model.units"``, ``"training.learning_rate"``, ...) except the
``data`` keys, ``training.batch_size`` and ``training.bptt_length``: the windows are cut
once, before the search. Every shared key is honoured.
"""

from __future__ import annotations

import dataclasses

from seqkeras.data.sources.file_set import FileSet
from seqkeras.pipeline.spec import JIT_COMPILE, PipelineSpec, SpecError, TrainingSpec, TuningSpec

# The model kinds (`ModelSpec.kind`).
KINDS = ("rnn", "nnlm", "dilated_cnn")
# The model keys each kind reads, beyond those all kinds share.
KIND_KEYS = {
    "rnn": ("model.cell", "model.cell_options", "model.layer_dropout", "model.recurrent_dropout"),
    "nnlm": ("model.context",),
    "dilated_cnn": ("model.kernel_size", "model.dilation_cycle"),
}
# With data.train_ids = "auto", training corpora larger than this keep their ids on disk.
DISK_IDS_ABOVE_BYTES = 512 * 2**20
# Keys that shape the BPTT windows, which are cut once before a tuning search.
DATA_KEYS = ("training.batch_size", "training.bptt_length")


@dataclasses.dataclass
class DataSpec:
    """The corpus and how it becomes one token stream."""

    # A path (data-dir relative), glob, or package:NAME, one line per sentence or document;
    # "file.csv#column" reads that column of a CSV with a header ("imdb/train.csv.gz#text").
    train: str = "package:tinyshakespeare.txt.gz"
    validation: str = ""               # the same forms; "" = the last `validation_fraction` of the train lines
    validation_fraction: float = 0.1   # of the lines, or of the files with [data.files]
    # A directory of text files split by file (`seqkeras.data.sources.file_set`), instead
    # of train/validation: set files.root (then leave train and validation unset).
    files: FileSet = dataclasses.field(default_factory=FileSet)
    level: str = "char"                # "word" (perplexity) | "char" (bits per character)
    tokenizer: str = "character"       # "character" | "whitespace" | "treebank" (words, with punctuation
                                       # and clitics split off as PTB/SST are: "don't" → "do n't")
    newline: str = "eos"               # line end as: "eos" (<eos> token) | "char" ("\n" token) | "drop"
    lowercase: bool = False
    min_count: int = 1
    max_vocabulary: int = 0            # 0 = no limit (reserved tokens included)
    # Where the training ids live: "memory" (an array), "disk" (`seqkeras.data.id_file`,
    # in the run directory: memory stays constant in the corpus size), or "auto": disk
    # when the training files hold more than `DISK_IDS_ABOVE_BYTES`.
    train_ids: str = "auto"


@dataclasses.dataclass
class ModelSpec:
    """Embedding → the kind's sequence model → (tied) softmax.

    The kinds (`KINDS`): ``"rnn"``, stacked recurrent cells; ``"nnlm"``, the fixed-window
    feed-forward LM of Bengio et al. (2003); ``"dilated_cnn"``, a WaveNet-style causal
    dilated convolution stack. Every kind trains on the same BPTT windows, carrying its
    state across them, and shares evaluation, generation and export.
    """

    kind: str = "rnn"                  # "rnn" | "nnlm" | "dilated_cnn"
    cell: str = "lstm"                 # rnn: "lstm", "gru", "ran", "elman", "additive" or "lstm:<variant>"
    cell_options: dict = dataclasses.field(default_factory=dict)   # e.g. {variant = "cifg"}
    layers: int = 2                    # rnn: levels; nnlm: tanh hidden layers; dilated_cnn: gated layers
    units: int = 200                   # rnn: state size; nnlm: hidden width; dilated_cnn: channels
    context: int = 4                   # nnlm: n, the tokens each prediction reads (n − 1 carried)
    kernel_size: int = 2               # dilated_cnn: taps per layer; dilations 1, 2, 4, …
    dilation_cycle: int = 0            # dilated_cnn: restart the dilations at 1 after this many layers (0 = never)
    embedding_dim: int = 0             # 0 = units
    tie_embeddings: bool = False       # softmax weights = embedding matrix (Press & Wolf)
    dropout: float = 0.0               # Zaremba: on the embedding output and the top output
    layer_dropout: float = 0.0         # rnn: variational dropout on every level's input
    recurrent_dropout: float = 0.0     # rnn: variational dropout on h_{t-1} (Gal & Ghahramani)
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

    default_max_tokens = 2048          # prompts keep their last this-many tokens
    kind_keys = KIND_KEYS

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
        d = self.data
        self.check_choices([
            ("data.level", d.level, ("word", "char")),
            ("data.tokenizer", d.tokenizer, ("character", "whitespace", "treebank")),
            ("data.newline", d.newline, ("eos", "char", "drop")),
            ("data.train_ids", d.train_ids, ("auto", "memory", "disk")),
            ("model.softmax_precision", self.model.softmax_precision, ("float32", "bfloat16")),
            ("model.jit_compile", self.model.jit_compile, tuple(JIT_COMPILE)),
            ("model.kind", self.model.kind, KINDS),
        ])
        self.check_cells("model.cell")
        self.check_at_least(1, "model.context")
        self.check_at_least(2, "model.kernel_size")
        self.check_at_least(0, "model.dilation_cycle")
        if self.model.kind != "rnn":
            for key in ("layer_dropout", "recurrent_dropout"):
                if getattr(self.model, key):
                    raise SpecError(self.source, f"model.{key}", f"applies to model.kind = 'rnn' only, "
                                    f"not {self.model.kind!r}: set it to 0")
        self.check_fraction("model.dropout", "model.layer_dropout", "model.recurrent_dropout",
                            "data.validation_fraction")
        self.check_at_least(1, "model.layers", "model.units", "training.bptt_length")
        if d.newline == "char" and d.tokenizer != "character":
            raise SpecError(self.source, "data.newline", "'char' needs tokenizer = 'character'")
        if d.files.root:
            self.check_choices([("data.files.encoding_errors", d.files.encoding_errors, ("strict", "replace"))])
            if d.validation or d.train != DataSpec.train:
                raise SpecError(self.source, "data.files", "a file set replaces data.train and "
                                "data.validation (split by file): remove them")
            if d.validation_fraction == 0.0:
                raise SpecError(self.source, "data.validation_fraction", "a file set needs a fraction > 0")
        if not d.validation and d.validation_fraction == 0.0:
            raise SpecError(self.source, "data.validation", "give a validation file or validation_fraction > 0")
        for key in self.tuning.space:
            if key in DATA_KEYS or key.startswith("data."):
                raise SpecError(self.source, f"tuning.space.{key}",
                                "shapes the BPTT windows, which are cut once before the search: not tunable")
