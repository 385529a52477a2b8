"""`Data`: what an application's `build_data` hands to the shared machinery."""

from __future__ import annotations

import dataclasses

import tensorflow as tf


@dataclasses.dataclass(kw_only=True)
class Data:
    """The datasets of one pipeline run; an application subclasses it to add its own
    typed facts (vocabularies, sizes) that its model builder, evaluation and export read.

    Attributes:
        train: batches for `keras.Model.fit` (finite, or repeated when the spec sets
            ``steps_per_epoch``).
        validation: batches for validation and evaluation, or None.
    """

    train: tf.data.Dataset
    validation: tf.data.Dataset | None = None

    def summary(self) -> dict[str, int | float | str | bool]:
        """The scalar facts (sizes, counts, names) for the run report."""
        return {field.name: getattr(self, field.name) for field in dataclasses.fields(self)
                if isinstance(getattr(self, field.name), (int, float, str, bool))}
