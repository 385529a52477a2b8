"""The language model: Embedding → StackedRecurrent(cells) → (tied) softmax logits.

This is the default kind (``model.kind = "rnn"``) and the base class of the other
kinds, which keep its training call, sampled softmax, output layer and stateless
contract and replace only how a state is carried: `WindowedLanguageModel` (below) for
models whose state is a window of their own past — the fixed-window feed-forward LM
(`seqkeras.language_model.nnlm`) and the dilated convolution LM
(`seqkeras.language_model.convolutional`).

    ids int[B, T] ─ "embedding" ─ Dropout ─ "recurrent" (StackedRecurrent, stateful,
    return_sequences) ─ Dropout ─ "logits" → float32[B, T, V]

`LanguageModel` finds its three parts by these layer names (``"embedding"``: a
`keras.layers.Embedding`; ``"recurrent"``: a unidirectional
`seqkeras.layers.StackedRecurrent`; ``"logits"``: `Logits` or a Dense, callable on
``[B, units]`` and ``[B, T, units]``) and offers, besides the stateful training call,
a stateless interface over the same weights for sampling and serving:
``initial_states(batch)``, ``step(token_ids, states)``, ``run_sequence(ids, mask,
states)`` and ``output_logits(hidden)``.

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

from seqkeras.encoders import make_cell
from seqkeras.layers import StackedRecurrent
from seqkeras.layers.logits import Logits
from seqkeras.layers.recurrent import Recurrent


PARTS = ("embedding", "recurrent", "logits")


class _Parts:
    """The layers the stateless interface runs (a plain object, so that the weights file
    of the model does not list them a second time).

    Attributes:
        embedding, stack, logits: the model's ``"embedding"``, ``"recurrent"`` and
            ``"logits"`` layers.
        cells: the stack's cells, bottom first.
        levels: one stateless `Recurrent` per cell (same cell, same weights; no XLA, the
            cell's dtype policy) for whole sequences from given states.
    """

    def __init__(self, embedding, stack, logits):
        self.embedding, self.stack, self.logits = embedding, stack, logits
        self.cells = [level.cell for level in stack.levels]
        self.residual = bool(getattr(stack, "residual", False))
        self.levels = [Recurrent(cell, return_sequences=True, return_state=True, jit_compile=False,
                                 dtype=cell.dtype_policy, name=f"stateless_level_{i}")
                       for i, cell in enumerate(self.cells)]


class LanguageModel(keras.Model):
    """The functional language model: a stateful training call plus a stateless
    step interface over the same weights, optionally trained with a sampled softmax.

    Call it on ids ``int32[B, T]`` for logits ``float32[B, T, V]`` (the stack carries
    its state across calls). The stateless interface (states: a list of float32
    ``[B, S_i]`` tensors, every cell's states bottom first) serves sampling and export:

    * `initial_states` (batch) → the zero states;
    * `step` (token ids ``int32[B]``, states) → (logits ``float32[B, V]``, states);
    * `run_sequence` (ids ``int[B, T]``, mask, states) → (top outputs
      ``[B, T, units]``, states);
    * `output_logits` (hidden ``[..., units]``) → logits ``float32[..., V]``.

    With ``sampled_softmax=k > 0``, `train_step` never forms the full [B·T, V] logits:
    the loss is `tf.nn.sampled_softmax_loss` over the true token and k candidates from
    a log-uniform (Zipfian) sampler (Jean et al. 2015) — the vocabulary is sorted by
    frequency, as that sampler assumes. Evaluation, prediction and export use the
    exact full softmax.

    Args:
        inputs, outputs: the functional graph; it must hold layers named
            ``"embedding"``, ``"recurrent"`` (a unidirectional `StackedRecurrent`) and
            ``"logits"`` (a subclass names its own `parts`).
        sampled_softmax: k, the candidates of the sampled softmax (0 = full softmax).

    Raises:
        ValueError: a part is missing, or the stack is bidirectional.
    """

    # The layer names `_find_parts` looks up (a subclass names its own).
    parts = PARTS

    def __init__(self, inputs, outputs, sampled_softmax: int = 0, **kwargs):
        super().__init__(inputs, outputs, **kwargs)
        self.sampled_softmax = int(sampled_softmax)
        object.__setattr__(self, "_parts", self._find_parts())
        if self.sampled_softmax:
            # Not tracked: it shares every layer (and variable) with this model.
            object.__setattr__(self, "_hidden_model", keras.Model(inputs, self._parts.logits.input))

    def _find_parts(self):
        """The layers the stateless interface runs: an object with at least
        ``embedding`` and ``logits`` (a subclass hook)."""
        embedding, stack, logits = (self._part(name) for name in self.parts)
        if getattr(stack, "bidirectional", False) or not isinstance(stack, StackedRecurrent):
            raise ValueError(f"The language model's 'recurrent' layer must be a unidirectional "
                             f"StackedRecurrent, received {stack!r}")
        return _Parts(embedding, stack, logits)

    def _part(self, name):
        try:
            return self.get_layer(name)
        except ValueError:
            raise ValueError(f"A {type(self).__name__} needs layers named {list(self.parts)}; this graph "
                             f"has no layer named {name!r}") from None

    # -- stateless interface ---------------------------------------------------------------
    @property
    def vocabulary_size(self) -> int:
        """V, the rows of the embedding."""
        return int(self._parts.embedding.input_dim)

    @property
    def state_sizes(self) -> list[int]:
        """The width of every state tensor, every cell bottom first."""
        return [int(s) for cell in self._parts.cells for s in cell.state_size]

    def initial_states(self, batch) -> list[tf.Tensor]:
        """The zero states of `batch` rows: float32 ``[batch, S_i]`` per state."""
        return [tf.zeros([batch, s], tf.float32) for s in self.state_sizes]

    def output_logits(self, hidden) -> tf.Tensor:
        """Top outputs ``[..., units]`` → logits float32 ``[..., V]``."""
        return tf.cast(self._parts.logits(hidden), tf.float32)

    def step(self, token_ids, states):
        """One token per row, no dropout, no carried state.

        Args:
            token_ids: int32 ``[B]``.
            states: float32 ``[B, S_i]`` per state (`state_sizes`).

        Returns:
            (logits float32 ``[B, V]``, the new states, float32).
        """
        parts = self._parts
        x = parts.embedding(token_ids)
        new_states, offset = [], 0
        for cell in parts.cells:
            count, dtype = len(cell.state_size), cell.compute_dtype
            y, cell_states = cell(tf.cast(x, dtype), [tf.cast(s, dtype) for s in states[offset:offset + count]])
            offset += count
            new_states += list(cell_states)
            x = self._residual(x, y)
        return self.output_logits(x), [tf.cast(s, tf.float32) for s in new_states]

    def run_sequence(self, ids, mask, states):
        """Whole sequences from given states, no dropout, no carried state.

        Args:
            ids: int ``[B, T]``.
            mask: bool ``[B, T]`` (False steps keep the state) or None.
            states: float32 ``[B, S_i]`` per state (`state_sizes`).

        Returns:
            (top outputs ``[B, T, units]``, final states float32).
        """
        parts = self._parts
        x = parts.embedding(ids)
        final, offset = [], 0
        for level, cell in zip(parts.levels, parts.cells):
            count = len(cell.state_size)
            y, *level_states = level(x, initial_state=list(states[offset:offset + count]), mask=mask)
            offset += count
            final += level_states
            x = self._residual(x, y)
        return x, [tf.cast(s, tf.float32) for s in final]

    def _residual(self, x, y):
        if self._parts.residual and y.shape[-1] == x.shape[-1]:
            return y + tf.cast(x, y.dtype)
        return y

    # -- training --------------------------------------------------------------------------
    def train_step(self, data):
        if not self.sampled_softmax:
            return super().train_step(data)
        inputs, targets = data[0], data[1]
        logits_layer = self._parts.logits
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


class WindowedLanguageModel(LanguageModel):
    """Base of the language models whose state is a window of their own past — the
    previous token ids (`FeedForwardLanguageModel`) or per-layer queues of activations
    (`ConvolutionalLanguageModel`) — instead of a recurrent summary.

    A subclass gives `_find_parts`, `state_sizes` and `_run`; `step` and `run_sequence`
    follow. A mask is handled by packing: each row's unmasked steps move to the front,
    in order, and the row's length ends its state window there, so a masked step leaves
    the state as it was (as in the recurrent model) and outputs zeros.
    """

    def _run(self, ids, states, lengths):
        """Hook: ids ``int[B, T]`` from `states` → (top outputs ``[B, T, H]``, final
        float32 states ending at each row's length; ``lengths`` int32 ``[B]`` or None = T).
        Steps from ``lengths[b]`` on are padding: no earlier output may depend on them."""
        raise NotImplementedError

    def step(self, token_ids, states):
        """`LanguageModel.step`: a window of one step."""
        outputs, states = self._run(token_ids[:, None], states, None)
        return self.output_logits(outputs[:, 0]), states

    def run_sequence(self, ids, mask, states):
        """`LanguageModel.run_sequence`, a mask handled by packing (see the class doc)."""
        if mask is None:
            return self._run(ids, states, None)
        mask = tf.cast(mask, tf.bool)
        order = tf.argsort(tf.cast(tf.logical_not(mask), tf.int32), axis=1, stable=True)
        lengths = tf.reduce_sum(tf.cast(mask, tf.int32), axis=1)
        outputs, final = self._run(tf.gather(ids, order, batch_dims=1), states, lengths)
        outputs = tf.gather(outputs, tf.argsort(order, axis=1), batch_dims=1)
        return tf.where(mask[..., None], outputs, tf.zeros_like(outputs)), final


def uniform_initializer(init_scale: float):
    """uniform(−s, s) for s = `init_scale` > 0 (Zaremba), else None (each layer's default)."""
    return keras.initializers.RandomUniform(-init_scale, init_scale) if init_scale > 0 else None


def token_embedding(vocabulary_size: int, dim: int, init_scale: float = 0.0) -> keras.layers.Embedding:
    """The ``"embedding"`` layer every kind of language model has."""
    return keras.layers.Embedding(vocabulary_size, dim, name="embedding",
                                  embeddings_initializer=uniform_initializer(init_scale) or "uniform")


def output_logits(vocabulary_size: int, embedding, tie_embeddings: bool, softmax_precision: str = "float32",
                  init_scale: float = 0.0) -> Logits:
    """The ``"logits"`` layer every kind has: tied to `embedding` or its own matrix."""
    return Logits(vocabulary_size, embedding=embedding if tie_embeddings else None, precision=softmax_precision,
                  kernel_initializer=uniform_initializer(init_scale) or "glorot_uniform", name="logits")


def build_language_model(vocabulary_size: int, batch_size: int | None = None, cell: str = "lstm",
                         cell_options: dict | None = None, layers: int = 2, units: int = 200,
                         embedding_dim: int = 0, tie_embeddings: bool = False, dropout: float = 0.0,
                         layer_dropout: float = 0.0, recurrent_dropout: float = 0.0,
                         init_scale: float = 0.0, softmax_precision: str = "float32",
                         stateful: bool = True, jit_compile="auto", sampled_softmax: int = 0,
                         name: str = "language_model") -> LanguageModel:
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
        `LanguageModel` ``int32[B, T] → float32[B, T, V]`` (not compiled).

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
    inputs = keras.Input(batch_shape=(batch_size, None), dtype="int32", name="ids")
    embedding = token_embedding(vocabulary_size, embedding_dim, init_scale)
    x = embedding(inputs)
    if dropout:
        x = keras.layers.Dropout(dropout, name="embedding_dropout")(x)
    cells = [make_cell(cell, units, cell_options, init_scale) for _ in range(layers)]
    x = StackedRecurrent(cells, return_sequences=True, stateful=stateful, dropout=layer_dropout,
                         recurrent_dropout=recurrent_dropout, jit_compile=jit_compile, name="recurrent")(x)
    if dropout:
        x = keras.layers.Dropout(dropout, name="output_dropout")(x)
    logits = output_logits(vocabulary_size, embedding, tie_embeddings, softmax_precision, init_scale)(x)
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
