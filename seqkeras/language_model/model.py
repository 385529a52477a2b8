"""The language model: Embedding → StackedRecurrent(cells) → (tied) softmax logits.

    ids int[B, T] ─ "embedding" ─ Dropout ─ "recurrent" (StackedRecurrent, stateful,
    return_sequences) ─ Dropout ─ "logits" → float32[B, T, V]

Layer names are a contract with `seqkeras.language_model.server`: ``"embedding"``
(`keras.layers.Embedding`), ``"recurrent"`` (`seqkeras.layers.StackedRecurrent`; its
``.levels[i].cell`` are the cells) and ``"logits"`` (`Logits`, callable on
``[B, units]`` or ``[B, T, units]``).

Dropout follows Zaremba et al. (2014) on the non-recurrent connections (`dropout`, a
new mask every step) and optionally Gal & Ghahramani's variational dropout
(`layer_dropout` on every level's input, `recurrent_dropout` on h_{t-1}, one mask per
sequence). Truncated BPTT: the recurrent stack is stateful, so row b of batch i+1
continues row b of batch i; `reset_states` zeroes the carried state (each epoch and
before every evaluation: `ResetStates`).
"""

from __future__ import annotations

import math

import keras
import tensorflow as tf

from seqkeras.encoders import make_cell  # noqa: F401  (re-exported: it lived here first)
from seqkeras.layers import StackedRecurrent
from seqkeras.layers.logits import Logits  # noqa: F401  (re-exported: it lived here first)


class LanguageModel(keras.Model):
    """The functional language model, optionally trained with a sampled softmax.

    With ``sampled_softmax=k > 0``, `train_step` never forms the full [B·T, V] logits:
    the loss is `tf.nn.sampled_softmax_loss` over the true token and k candidates from
    a log-uniform (Zipfian) sampler (Jean et al. 2015) — the vocabulary is sorted by
    frequency, as that sampler assumes. Evaluation, prediction and export use the
    exact full softmax. With ``sampled_softmax=0`` it is an ordinary functional model.
    """

    def __init__(self, inputs, outputs, sampled_softmax: int = 0, **kwargs):
        super().__init__(inputs, outputs, **kwargs)
        self.sampled_softmax = int(sampled_softmax)
        if self.sampled_softmax:
            hidden = self.get_layer("logits").input
            # Not tracked: it shares every layer (and variable) with this model.
            object.__setattr__(self, "_hidden_model", keras.Model(inputs, hidden))

    def train_step(self, data):
        if not self.sampled_softmax:
            return super().train_step(data)
        inputs, targets = data[0], data[1]
        logits_layer = self.get_layer("logits")
        with tf.GradientTape() as tape:
            hidden = self._hidden_model(inputs, training=True)
            weights, bias, flat = logits_layer.output_weights(hidden)
            labels = tf.reshape(tf.cast(targets, tf.int64), [-1, 1])
            losses = tf.nn.sampled_softmax_loss(weights, bias, labels, flat, self.sampled_softmax,
                                                logits_layer.vocabulary_size)
            loss = tf.reduce_mean(losses)
        variables = self.trainable_variables
        self.optimizer.apply(tape.gradient(loss, variables), variables)
        self._loss_tracker.update_state(loss)
        return {"loss": self._loss_tracker.result()}


