"""`Data`: what an application's `build_data` hands to the shared machinery."""

from __future__ import annotations

import dataclasses
from typing import Any

import tensorflow as tf


@dataclasses.dataclass
class Data:
    """Datasets and preprocessing state of one pipeline run.

    Attributes:
        train: batches of ``(inputs, targets)`` for `keras.Model.fit` (finite, or
            repeated when the spec sets ``steps_per_epoch``).
        validation: batches for validation and evaluation, or None.
        tokenizer: the fitted tokenizer (with its vocabulary), if the task has one;
            the export step puts it in the graph.
        info: task-specific facts (sizes, counts) for the model builder and reports.
    """

    train: tf.data.Dataset
    validation: tf.data.Dataset | None = None
    tokenizer: Any = None
    info: dict = dataclasses.field(default_factory=dict)
