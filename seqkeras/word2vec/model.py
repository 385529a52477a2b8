"""Skip-gram with negative sampling: two embedding matrices and a sparse SGD step.

For a target word ``w`` (a row of the target matrix W), a positive context ``c_pos``
and ``k`` negatives ``c_neg`` (rows of the context matrix C), the loss is::

    L = −[ log σ(c_pos·w) + Σ_i log σ(−c_neg_i·w) ]

and its gradients (the lecture notes' update equations)::

    ∂L/∂c_pos = (σ(c_pos·w) − 1) w      ∂L/∂c_neg = σ(c_neg·w) w
    ∂L/∂w     = (σ(c_pos·w) − 1) c_pos + Σ_i σ(c_neg_i·w) c_neg_i

`SkipGram.train_batch` applies them as plain SGD to the touched rows only
(``scatter_add`` of `tf.IndexedSlices`): like word2vec, the updates of one batch are
summed, not averaged, and the learning rate decays linearly with the words consumed
(`train.linear_learning_rate`). The negatives of a target are shared by its positive
pairs (see `data`), so the negative term of a target with ``n`` positives is computed
once and weighted by ``n``: the loss is the same sum over pairs.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from seqkeras.word2vec import data as w2v_data

OUTPUTS = ("W", "W+C")


class SkipGram(keras.Model):
    """SGNS model: target matrix ``W`` [V, D] and context matrix ``C`` [V, D].

    Calling the model on word ids returns their output vectors (``W`` or ``W + C``).

    Args:
        vocabulary_size: V, reserved ids included.
        dim: D, the vector size.
        output_vectors: ``"W"`` (word2vec's and gensim's choice) or ``"W+C"``.
        seed: initialisation seed; W ~ U(−0.5/D, 0.5/D), C = 0 as in word2vec.
        window: L, the pipeline's largest window (the step unrolls the 2L offsets).
        max_row_updates: M, the most summed gradient terms a row takes per batch at full
            rate (`_damping`); 0 disables the cap. Large batches need it: without it
            the summed updates of very frequent words diverge.
        jit_compile: compile the train step with XLA (fuses the 2L shifted blocks;
            batches are padded to a few shapes, each compiled once).

    Example:
        >>> model = SkipGram(10, 4)
        >>> model(tf.constant([2, 3])).shape
        TensorShape([2, 4])
    """

    def __init__(self, vocabulary_size: int, dim: int = 100, output_vectors: str = "W", seed: int = 0,
                 window: int = 5, max_row_updates: float = 64.0, jit_compile: bool = True, **kwargs):
        super().__init__(**kwargs)
        if vocabulary_size < 1 or dim < 1:
            raise ValueError(f"vocabulary_size and dim must be ≥ 1, received {vocabulary_size}, {dim}")
        if output_vectors not in OUTPUTS:
            raise ValueError(f"output_vectors must be one of {OUTPUTS}, received {output_vectors!r}")
        self.vocabulary_size, self.dim, self.output_vectors, self.seed = vocabulary_size, dim, output_vectors, seed
        self.use_jit = jit_compile
        self.window = window
        self.max_row_updates = float(max_row_updates or 0.0)
        rng = np.random.default_rng(seed)
        init_w = rng.uniform(-0.5 / dim, 0.5 / dim, (vocabulary_size, dim)).astype(np.float32)
        self.target_embeddings = self.add_weight(
            shape=(vocabulary_size, dim), initializer=keras.initializers.Constant(init_w), name="W")
        self.context_embeddings = self.add_weight(
            shape=(vocabulary_size, dim), initializer="zeros", name="C")
        self._step = tf.function(self._train_batch, jit_compile=jit_compile, reduce_retracing=True)
        # `fit` support: the linear decay needs the words consumed so far and in total
        self.words_done = self.add_weight(shape=(), initializer="zeros", trainable=False,
                                          dtype="float64", name="words_done")
        self.total_words = self.add_weight(shape=(), initializer="ones", trainable=False,
                                           dtype="float64", name="total_words")
        self.initial_learning_rate = 0.025
        self.min_learning_rate = 0.025 * 1e-4
        self.built = True                    # all weights exist now (BackupAndRestore checks)

    def configure_schedule(self, total_words: float, learning_rate: float = 0.025,
                           min_learning_rate: float = 0.025 * 1e-4) -> None:
        """Set the linear decay used by `train_step` (`fit`): over `total_words` raw words
        (words per epoch × epochs), from `learning_rate` down to `min_learning_rate`."""
        self.total_words.assign(float(max(total_words, 1)))
        self.initial_learning_rate, self.min_learning_rate = float(learning_rate), float(min_learning_rate)

    def train_step(self, batch):
        """`keras.Model.fit` step on a `data.skipgram_batches` element (plain SGD with
        word2vec's linear decay; the compiled optimizer is not used)."""
        progress = tf.cast(self.words_done / self.total_words, tf.float32)
        lr = tf.maximum(self.min_learning_rate, self.initial_learning_rate * (1.0 - progress))
        loss, pairs = self._step(batch["targets"], batch["rows"], batch["windows"], batch["negatives"], lr)
        self.words_done.assign_add(tf.cast(batch["words"], tf.float64))
        return {"loss": loss / tf.maximum(pairs, 1.0), "alpha": lr}

    def get_config(self):
        return {"vocabulary_size": self.vocabulary_size, "dim": self.dim, "output_vectors": self.output_vectors,
                "seed": self.seed, "window": self.window, "max_row_updates": self.max_row_updates, "jit_compile": self.use_jit, "name": self.name}

    def call(self, ids):
        vectors = tf.gather(self.target_embeddings, ids)
        if self.output_vectors == "W+C":
            vectors += tf.gather(self.context_embeddings, ids)
        return vectors

    def vectors(self) -> np.ndarray:
        """All output vectors as a NumPy array [V, D]."""
        w = self.target_embeddings.numpy()
        return w + self.context_embeddings.numpy() if self.output_vectors == "W+C" else w

    # ------------------------------------------------------------------ training
    def train_batch(self, batch: dict, learning_rate: float) -> tuple[tf.Tensor, tf.Tensor]:
        """One SGD step on a batch from `data.skipgram_batches`.

        Returns:
            (summed loss, number of positive pairs).
        """
        return self._step(batch["targets"], batch["rows"], batch["windows"], batch["negatives"],
                          tf.constant(learning_rate, tf.float32))

    def _train_batch(self, targets, rows, windows, negatives, learning_rate):
        """The sparse SGD step. The context at offset o of token t is token t + o, so
        positives are dense shifted blocks of ``C[targets]`` (no per-pair gathers)."""
        W, C = self.target_embeddings.value, self.context_embeddings.value
        L = self.window
        masks = w2v_data.window_masks(rows, windows, L)             # [2L, T]
        w = tf.gather(W, targets)                                   # [T, D]
        c = tf.gather(C, targets)                                   # [T, D] each token as a context
        c_pad = tf.pad(c, [[L, L], [0, 0]])
        size = tf.shape(targets)[0]
        dw = tf.zeros_like(w)
        dc_pad = tf.zeros_like(c_pad)
        loss = tf.constant(0.0)
        hits = tf.zeros([size + 2 * L])
        for i, offset in enumerate(w2v_data.offsets(L)):
            mask = masks[i]
            c_o = c_pad[L + offset: L + offset + size]              # context of t: token t + o
            score = tf.reduce_sum(w * c_o, -1)
            g = (1.0 - tf.sigmoid(score)) * mask                    # −∂L/∂score
            dw += g[:, None] * c_o
            update = tf.pad(g[:, None] * w, [[L + offset, L - offset], [0, 0]])
            dc_pad += update
            hits += tf.pad(mask, [[L + offset, L - offset]])
            loss -= tf.reduce_sum(tf.math.log_sigmoid(score) * mask)
        positives = tf.reduce_sum(masks, 0)                         # n_t
        c_neg = tf.gather(C, negatives)                             # [T, k, D]
        neg_scores = tf.einsum("td,tkd->tk", w, c_neg)
        # a negative equal to its target is skipped, as word2vec does
        neg_weight = positives[:, None] * tf.cast(negatives != targets[:, None], tf.float32)
        g_neg = -tf.sigmoid(neg_scores) * neg_weight
        dw += tf.einsum("tk,tkd->td", g_neg, c_neg)
        loss -= tf.reduce_sum(tf.math.log_sigmoid(-neg_scores) * neg_weight)
        dc = tf.concat([dc_pad[L: L + size], tf.reshape(g_neg[:, :, None] * w[:, None, :], [-1, self.dim])], 0)
        c_rows = tf.concat([targets, tf.reshape(negatives, [-1])], 0)
        c_hits = tf.concat([hits[L: L + size], tf.reshape(neg_weight, [-1])], 0)
        W.scatter_add(tf.IndexedSlices(learning_rate * self._damping(positives, targets) * dw, targets))
        C.scatter_add(tf.IndexedSlices(learning_rate * self._damping(c_hits, c_rows) * dc, c_rows))
        return loss, tf.reduce_sum(positives)

    def _damping(self, hits, rows):
        """Per-update factor ``min(1, M / h_row)``, ``h_row`` the row's gradient terms in
        the batch (``M = max_row_updates``): a row hit more than M times (a frequent
        word) moves by at most M summed terms, where sequential SGD would have
        saturated; every other row gets the plain sum."""
        if not self.max_row_updates:
            return tf.ones_like(hits)[:, None]
        total = tf.math.unsorted_segment_sum(hits, rows, self.vocabulary_size)
        return tf.minimum(1.0, self.max_row_updates / tf.maximum(tf.gather(total, rows), 1.0))[:, None]
