"""The translation HyperModel: the generic spec HyperModel (every dotted key of the
spec is tunable). The issue's search space — cell type, attention type, units,
layers, dropout, learning rate (and output/embedding tying) — is `seqkeras.translation.spec.MTTuningSpec`'s
default::

    [tuning.space]
    "model.cell" = ["gru", "lstm"]
    "model.attention" = ["luong", "bahdanau", "none"]
    "model.units" = [256, 512]
    "model.encoder_layers" = [1, 2]
    "model.dropout" = [0.1, 0.3, 0.4]
    "model.tie_embeddings" = [true, false]
    "training.learning_rate" = {min = 5e-4, max = 3e-3, sampling = "log"}

Do not tune the data keys (vocabulary sizes, batch size): the subword vocabularies
and batches are built once, before the search.
"""

from __future__ import annotations

from seqkeras.pipeline.tuning import SpecHyperModel


class HyperModel(SpecHyperModel):
    """`SpecHyperModel` building `seqkeras.translation.build_model` per trial."""
