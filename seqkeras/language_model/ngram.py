"""Unigram and bigram token models: the count-based baselines a recurrent LM must beat.

They are fitted on the same id stream as the recurrent model (same tokenizer, same
vocabulary of V ids), so their bits per character on the validation stream and their
samples compare directly. Smoothing (every id gets mass, so no validation token costs
infinitely many bits):

    unigram   p₁(c)     = (n(c) + 1) / (N + V)                    (Laplace, add-one)
    bigram    p₂(c | a) = (n(a c) + β·p₁(c)) / (n(a) + β)           (Dirichlet prior toward p₁)

n(c) counts id c in the training stream of N ids, n(a c) the pairs of consecutive ids,
n(a) = Σ_c n(a c), and β (`prior`) is the prior's weight in pseudo-counts: a context
seen far more than β times is its own counts, an unseen context is the unigram.

Example:
    >>> model = NGramModel(order=2, vocabulary_size=3).fit(np.array([1, 2, 1, 2]))
    >>> model.probabilities(context=1).round(3).tolist()
    [0.048, 0.143, 0.81]
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np


class NGramModel:
    """A unigram (``order=1``) or bigram (``order=2``) model over token ids ``[0, V)``.

    Args:
        order: 1 or 2.
        vocabulary_size: V.
        prior: β, the bigram's pseudo-counts of the unigram prior (> 0).
    """

    def __init__(self, order: int, vocabulary_size: int, prior: float = 1.0):
        if order not in (1, 2):
            raise ValueError(f"order must be 1 (unigram) or 2 (bigram), received {order!r}")
        if vocabulary_size < 1:
            raise ValueError(f"vocabulary_size must be ≥ 1, received {vocabulary_size!r}")
        if not prior > 0:
            raise ValueError(f"prior must be > 0, received {prior!r}")
        self.order, self.vocabulary_size, self.prior = order, int(vocabulary_size), float(prior)
        self.unigram: np.ndarray | None = None      # p₁, float64[V]
        self.table: np.ndarray | None = None        # p(c | a), float64[V, V] (rows all p₁ for order 1)

    def fit(self, ids: np.ndarray) -> "NGramModel":
        """Count the training stream ``int[N]`` (ids in ``[0, V)``); returns self."""
        ids = np.asarray(ids, np.int64).reshape(-1)
        V = self.vocabulary_size
        if ids.size and (ids.min() < 0 or ids.max() >= V):
            raise ValueError(f"ids must be in [0, {V}), found {ids.min()}..{ids.max()}")
        counts = np.bincount(ids, minlength=V).astype(np.float64)
        self.unigram = (counts + 1.0) / (counts.sum() + V)
        if self.order == 1:
            self.table = np.broadcast_to(self.unigram, (V, V))
            return self
        pairs = np.bincount(ids[:-1] * V + ids[1:], minlength=V * V).astype(np.float64).reshape(V, V)
        self.table = (pairs + self.prior * self.unigram) / (pairs.sum(1, keepdims=True) + self.prior)
        return self

    def _fitted(self) -> np.ndarray:
        if self.table is None:
            raise ValueError("the model is not fitted: call fit(ids) first")
        return self.table

    def probabilities(self, context: int | None = None) -> np.ndarray:
        """The next-id distribution float64[V] after id `context` (ignored by a unigram)."""
        table = self._fitted()
        return self.unigram.copy() if self.order == 1 or context is None else table[int(context)].copy()

    def log_likelihood(self, ids: np.ndarray) -> tuple[float, int]:
        """(Σ −ln p(ids[t] | ids[t−1]) over t ≥ 1, the count N − 1) of a stream ``int[N]``:
        every id but the first is predicted from the one before, as the recurrent LM's
        stream metric predicts each token from its past."""
        table = self._fitted()
        ids = np.asarray(ids, np.int64).reshape(-1)
        if ids.size < 2:
            return 0.0, 0
        return float(-np.log(table[ids[:-1], ids[1:]]).sum()), int(ids.size - 1)

    def bits_per_token(self, ids: np.ndarray) -> float:
        """Mean −log₂ p per predicted id of the stream (bits per character for a char model)."""
        total, count = self.log_likelihood(ids)
        return total / max(count, 1) / math.log(2.0)

    def sample(self, contexts: Sequence[int], length: int, temperature: float = 1.0,
               banned: Sequence[int] = (), seed: int = 0) -> np.ndarray:
        """Sample `length` ids after each row's last prompt id.

        Args:
            contexts: the last prompt id of each of B rows (the bigram's first context).
            length: ids to sample per row.
            temperature: p^(1/T), renormalised (> 0), as a softmax of logits / T.
            banned: ids never sampled (e.g. ``<pad>``, ``<unk>``).
            seed: NumPy seed.

        Returns:
            int64[B, length].
        """
        if not temperature > 0:
            raise ValueError(f"temperature must be > 0, received {temperature!r}")
        # p^(1/T) in log space, each row scaled by its largest entry: a small T does not underflow.
        logits = np.log(self._fitted()) / temperature
        weights = np.exp(logits - logits.max(1, keepdims=True))
        weights[:, list(banned)] = 0.0
        cumulative = np.cumsum(weights, axis=1)
        cumulative /= cumulative[:, -1:]
        rng = np.random.default_rng(seed)
        current = np.asarray(contexts, np.int64)
        out = np.empty((len(current), length), np.int64)
        for t in range(length):
            draws = 1.0 - rng.random(len(current))      # in (0, 1]: a zero-weight id is never drawn
            rows = cumulative[current]
            current = np.minimum((rows < draws[:, None]).sum(1), self.vocabulary_size - 1)
            out[:, t] = current
        return out
