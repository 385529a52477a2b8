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
summed curvature ``Σ σ(1−σ)‖y‖²`` of its terms. The negatives of a target are shared
by its positive pairs (see `data`), so the negative term of a target with ``n``
positives is computed once and weighted by ``n``: the loss is the same sum over pairs.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from seqkeras.word2vec import data as w2v_data

OUTPUTS = ("W", "W+C")
DAMPING = ("proximal", "none")


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
        """The sparse step. The context at offset o of token t is token t + o, so
        positives are dense shifted blocks of ``C[targets]`` (no per-pair gathers).

        Besides each term's gradient ``g·y`` (``y`` the vector on the other side of the
        dot product), the step sums the term's curvature bound ``σ(1−σ)·‖y‖²`` into the
        row it updates, for the proximal step size of `_proximal`."""
        W, C = self.target_embeddings.value, self.context_embeddings.value
        L = self.window
        masks = w2v_data.window_masks(rows, windows, L)             # [2L, T]
        w = tf.gather(W, targets)                                   # [T, D]
        c = tf.gather(C, targets)                                   # [T, D] each token as a context
        w_sq = tf.reduce_sum(w * w, -1)                             # ‖w_t‖²
        c_pad = tf.pad(c, [[L, L], [0, 0]])
        c_sq_pad = tf.pad(tf.reduce_sum(c * c, -1), [[L, L]])
        size = tf.shape(targets)[0]
        dw = tf.zeros_like(w)
        dc_pad = tf.zeros_like(c_pad)
        curv_w = tf.zeros([size])                                   # Σ σ(1−σ)‖y‖² per token's W row
        curv_c_pad = tf.zeros([size + 2 * L])                       # … per token's C row
        loss = tf.constant(0.0)
        for i, offset in enumerate(w2v_data.offsets(L)):
            mask = masks[i]
            shift = [[L + offset, L - offset]]
            c_o = c_pad[L + offset: L + offset + size]              # context of t: token t + o
            score = tf.reduce_sum(w * c_o, -1)
            p = tf.sigmoid(score)
            g = (1.0 - p) * mask                                    # −∂L/∂score
            h = p * (1.0 - p) * mask                                # ∂²L/∂score²
            dw += g[:, None] * c_o
            dc_pad += tf.pad(g[:, None] * w, shift + [[0, 0]])
            curv_w += h * c_sq_pad[L + offset: L + offset + size]
            curv_c_pad += tf.pad(h * w_sq, shift)
            loss -= tf.reduce_sum(tf.math.log_sigmoid(score) * mask)
        positives = tf.reduce_sum(masks, 0)                         # n_t
        c_neg = tf.gather(C, negatives)                             # [T, k, D]
        neg_scores = tf.einsum("td,tkd->tk", w, c_neg)
        # a negative equal to its target is skipped, as word2vec does
        neg_weight = positives[:, None] * tf.cast(negatives != targets[:, None], tf.float32)
        p_neg = tf.sigmoid(neg_scores)
        g_neg = -p_neg * neg_weight
        h_neg = p_neg * (1.0 - p_neg) * neg_weight
        dw += tf.einsum("tk,tkd->td", g_neg, c_neg)
        curv_w += tf.reduce_sum(h_neg * tf.reduce_sum(c_neg * c_neg, -1), -1)
        loss -= tf.reduce_sum(tf.math.log_sigmoid(-neg_scores) * neg_weight)
        dc = tf.concat([dc_pad[L: L + size], tf.reshape(g_neg[:, :, None] * w[:, None, :], [-1, self.dim])], 0)
        c_rows = tf.concat([targets, tf.reshape(negatives, [-1])], 0)
        curv_c = tf.concat([curv_c_pad[L: L + size], tf.reshape(h_neg * w_sq[:, None], [-1])], 0)
        W.scatter_add(tf.IndexedSlices(self._proximal(learning_rate, curv_w, targets) * dw, targets))
        C.scatter_add(tf.IndexedSlices(self._proximal(learning_rate, curv_c, c_rows) * dc, c_rows))
        return loss, tf.reduce_sum(positives)

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