def build_language_model(vocabulary_size: int, batch_size: int | None = None, cell: str = "lstm",
                         cell_options: dict | None = None, layers: int = 2, units: int = 200,
                         embedding_dim: int = 0, tie_embeddings: bool = False, dropout: float = 0.0,
                         layer_dropout: float = 0.0, recurrent_dropout: float = 0.0,
                         init_scale: float = 0.0, softmax_precision: str = "float32",
                         stateful: bool = True, jit_compile="auto", sampled_softmax: int = 0,
                         name: str = "language_model") -> keras.Model:
    """Build (not compile) the language model.

    Args:
        vocabulary_size: V, rows of the embedding and columns of the logits.
        batch_size: the fixed batch size B (needed when `stateful`).
        cell: name in `seqkeras.cells.CELLS` (``"lstm"``, ``"gru"``, ``"ran"``,
            ``"elman"``, ``"additive"``); `cell_options` go to its constructor
            (e.g. ``{"variant": "cifg"}``).
        layers, units: depth and width of the recurrent stack.
        embedding_dim: embedding width (0 = `units`).
        tie_embeddings: logits use the embedding matrix transposed.
        dropout: Zaremba dropout on the embedding and top outputs.
        layer_dropout, recurrent_dropout: variational dropout (see module doc).
        init_scale: > 0 initialises every weight uniform(−s, s) (Zaremba: 0.1).
        softmax_precision: ``"float32"`` or ``"bfloat16"`` output matmuls.
        stateful: carry the state across batches (truncated BPTT).
        jit_compile: passed to the recurrent layers.
        sampled_softmax: k > 0 trains with a sampled softmax over k candidates
            (`LanguageModel`); evaluation stays exact.

    Returns:
        `keras.Model` ``int32[B, T] → float32[B, T, V]``.

    Example:
        >>> model = build_language_model(50, batch_size=4, units=16, layers=1)
        >>> model(np.zeros((4, 7), "int32")).shape
        TensorShape([4, 7, 50])
    """
    if stateful and not batch_size:
        raise ValueError("A stateful language model needs `batch_size` (the number of parallel streams)")
    embedding_dim = embedding_dim or units
    if cell == "additive" and embedding_dim != units:
        raise ValueError(f"The additive cell sums its input into the state: `embedding_dim` must equal "
                         f"`units` (or be 0), received embedding_dim={embedding_dim}, units={units}")
    uniform = (keras.initializers.RandomUniform(-init_scale, init_scale) if init_scale > 0 else None)
    inputs = keras.Input(batch_shape=(batch_size, None), dtype="int32", name="ids")
    embedding = keras.layers.Embedding(vocabulary_size, embedding_dim, name="embedding",
                                       embeddings_initializer=uniform or "uniform")
    x = embedding(inputs)
    if dropout:
        x = keras.layers.Dropout(dropout, name="embedding_dropout")(x)
    cells = [make_cell(cell, units, cell_options, init_scale) for _ in range(layers)]
    x = StackedRecurrent(cells, return_sequences=True, stateful=stateful, dropout=layer_dropout,
                         recurrent_dropout=recurrent_dropout, jit_compile=jit_compile, name="recurrent")(x)
    if dropout:
        x = keras.layers.Dropout(dropout, name="output_dropout")(x)
    logits = Logits(vocabulary_size, embedding=embedding if tie_embeddings else None,
                    precision=softmax_precision, kernel_initializer=uniform or "glorot_uniform",
                    name="logits")(x)
    return LanguageModel(inputs, logits, sampled_softmax=sampled_softmax, name=name)


def reset_states(model: keras.Model) -> None:
    """Zero the carried recurrent state of every stateful layer of `model`."""
    for layer in model.layers:
        if hasattr(layer, "reset_state") and getattr(layer, "stateful", False):
            layer.reset_state()


class ResetStates(keras.callbacks.Callback):
    """Reset the truncated-BPTT state at each epoch's start and around every evaluation."""

    def on_epoch_begin(self, epoch, logs=None):
        reset_states(self.model)

    def on_test_begin(self, logs=None):
        reset_states(self.model)

    def on_test_end(self, logs=None):
        reset_states(self.model)


class StreamMetrics(keras.callbacks.Callback):
    """Add perplexity (word level) or bits per character (char level) to the logs.

    Keras's loss is the mean per-token negative log-likelihood in nats over equal-size
    windows, so perplexity = exp(loss) and bits per character = loss / ln 2.
    """

    def __init__(self, level: str):
        super().__init__()
        self.level = level

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        for prefix in ("", "val_"):
            loss = logs.get(prefix + "loss")
            if loss is None:
                continue
            if self.level == "word":
                logs[prefix + "perplexity"] = float(math.exp(min(loss, 50.0)))
            else:
                logs[prefix + "bits_per_character"] = float(loss / math.log(2.0))
