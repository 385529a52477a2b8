"""The contract of a long-range dependency task: samples with a lag, as tf.data."""

import dataclasses

import numpy as np
import tensorflow as tf


def check_lag(lag, minimum=1):
    if isinstance(lag, bool) or not isinstance(lag, (int, np.integer)) or lag < minimum:
        raise ValueError(
            f"Received an invalid value for argument `lag`, expected an integer "
            f">= {minimum}, received lag={lag!r}"
        )


@dataclasses.dataclass
class LongRangeTask:
    """Base class: a task whose answer depends on an input `lag` steps back.

    Subclasses implement `sample(lag, count, rng) -> (x, y)` (NumPy) and describe
    their output: `kind` is "regression" (y [B, 1]), "classes" (y [B] int, `classes`
    outputs) or "sequence_classes" (y [B, answer_steps] int).
    """

    name = "task"
    kind = "regression"
    classes = 1
    answer_steps = 1
    chance = 0.0
    vocabulary_size = None  # token inputs when set; float features otherwise
    features = None

    def sequence_length(self, lag):
        raise NotImplementedError

    def sample(self, lag, count, rng):
        raise NotImplementedError

    def dataset(self, lag, batch_size=32, seed=0, batches=None):
        """An endless (or `batches`-long) tf.data stream of fresh (x, y) batches.

        Every batch is new data from a NumPy generator seeded with `seed`, so the
        stream is reproducible and there is no fixed training set to memorise.
        """
        check_lag(lag)
        x, y = self.sample(lag, 1, np.random.default_rng(0))
        signature = (
            tf.TensorSpec((None,) + x.shape[1:], tf.as_dtype(x.dtype)),
            tf.TensorSpec((None,) + y.shape[1:], tf.as_dtype(y.dtype)),
        )

        def generate():
            rng = np.random.default_rng(seed)
            count = 0
            while batches is None or count < batches:
                yield self.sample(lag, batch_size, rng)
                count += 1

        dataset = tf.data.Dataset.from_generator(generate, output_signature=signature)
        return dataset.prefetch(tf.data.AUTOTUNE)

    def arrays(self, lag, count, seed=0):
        """A fixed evaluation set (x, y) of `count` examples."""
        check_lag(lag)
        return self.sample(lag, count, np.random.default_rng(seed))

    def score(self, y_true, y_pred):
        """Task score in [0, 1] (see subclasses); `chance` is the no-memory baseline."""
        raise NotImplementedError
