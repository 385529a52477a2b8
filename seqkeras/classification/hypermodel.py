"""The classification HyperModel: the generic spec HyperModel (any dotted key is tunable).

The default search space (`ClassificationTuningSpec`, objective ``val_accuracy``)::

    [tuning.space]
    "model.cell" = ["lstm", "gru"]                  # also "lstm:cifg", "ran", "elman", ...
    "model.units" = [64, 128]
    "model.layers" = [1, 2]
    "model.dropout" = [0.2, 0.4]
    "model.pooling" = ["final", "max", "attention"]
    "training.learning_rate" = {min = 3e-4, max = 3e-3, sampling = "log"}

Do not tune ``data.*`` or ``training.batch_size``: the batches are built once, before
the search.
"""

from __future__ import annotations

from seqkeras.pipeline.tuning import SpecHyperModel


class HyperModel(SpecHyperModel):
    """`SpecHyperModel` building `seqkeras.classification.build_model` per trial."""
