"""The next-item recommendation spec: an interaction log, a recurrent recommender, full ranking.

Example TOML (see ``pipelines/ml100k_next_item.toml``)::

    application = "recommendation"
    name = "ml100k_next_item"

    [data]
    path = "movielens/ml-100k/u.data.gz"   # user<TAB>item<TAB>rating<TAB>time
    max_history = 50

    [model]
    cell = "gru"
    units = 100
    loss = "softmax"                      # "softmax" | "sampled_softmax" | "bpr_max"

    [evaluation]
    split = "validation"                  # "test" only for the final figure
"""

from __future__ import annotations

import dataclasses

from seqkeras.pipeline.spec import JIT_COMPILE, PipelineSpec, SpecError, TrainingSpec, TuningSpec

LOSSES = ("softmax", "sampled_softmax", "bpr_max")
SPLITS = ("validation", "test")


@dataclasses.dataclass
class DataSpec:
    """The interaction log and the leave-last-out split.

    Each user's events are sorted by time with ties kept in file order (a stable
    sort): the last is the test item, the second-to-last the validation item, the
    rest the training sequence. Users with fewer than 3 events train only.
    """

    path: str = ""                     # the log, data-dir relative (plain or .gz)
    delimiter: str = "\t"
    header: bool = False
    user_column: int = 0
    item_column: int = 1
    time_column: int = 3
    max_history: int = 50              # the model reads at most the last this-many items
    shuffle_buffer: int = 10000


@dataclasses.dataclass
class ModelSpec:
    """Item embedding → recurrent stack → scores over every item."""

    cell: str = "gru"                  # a key of seqkeras.cells.CELLS, or "lstm:<variant>"
    cell_options: dict = dataclasses.field(default_factory=dict)
    units: int = 100
    layers: int = 1
    embedding_dim: int = 64
    tie_embeddings: bool = False       # scores use the item embedding (embedding_dim = units required)
    dropout: float = 0.2               # on the item embeddings and the top outputs
    recurrent_dropout: float = 0.0     # variational, on h_{t-1}
    loss: str = "softmax"              # "softmax" (full) | "sampled_softmax" (log-Q) | "bpr_max"
    negatives: int = 128               # sampled losses: negatives per batch (shared, popularity^alpha)
    sample_alpha: float = 0.75
    bpr_regularization: float = 1.0
    jit_compile: str = "auto"          # "auto" | "true" | "false" for the recurrent loops


@dataclasses.dataclass
class EvaluationSpec:
    """Full ranking over every catalogue item (never sampled negatives)."""

    split: str = "validation"          # "validation" | "test" (the final figure only)
    ks: list[int] = dataclasses.field(default_factory=lambda: [10, 20])
    exclude_history: bool = True       # never rank the items the user already has


@dataclasses.dataclass
class RecommendationTuningSpec(TuningSpec):
    # The full cross-entropy metric: comparable across trials whatever model.loss they train.
    objective: str = "val_cross_entropy"
    space: dict = dataclasses.field(default_factory=lambda: {
        "model.cell": ["gru", "lstm"],
        "model.units": [64, 128],
        "model.layers": [1, 2],
        "model.embedding_dim": [32, 64],
        "model.loss": ["softmax", "sampled_softmax", "bpr_max"],
        "model.dropout": [0.1, 0.3],
        "data.max_history": [20, 50],
        "training.learning_rate": {"min": 3e-4, "max": 3e-3, "sampling": "log"},
    })


@dataclasses.dataclass
class Spec(PipelineSpec):
    """A next-item recommendation pipeline. Requests are item ids, not tokens."""

    unsupported_keys = ("export.max_tokens",)

    application: str = "recommendation"
    data: DataSpec = dataclasses.field(default_factory=DataSpec)
    model: ModelSpec = dataclasses.field(default_factory=ModelSpec)
    evaluation: EvaluationSpec = dataclasses.field(default_factory=EvaluationSpec)
    training: TrainingSpec = dataclasses.field(default_factory=lambda: TrainingSpec(batch_size=64))
    tuning: RecommendationTuningSpec = dataclasses.field(default_factory=RecommendationTuningSpec)

    def validate(self) -> None:
        super().validate()
        d, m = self.data, self.model
        if not d.path:
            raise SpecError(self.source, "data.path", "missing: name the interaction log")
        self.check_choices([("model.loss", m.loss, LOSSES), ("evaluation.split", self.evaluation.split, SPLITS),
                            ("model.jit_compile", m.jit_compile, tuple(JIT_COMPILE))])
        self.check_cells("model.cell")
        self.check_fraction("model.dropout", "model.recurrent_dropout")
        self.check_at_least(1, "data.max_history", "model.units", "model.layers", "model.embedding_dim",
                            "model.negatives")
        self.check_at_least(0, "data.user_column", "data.item_column", "data.time_column", "data.shuffle_buffer",
                            "model.sample_alpha", "model.bpr_regularization")
        if len({d.user_column, d.item_column, d.time_column}) != 3:
            raise SpecError(self.source, "data.item_column", "the user, item and time columns must differ")
        if m.tie_embeddings and m.embedding_dim != m.units:
            raise SpecError(self.source, "model.tie_embeddings", f"tied scores need embedding_dim = units, "
                            f"received {m.embedding_dim} and {m.units}")
        if not self.evaluation.ks or any(k < 1 for k in self.evaluation.ks):
            raise SpecError(self.source, "evaluation.ks", f"must be cut-offs ≥ 1, received {self.evaluation.ks}")
