"""The language-model HyperModel: the generic spec HyperModel (any dotted key of the
spec is tunable, e.g. ``model.cell``, ``model.units``, ``model.layers``,
``model.dropout``, ``training.learning_rate``, ``training.clip_norm``).

LSTM variants are choices of ``model.cell`` written ``"lstm:<variant>"``::

    [tuning.space]
    "model.cell" = ["lstm", "lstm:cifg", "lstm:peephole", "gru", "ran", "elman"]
    "model.units" = {min = 128, max = 512, step = 128}
    "training.learning_rate" = {min = 1e-3, max = 1e-2, sampling = "log"}
    "training.clip_norm" = [1.0, 5.0]

Do not tune ``training.batch_size`` or ``training.bptt_length``: the data windows are
cut once, before the search.
"""

from __future__ import annotations

from seqkeras.pipeline.tuning import SpecHyperModel


class HyperModel(SpecHyperModel):
    """`SpecHyperModel` building `seqkeras.language_model.build_model` per trial."""
