"""Skip-gram with negative sampling: two embedding matrices and a sparse SGD step.

For a target word ``w`` (a row of the target matrix W), a positive context ``c_pos``
and ``k`` negatives ``c_neg`` (rows of the context matrix C), the loss is::

    L = −[ log σ(c_pos·w) + Σ_i log σ(−c_neg_i·w) ]

and its gradients (the lecture notes' update equations)::

    ∂L/∂c_pos = (σ(c_pos·w) − 1) w      ∂L/∂c_neg = σ(c_neg·w) w
    ∂L/∂w     = (σ(c_pos·w) − 1) c_pos + Σ_i σ(c_neg_i·w) c_neg_i

`SkipGram.train_batch` applies them as SGD to the touched rows only (``scatter_add``
of `tf.IndexedSlices`): like word2vec, the updates of one batch are summed, not
averaged, and the learning rate α decays linearly with the words consumed
(`train.linear_learning_rate`). Summing is what sequential SGD does for a row hit a
few times; a row hit thousands of times in one batch (a very frequent word) takes the
proximal step ``α / (1 + α·S_row)`` instead (`SkipGram._proximal`), ``S_row`` the
summed curvature ``Σ σ(1−σ)‖y‖²`` of its terms.

Negatives are pooled per block of B consecutive targets (`BLOCK`): the pipeline draws
k per target, and every target of the block meets all k·B of them, each weighted
``n_t / B`` for a target with ``n_t`` positive pairs. In expectation that is word2vec's
k independent negatives per positive pair (the loss is the same sum over pairs), with
far less variance than reusing a target's own k negatives for all its pairs (weight
``n_t`` on k directions): on the 7.3 M-word benchmark corpus, 1 epoch, analogy accuracy
rose from 4.4 % to 10.7 % (`docs/word2vec.md`). Both the banded positive scores and the
pooled negative scores are small matrix products per block.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf


OUTPUTS = ("W", "W+C")
DAMPING = ("proximal", "none")
BLOCK = 32        # tokens per banded score matrix of the train step (≥ 2L)
# α₀ of the linear decay. word2vec's 0.025 suits its sequential updates; the summed,
# proximal batch step learns best at a larger α (1-epoch analogy accuracy on the
# benchmark corpus: 4.8 % at 0.025, 8.0 % at 0.05, 10.7 % at 0.1; docs/word2vec.md).
LEARNING_RATE = 0.1
MIN_LEARNING_RATE = LEARNING_RATE * 1e-4


class SkipGram(keras.Model):
    """SGNS model: target matrix ``W`` [V, D] and context matrix ``C`` [V, D].

    Calling the model on word ids returns their output vectors (``W`` or ``W + C``).

    Args:
        vocabulary_size: V, reserved ids included.
        dim: D, the vector size.
        output_vectors: ``"W"`` (word2vec's and gensim's choice) or ``"W+C"``.
        seed: initialisation seed; W ~ U(−0.5/D, 0.5/D), C = 0 as in word2vec.
        window: L, the pipeline's largest window (the step unrolls the 2L offsets).
        damping: ``"proximal"`` (default): each row's summed update is scaled by
            ``1 / (1 + α·S_row)`` (`_proximal`), which keeps very frequent words from
            diverging when a batch sums thousands of their updates; ``"none"``: plain
            summed SGD (for tests and tiny batches).
        jit_compile: compile the train step with XLA (fuses the 2L shifted blocks;
            batches are padded to a few shapes, each compiled once).

    Example:
        >>> model = SkipGram(10, 4)
        >>> model(tf.constant([2, 3])).shape
        TensorShape([2, 4])
    """

    def __init__(self, vocabulary_size: int, dim: int = 100, output_vectors: str = "W", seed: int = 0,
                 window: int = 5, damping: str = "proximal", jit_compile: bool = True, **kwargs):
        super().__init__(**kwargs)
        if vocabulary_size < 1 or dim < 1:
            raise ValueError(f"vocabulary_size and dim must be ≥ 1, received {vocabulary_size}, {dim}")
        if output_vectors not in OUTPUTS:
            raise ValueError(f"output_vectors must be one of {OUTPUTS}, received {output_vectors!r}")
        self.vocabulary_size, self.dim, self.output_vectors, self.seed = vocabulary_size, dim, output_vectors, seed
        self.use_jit = jit_compile
        self.window = window
        self._block = max(BLOCK, 2 * window)
        if damping not in DAMPING:
            raise ValueError(f"damping must be one of {DAMPING}, received {damping!r}")
        self.damping = damping
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
        self.initial_learning_rate = LEARNING_RATE
        self.min_learning_rate = MIN_LEARNING_RATE
        self.built = True                    # all weights exist now (BackupAndRestore checks)

    def configure_schedule(self, total_words: float, learning_rate: float = LEARNING_RATE,
                           min_learning_rate: float = MIN_LEARNING_RATE) -> None:
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
                "seed": self.seed, "window": self.window, "damping": self.damping,
                "jit_compile": self.use_jit, "name": self.name}

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
        """The sparse step: gather the touched rows, compute their summed gradients
        (`_row_gradients`) and scatter-add the damped updates, all in one XLA cluster
        when ``jit_compile`` (XLA's CPU scatter is ≈ 2.5× TensorFlow's kernel here)."""
        W, C = self.target_embeddings.value, self.context_embeddings.value
        w = tf.gather(W, targets)                                   # [T, D]
        c = tf.gather(C, targets)                                   # [T, D] each token as a context
        c_neg = tf.gather(C, negatives)                             # [T, k, D]
        dw, dc, curv_w, curv_c, loss, pairs = self._row_gradients(w, c, c_neg, targets, rows, windows, negatives)
        c_rows = tf.concat([targets, tf.reshape(negatives, [-1])], 0)
        W.scatter_add(tf.IndexedSlices(self._proximal(learning_rate, curv_w, targets) * dw, targets))
        C.scatter_add(tf.IndexedSlices(self._proximal(learning_rate, curv_c, c_rows) * dc, c_rows))
        return loss, pairs

    def _row_gradients(self, w, c, c_neg, targets, rows, windows, negatives):
        """Summed ascent directions (−∂L) for the gathered rows, and their curvatures.

        The context at offset o of token t is token t + o, so the positive pairs of a
        block of B consecutive tokens are a band of one small matrix product: the
        scores ``w_block · c_extᵀ`` [B, B + 2L] against the block's tokens and L more on
        each side, masked by `_band_mask` (same line, |o| ≤ the target's window). The
        gradients are two more products with the masked band; the context rows'
        gradients overlap between neighbouring blocks and are folded back (`_fold`).
        Besides each term's gradient ``g·y`` (``y`` the vector on the other side of
        the dot product), the step sums the term's curvature bound ``σ(1−σ)·‖y‖²`` into
        the row it updates, for the proximal step size of `_proximal`.

        Args:
            w, c: float32[T, D], ``W[targets]`` and ``C[targets]``.
            c_neg: float32[T, k, D], ``C[negatives]``.
            targets, rows, windows: int32[T]; negatives: int32[T, k] (see `data`).

        Returns:
            ``dw`` [T, D] (rows ``targets`` of W), ``dc`` [T + T·k, D] (rows ``targets``
            then ``negatives`` of C), their curvatures [T] and [T + T·k], the summed
            loss and the number of positive pairs.
        """
        L, B = self.window, self._block
        size = tf.shape(targets)[0]
        blocks = (size + B - 1) // B
        extra = blocks * B - size

        def by_block(x, fill=0):                                    # [T, …] → [n, B, …]
            x = tf.pad(x, [[0, extra]] + [[0, 0]] * (x.shape.rank - 1), constant_values=fill)
            return tf.reshape(x, tf.concat([[blocks, B], tf.shape(x)[1:]], 0))

        def extended(x, fill=0):                                    # [T, …] → [n, B + 2L, …]
            # block b's contexts are tokens bB − L … bB + B + L − 1
            x = tf.pad(x, [[L, B - L + extra]] + [[0, 0]] * (x.shape.rank - 1), constant_values=fill)
            shape = tf.concat([[blocks, B], tf.shape(x)[1:]], 0)
            return tf.concat([tf.reshape(x[:blocks * B], shape),
                              tf.reshape(x[B:], shape)[:, :2 * L]], 1)

        w_b, c_ext = by_block(w), extended(c)                       # [n, B, D], [n, B + 2L, D]
        mask = _band_mask(by_block(rows, -1), extended(rows, -2), by_block(windows), L)  # [n, B, B + 2L]
        score = tf.matmul(w_b, c_ext, transpose_b=True)
        p = tf.sigmoid(score)
        g = (1.0 - p) * mask                                        # −∂L/∂score
        h = p * (1.0 - p) * mask                                    # ∂²L/∂score²
        w_sq = tf.reduce_sum(w * w, -1)                             # ‖w_t‖²
        unblock = lambda x: tf.reshape(x, tf.concat([[blocks * B], tf.shape(x)[2:]], 0))[:size]
        dw = unblock(tf.matmul(g, c_ext))
        curv_w = unblock(tf.einsum("nij,nj->ni", h, extended(tf.reduce_sum(c * c, -1))))
        dc_ctx = _fold(tf.matmul(g, w_b, transpose_a=True), L, size)
        curv_ctx = _fold(tf.einsum("nij,ni->nj", h, by_block(w_sq)), L, size)
        loss = -tf.reduce_sum(tf.math.log_sigmoid(score) * mask)
        positives = unblock(tf.reduce_sum(mask, -1))                # n_t
        # negatives: each target meets the k·B negatives drawn for its block, each
        # weighted n_t / B (unbiased for k per positive pair; see the module docstring)
        k = c_neg.shape[1]
        neg_b = tf.reshape(by_block(negatives), [blocks, B * k])
        c_neg_b = tf.reshape(by_block(c_neg), [blocks, B * k, self.dim])
        # a negative equal to its target is skipped, as word2vec does; id 0 is padding
        valid = (neg_b[:, None, :] != by_block(targets)[:, :, None]) & (neg_b[:, None, :] > 0)
        weight = by_block(positives)[:, :, None] / B * tf.cast(valid, tf.float32)   # [n, B, B·k]
        neg_score = tf.matmul(w_b, c_neg_b, transpose_b=True)
        p_neg = tf.sigmoid(neg_score)
        g_neg = -p_neg * weight
        h_neg = p_neg * (1.0 - p_neg) * weight
        dw += unblock(tf.matmul(g_neg, c_neg_b))
        curv_w += unblock(tf.einsum("nij,nj->ni", h_neg, tf.reduce_sum(c_neg_b * c_neg_b, -1)))
        loss -= tf.reduce_sum(tf.math.log_sigmoid(-neg_score) * weight)
        dc_neg = tf.reshape(tf.matmul(g_neg, w_b, transpose_a=True), [-1, self.dim])[:size * k]
        curv_neg = tf.reshape(tf.einsum("nij,ni->nj", h_neg, by_block(w_sq)), [-1])[:size * k]
        dc = tf.concat([dc_ctx, dc_neg], 0)
        curv_c = tf.concat([curv_ctx, curv_neg], 0)
        return dw, dc, curv_w, curv_c, loss, tf.reduce_sum(positives)
        neg_scores = tf.einsum("td,tkd->tk", w, c_neg)
        # a negative equal to its target is skipped, as word2vec does
        neg_weight = positives[:, None] * tf.cast(negatives != targets[:, None], tf.float32)
        p_neg = tf.sigmoid(neg_scores)
        g_neg = -p_neg * neg_weight
        h_neg = p_neg * (1.0 - p_neg) * neg_weight
        dw += tf.einsum("tk,tkd->td", g_neg, c_neg)
        curv_w += tf.reduce_sum(h_neg * tf.reduce_sum(c_neg * c_neg, -1), -1)
        loss -= tf.reduce_sum(tf.math.log_sigmoid(-neg_scores) * neg_weight)
        dc = tf.concat([dc_ctx, tf.reshape(g_neg[:, :, None] * w[:, None, :], [-1, self.dim])], 0)
        curv_c = tf.concat([curv_ctx, tf.reshape(h_neg * w_sq[:, None], [-1])], 0)
        return dw, dc, curv_w, curv_c, loss, tf.reduce_sum(positives)

    def _proximal(self, learning_rate, curvature, rows):
        """Step size per update: ``α / (1 + α·S_row)``, ``S_row`` the row's summed
        curvature bound over the batch (`_train_batch`).

        This is the proximal (implicit) SGD step of the row's summed loss with its
        Hessian bounded by its trace ``S``: plain summed SGD (α) where ``α·S ≪ 1`` (rare
        words, small batches, late in training), and a step that cannot overshoot the
        row's minimum where thousands of terms of a frequent word are summed in one
        batch — what sequential SGD would reach by saturating — instead of diverging.
        ``damping="none"`` gives α everywhere (diverges on real corpora)."""
        if self.damping == "none":
            return learning_rate
        total = tf.math.unsorted_segment_sum(curvature, rows, self.vocabulary_size)
        return (learning_rate / (1.0 + learning_rate * tf.gather(total, rows)))[:, None]


def _band_mask(rows, rows_ext, windows, max_window):
    """Which scores of the banded block products are positive pairs.

    Args:
        rows: int32[n, B], the line of each target (−1: padding).
        rows_ext: int32[n, B + 2L], the line of each context candidate (tokens
            bB − L … bB + B + L − 1; −2 outside the batch).
        windows: int32[n, B], each target's window.
        max_window: L.

    Returns:
        float32[n, B, B + 2L]: 1 where candidate j is at offset ``o = j − i − L`` from
        target i with ``1 ≤ |o| ≤ windows[i]`` and both are in the same line.
    """
    B, width = rows.shape[1], rows_ext.shape[1]
    distance = tf.constant(np.abs(np.arange(width)[None, :] - np.arange(B)[:, None] - max_window), tf.int32)
    same_line = (rows[:, :, None] == rows_ext[:, None, :]) & (rows[:, :, None] >= 0)
    return tf.cast(same_line & (distance >= 1) & (distance <= windows[:, :, None]), tf.float32)


def _fold(extended, max_window, size):
    """Sum the per-block context terms [n, B + 2L, …] back onto the tokens [size, …]:
    entry (b, j) belongs to token ``bB + j − L``, so neighbouring blocks overlap."""
    L = max_window
    blocks, B = tf.shape(extended)[0], extended.shape[1] - 2 * L
    tail = [[0, 0]] * (extended.shape.rank - 2)
    flat = lambda x: tf.reshape(x, tf.concat([[blocks * B], tf.shape(x)[2:]], 0))
    head = flat(extended[:, :B])                                   # tokens bB − L … bB + B − L − 1
    rest = flat(tf.pad(extended[:, B:], [[0, 0], [0, B - 2 * L]] + tail))   # tokens bB + B − L …
    total = tf.pad(head, [[0, B]] + tail) + tf.pad(rest, [[B, 0]] + tail)
    return total[L: L + size]
