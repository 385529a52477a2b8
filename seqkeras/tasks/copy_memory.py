"""The copy-memory task (Hochreiter & Schmidhuber, 1997; Arjovsky et al., 2016)."""

import numpy as np

from seqkeras.tasks.base import LongRangeTask, check_lag


class CopyMemory(LongRangeTask):
    """Remember `length` symbols across `lag` blanks, then recall them in order.

    Tokens: 0 blank, 1..symbols the symbols, symbols + 1 the delimiter. Input [B, T]
    with T = length + lag + length: the symbols, `lag` blanks, the delimiter, then
    `length − 1` blanks. Target [B, length]: the symbols (class ids 0..symbols−1),
    to be emitted at the last `length` steps. Every symbol is recalled
    `lag + length` steps after it was seen.

    Score: per-symbol accuracy over the recalled positions (chance 1/symbols).

    Example:
        >>> x, y = CopyMemory(length=3, symbols=4).sample(5, 2, np.random.default_rng(0))
        >>> x.shape, y.shape
        ((2, 11), (2, 3))
    """

    name = "copy_memory"
    kind = "sequence_classes"

    def __init__(self, length=3, symbols=6):
        check_lag(length)
        check_lag(symbols, minimum=2)
        self.length = length
        self.symbols = symbols
        self.classes = symbols
        self.answer_steps = length
        self.chance = 1.0 / symbols
        self.vocabulary_size = symbols + 2
        self.delimiter = symbols + 1

    def sequence_length(self, lag):
        return 2 * self.length + lag

    def sample(self, lag, count, rng):
        check_lag(lag)
        labels = rng.integers(0, self.symbols, size=(count, self.length))
        x = np.zeros((count, self.sequence_length(lag)), "int32")
        x[:, : self.length] = labels + 1
        x[:, self.length + lag] = self.delimiter
        return x, labels.astype("int32")

    def score(self, y_true, y_pred):
        predicted = np.argmax(np.asarray(y_pred), axis=-1)
        return float(np.mean(predicted == np.asarray(y_true)))
