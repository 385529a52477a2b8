"""The adding problem (Hochreiter & Schmidhuber, 1997)."""

import numpy as np

from seqkeras.tasks.base import LongRangeTask, check_lag

TOLERANCE = 0.04  # Hochreiter & Schmidhuber's success criterion |ŷ − y| < 0.04


class AddingProblem(LongRangeTask):
    """Sum the two marked numbers of a sequence.

    Inputs [B, T, 2]: column 0 holds numbers u ~ U(0, 1), column 1 is 1 at exactly
    two steps (one in the first half, one in the second) and 0 elsewhere. Target
    [B, 1]: the sum of the two marked numbers. `lag` is the sequence length T, so
    the first marked number lies more than T/2 steps before the read-out.

    Score: R² = 1 − MSE / Var(y) (0 for the best memoryless answer 1.0, whose MSE
    is 1/6); `accuracy` is the fraction within 0.04 of the target.

    Example:
        >>> x, y = AddingProblem().sample(10, 4, np.random.default_rng(0))
        >>> x.shape, y.shape
        ((4, 10, 2), (4, 1))
    """

    name = "adding"
    kind = "regression"
    features = 2
    chance = 0.0
    variance = 1.0 / 6.0

    def sequence_length(self, lag):
        return lag

    def sample(self, lag, count, rng):
        check_lag(lag, minimum=2)
        values = rng.uniform(0.0, 1.0, size=(count, lag)).astype("float32")
        half = lag // 2
        first = rng.integers(0, half, size=count)
        second = rng.integers(half, lag, size=count)
        markers = np.zeros((count, lag), "float32")
        rows = np.arange(count)
        markers[rows, first] = 1.0
        markers[rows, second] = 1.0
        x = np.stack([values, markers], axis=-1)
        y = (values[rows, first] + values[rows, second])[:, None].astype("float32")
        return x, y

    def score(self, y_true, y_pred):
        mse = float(np.mean((np.asarray(y_pred).reshape(-1) - np.asarray(y_true).reshape(-1)) ** 2))
        return max(0.0, 1.0 - mse / self.variance)

    def accuracy(self, y_true, y_pred):
        error = np.abs(np.asarray(y_pred).reshape(-1) - np.asarray(y_true).reshape(-1))
        return float(np.mean(error < TOLERANCE))
