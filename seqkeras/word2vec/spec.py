"""The word2vec pipeline spec: corpus, sampling, model, training, evaluation, export.

Example TOML (``pipelines/word2vec.toml``)::

    application = "word2vec"
    name = "word2vec"

    [data]
    sources = ["imdb/train.csv.gz#text", "ptb/ptb.train.txt.gz"]   # `path#column`: a CSV column
    standardize = "words"
    min_count = 5

    [model]
    dim = 100
    window = 5
    negatives = 5

    [training]
    epochs = 5
    learning_rate = 0.1
"""

from __future__ import annotations

import dataclasses

from seqkeras.pipeline.spec import PipelineSpec, SpecError, TrainingSpec, TuningSpec
from seqkeras.word2vec.data import STANDARDIZE
from seqkeras.word2vec.model import DAMPING, LEARNING_RATE, MIN_LEARNING_RATE, OUTPUTS


@dataclasses.dataclass
class DataSpec:
    """The corpus: text sources, standardization, vocabulary."""

    sources: list = dataclasses.field(default_factory=lambda: ["ptb/ptb.train.txt.gz"])
    standardize: str = "words"         # "none" | "lower" | "words" (lower, no <br />, letters/digits/') | "treebank"
    min_count: int = 5                 # words seen fewer times are dropped before windowing
    max_vocabulary: int = 0            # 0 = no limit (the 2 reserved ids included)
    batch_words: int = 2048            # targets (words kept by subsampling) per training batch


@dataclasses.dataclass
class ModelSpec:
    """Skip-gram with negative sampling."""

    dim: int = 100                     # D
    window: int = 5                    # L; each target draws its window from U{1..L}
    negatives: int = 5                 # k per positive pair, from unigram^ns_exponent
    ns_exponent: float = 0.75
    sample: float = 1e-3               # frequent-word subsampling threshold; 0 = off
    output: str = "W"                  # "W" | "W+C": the exported vectors
    damping: str = "proximal"          # "proximal" | "none": step of rows hit many times per batch (model.py)
    jit_compile: bool = True


@dataclasses.dataclass
class W2VTrainingSpec(TrainingSpec):
    """word2vec's plain SGD with linear learning-rate decay over all epochs."""

    optimizer: str = "sgd"             # the SkipGram step is plain SGD: no other optimizer
    learning_rate: float = LEARNING_RATE         # α₀, decayed linearly to min_learning_rate
    min_learning_rate: float = MIN_LEARNING_RATE
    epochs: int = 5


@dataclasses.dataclass
class EvaluationSpec:
    """Intrinsic evaluation files (data-dir relative) and options."""

    analogies: str = "word_eval/questions-words.txt"
    word_pairs: str = "word_eval/wordsim353.tsv"
    restrict_vocab: int = 30000        # as word2vec's compute-accuracy
    case_insensitive: bool = True
    cosmul: bool = False               # also report 3CosMul
    clusters: int = 0                  # >0: k-means report over the top `cluster_words` words
    cluster_words: int = 1000
    weat: bool = False                 # also WEAT effect sizes, p-values and the he:she probe (bias.py)
    weat_min_words: int = 5            # a WEAT test runs when each of its lists keeps this many words
    vectors_text: str = ""             # also write word2vec text / binary files here ("" = no)
    vectors_binary: str = ""


# What `SkipGram.fit` logs per epoch: the only possible tuning objectives (no validation split).
FIT_METRICS = ("loss",)


@dataclasses.dataclass
class Spec(PipelineSpec):
    """A word2vec pipeline."""

    # The SkipGram step is its own sparse SGD with linear decay over whole passes of the
    # corpus: no optimizer, clipping, schedule or precision choice, batches sized by
    # data.batch_words, no validation split (so no early stopping or validation steps),
    # and an epoch is always the whole corpus (a finite stream). The export looks up
    # any number of words.
    unsupported_keys = ("training.optimizer", "training.momentum", "training.weight_decay",
                        "training.clip_norm", "training.schedule", "training.batch_size",
                        "training.steps_per_epoch", "training.validation_steps", "training.precision",
                        "training.early_stopping", "tuning.steps_per_epoch", "tuning.validation_steps",
                        "export.max_tokens")

    application: str = "word2vec"
    data: DataSpec = dataclasses.field(default_factory=DataSpec)
    model: ModelSpec = dataclasses.field(default_factory=ModelSpec)
    training: W2VTrainingSpec = dataclasses.field(default_factory=W2VTrainingSpec)
    tuning: TuningSpec = dataclasses.field(default_factory=lambda: TuningSpec(objective="loss", epochs=1))
    evaluation: EvaluationSpec = dataclasses.field(default_factory=EvaluationSpec)

    def validate(self) -> None:
        super().validate()
        d, m = self.data, self.model
        self.check_choices([("data.standardize", d.standardize, STANDARDIZE), ("model.output", m.output, OUTPUTS),
                            ("model.damping", m.damping, DAMPING),
                            ("tuning.objective", self.tuning.objective, FIT_METRICS)])
        if not d.sources or not all(isinstance(s, str) and s for s in d.sources):
            raise SpecError(self.source, "data.sources",
                            f"must be a non-empty list of file names, received {d.sources!r}")
        self.check_at_least(1, "data.min_count", "data.batch_words", "model.dim", "model.window", "model.negatives")
        self.check_at_least(0, "model.sample")
        self.check_at_least(2, "evaluation.weat_min_words")
