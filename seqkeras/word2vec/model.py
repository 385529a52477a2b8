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
        window: L, the pipeline's largest window (a block's scores reach L tokens
            either side).
        damping: ``"proximal"`` (default): each row's summed update is scaled by
            ``1 / (1 + α·S_row)`` (`_proximal`), which keeps very frequent words from
            diverging when a batch sums thousands of their updates; ``"none"``: plain
            summed SGD (for tests and tiny batches).
        jit_compile: compile the whole train step with XLA (batches have one shape,
            so it compiles once).

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
        # words/s in `fit`'s progress bar: raw words since the timer started (`reset_speed`)
        self.timer_words = self.add_weight(shape=(), initializer="zeros", trainable=False,
                                           dtype="float64", name="timer_words")
        self.timer_start = self.add_weight(shape=(), initializer=keras.initializers.Constant(-1.0),
                                           trainable=False, dtype="float64", name="timer_start")
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
        self.timer_start.assign(tf.where(self.timer_start < 0, tf.timestamp(), self.timer_start))
        loss, pairs = self._step(batch["targets"], batch["rows"], batch["windows"], batch["negatives"], lr)
        words = tf.cast(batch["words"], tf.float64)
        self.words_done.assign_add(words)
        self.timer_words.assign_add(words)
        with tf.control_dependencies([loss]):
            seconds = tf.timestamp() - self.timer_start
        return {"loss": loss / tf.maximum(pairs, 1.0), "alpha": lr,
                "words/s": tf.cast(self.timer_words / tf.maximum(seconds, 1e-6), tf.float32)}

    def reset_speed(self) -> None:
        """Restart the words/s shown by `fit` (the pipeline does it at each epoch)."""
        self.timer_words.assign(0.0)
        self.timer_start.assign(-1.0)

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

        Works on blocks of B consecutive tokens (`_Blocks`). The context at offset o of
        token t is token t + o, so a block's positive pairs are a band of one small
        matrix product (`_positive_terms`); its negatives are the k·B drawn for its
        targets (`_negative_terms`). Besides each term's gradient ``g·y`` (``y`` the
        vector on the other side of the dot product), the step sums the term's
        curvature bound ``σ(1−σ)·‖y‖²`` into the row it updates, for `_proximal`.

        Args:
            w, c: float32[T, D], ``W[targets]`` and ``C[targets]``.
            c_neg: float32[T, k, D], ``C[negatives]``.
            targets, rows, windows: int32[T]; negatives: int32[T, k] (see `data`).

        Returns:
            ``dw`` [T, D] (rows ``targets`` of W), ``dc`` [T + T·k, D] (rows ``targets``
            then ``negatives`` of C), their curvatures [T] and [T + T·k], the summed
            loss and the number of positive pairs.
        """
        blocks = _Blocks(tf.shape(targets)[0], self._block, self.window)
        w_b, w_sq = blocks.split(w), blocks.split(tf.reduce_sum(w * w, -1))    # [n, B, D], [n, B]
        dw, curv_w, dc_ctx, curv_ctx, loss, positives = _positive_terms(blocks, w_b, w_sq, c, rows, windows)
        neg = _negative_terms(blocks, w_b, w_sq, c_neg, targets, negatives, positives)   # positives [n, B]
        dw_neg, curv_w_neg, dc_neg, curv_neg, loss_neg = neg
        return (dw + dw_neg, tf.concat([dc_ctx, dc_neg], 0), curv_w + curv_w_neg,
                tf.concat([curv_ctx, curv_neg], 0), loss + loss_neg, tf.reduce_sum(positives))

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


class _Blocks:
    """Views of per-token tensors [T, …] as blocks of B consecutive tokens.

    Block b holds tokens bB … bB + B − 1 (the last block padded); its *extended* view
    adds the L tokens on each side, bB − L … bB + B + L − 1, the contexts its targets
    can reach."""

    def __init__(self, size, block: int, window: int):
        self.size, self.B, self.L = size, block, window
        self.count = (size + block - 1) // block
        self.extra = self.count * block - size

    def _shape(self, x, width):
        return tf.concat([[self.count, width], tf.shape(x)[1:]], 0)

    def split(self, x, fill=0):
        """[T, …] → [n, B, …]."""
        x = tf.pad(x, [[0, self.extra]] + [[0, 0]] * (x.shape.rank - 1), constant_values=fill)
        return tf.reshape(x, self._shape(x, self.B))

    def extended(self, x, fill=0):
        """[T, …] → [n, B + 2L, …] (`fill` outside the batch)."""
        B, L = self.B, self.L
        x = tf.pad(x, [[L, B - L + self.extra]] + [[0, 0]] * (x.shape.rank - 1), constant_values=fill)
        shape = self._shape(x, B)
        return tf.concat([tf.reshape(x[:self.count * B], shape), tf.reshape(x[B:], shape)[:, :2 * L]], 1)

    def join(self, x):
        """[n, B, …] → [T, …]."""
        return tf.reshape(x, tf.concat([[self.count * self.B], tf.shape(x)[2:]], 0))[:self.size]

    def fold(self, x):
        """[n, B + 2L, …] → [T, …], summing the entries neighbouring blocks share."""
        B, L = self.B, self.L
        tail = [[0, 0]] * (x.shape.rank - 2)
        flat = lambda y: tf.reshape(y, tf.concat([[self.count * B], tf.shape(y)[2:]], 0))  # noqa: E731
        head = flat(x[:, :B])                                       # tokens bB − L … bB + B − L − 1
        rest = flat(tf.pad(x[:, B:], [[0, 0], [0, B - 2 * L]] + tail))     # tokens bB + B − L …
        total = tf.pad(head, [[0, B]] + tail) + tf.pad(rest, [[B, 0]] + tail)
        return total[L: L + self.size]


def _positive_terms(blocks: _Blocks, w_b, w_sq, c, rows, windows):
    """The positive pairs of every block from one banded product ``w_b · c_extᵀ``.

    Args:
        blocks: the batch's `_Blocks`.
        w_b: float32[n, B, D] target vectors; w_sq: float32[n, B] their squared norms.
        c: float32[T, D], every token's context vector.
        rows, windows: int32[T] (see `data`).

    Returns:
        dw [T, D], its curvature [T], dc [T, D] (rows of the tokens as contexts), its
        curvature [T], the summed loss, and each target's positive pairs n_t [n, B].
    """
    c_ext = blocks.extended(c)                                      # [n, B + 2L, D]
    mask = _band_mask(blocks.split(rows, -1), blocks.extended(rows, -2), blocks.split(windows), blocks.L)
    score = tf.matmul(w_b, c_ext, transpose_b=True)                 # [n, B, B + 2L]
    p = tf.sigmoid(score)
    g = (1.0 - p) * mask                                            # −∂L/∂score
    h = p * (1.0 - p) * mask                                        # ∂²L/∂score²
    dw = blocks.join(tf.matmul(g, c_ext))
    curv_w = blocks.join(tf.einsum("nij,nj->ni", h, blocks.extended(tf.reduce_sum(c * c, -1))))
    dc = blocks.fold(tf.matmul(g, w_b, transpose_a=True))
    curv_c = blocks.fold(tf.einsum("nij,ni->nj", h, w_sq))
    loss = -tf.reduce_sum(tf.math.log_sigmoid(score) * mask)
    return dw, curv_w, dc, curv_c, loss, tf.reduce_sum(mask, -1)


def _negative_terms(blocks: _Blocks, w_b, w_sq, c_neg, targets, negatives, positives):
    """Each target meets the k·B negatives drawn for its block, each weighted n_t / B
    (unbiased for k per positive pair: see the module docstring); a negative equal to
    its target is skipped, as word2vec does, and id 0 is padding.

    Args:
        blocks, w_b, w_sq: as `_positive_terms`.
        c_neg: float32[T, k, D]; targets: int32[T]; negatives: int32[T, k].
        positives: float32[n, B], n_t (from `_positive_terms`).

    Returns:
        dw [T, D], its curvature [T], dc [T·k, D] (rows ``negatives``), its curvature
        [T·k], the summed loss.
    """
    n, B, k, size = blocks.count, blocks.B, c_neg.shape[1], blocks.size
    neg = tf.reshape(blocks.split(negatives), [n, B * k])
    c_b = tf.reshape(blocks.split(c_neg), [n, B * k, -1])
    valid = (neg[:, None, :] != blocks.split(targets)[:, :, None]) & (neg[:, None, :] > 0)
    weight = positives[:, :, None] / B * tf.cast(valid, tf.float32)   # [n, B, B·k]
    score = tf.matmul(w_b, c_b, transpose_b=True)
    p = tf.sigmoid(score)
    g = -p * weight
    h = p * (1.0 - p) * weight
    dw = blocks.join(tf.matmul(g, c_b))
    curv_w = blocks.join(tf.einsum("nij,nj->ni", h, tf.reduce_sum(c_b * c_b, -1)))
    dc = tf.reshape(tf.matmul(g, w_b, transpose_a=True), [n * B * k, -1])[:size * k]
    curv_c = tf.reshape(tf.einsum("nij,ni->nj", h, w_sq), [-1])[:size * k]
    loss = -tf.reduce_sum(tf.math.log_sigmoid(-score) * weight)
    return dw, curv_w, dc, curv_c, loss


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
