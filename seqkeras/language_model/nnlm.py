"""The fixed-window feed-forward language model (Bengio et al. 2003), ``model.kind = "nnlm"``.

    ids int[B, T] ─ "context" (`ContextWindow`, stateful) → ids [B, T, n]
      ─ "embedding" → [B, T, n, E] ─ concatenated → [B, T, n·E] ─ Dropout
      ─ "hidden_0" … "hidden_{L−1}" (Dense, tanh) ─ Dropout ─ "logits" → float32[B, T, V]

The prediction after token x_t reads exactly the n most recent tokens:

    h_t = tanh(H [e(x_{t−n+1}) ; … ; e(x_t)] + d),    logits_t = U h_t + b

(with L > 1 hidden layers, h is applied L times; tied logits use the embedding matrix).
Bengio et al.'s optional direct connections from the embeddings to the output are not
included. The concatenated window is the same thing as a causal convolution of width n
over the embeddings: the model differs from the dilated convolution LM in having one
such layer and a fixed, short context.

Its state is the n − 1 previous token ids, carried across BPTT windows as the recurrent
model carries h, so every training position sees a full window and the whole-stream
evaluation, generation and export run unchanged. Unlike a recurrent state the carried
ids are re-embedded with the current weights, so no gradient is truncated: training on
consecutive windows is training on every n-gram of the stream. Before the first token
the window holds id 0 (``<pad>``).
"""

from __future__ import annotations

import keras
import tensorflow as tf

from seqkeras.language_model.model import WindowedLanguageModel, output_logits, token_embedding, uniform_initializer
from seqkeras.layers.dilated import causal_taps


@keras.saving.register_keras_serializable(package="seqkeras")
class ContextWindow(keras.layers.Layer):
    """ids ``[B, T]`` → the window of the `size` most recent ids at every step,
    ``[B, T, size]``, oldest first: window t = (x_{t−n+1}, …, x_t).

    State: the previous n − 1 ids as float32 ``[B, n − 1]`` (the language model's states
    are float32; ids below 2^24 are exact), zeros (``<pad>``) at the start.

    Args:
        size: n ≥ 1, the tokens in a window.
        stateful: carry the last n − 1 ids across calls (needs a fixed batch size);
            `reset_state` zeroes them.
    """

    def __init__(self, size, stateful=False, **kwargs):
        super().__init__(**kwargs)
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ValueError(f"Argument `size` must be an integer ≥ 1, received size={size!r}")
        self.size = size
        self.stateful = stateful
        self.previous_ids = None

    @property
    def state_sizes(self) -> list[int]:
        return [self.size - 1]

    def build(self, input_shape):
        if self.stateful:
            if input_shape[0] is None:
                raise ValueError("A stateful ContextWindow needs a fixed batch size; received "
                                 f"input_shape={input_shape}")
            self.previous_ids = self.add_weight(shape=(input_shape[0], self.size - 1), initializer="zeros",
                                               trainable=False, name="previous_ids")
        self.built = True

    def reset_state(self):
        if self.previous_ids is not None:
            self.previous_ids.assign(tf.zeros_like(self.previous_ids))

    reset_states = reset_state

    def run(self, ids, states, lengths=None):
        """(windows int32 ``[B, T, n]``, [the last n − 1 ids up to each row's length, float32])."""
        past = tf.cast(states[0], tf.int32)
        windows, queue = causal_taps(past, tf.cast(ids, tf.int32), self.size, 1, lengths)
        return windows, [tf.cast(queue, tf.float32)]

    def call(self, ids):
        if self.stateful:
            states = [self.previous_ids]
        else:
            states = [tf.zeros([tf.shape(ids)[0], self.size - 1], tf.float32)]
        windows, (queue,) = self.run(ids, states)
        if self.stateful:
            self.previous_ids.assign(queue)
        return windows

    def compute_output_shape(self, input_shape):
        return (*input_shape, self.size)

    def get_config(self):
        config = super().get_config()
        config.update({"size": self.size, "stateful": self.stateful})
        return config


class FeedForwardLanguageModel(WindowedLanguageModel):
    """The NNLM as a `seqkeras.language_model.LanguageModel`: state = the previous
    n − 1 token ids (``state_sizes == [n − 1]``)."""

    parts = ("context", "embedding", "logits")

    def _find_parts(self):
        context, embedding, logits = (self._part(name) for name in self.parts)
        hidden, depth = [], 0
        while any(layer.name == f"hidden_{depth}" for layer in self.layers):
            hidden.append(self.get_layer(f"hidden_{depth}"))
            depth += 1
        return _Parts(context, embedding, hidden, logits)

    @property
    def context_size(self) -> int:
        """n, the tokens each prediction reads."""
        return self._parts.context.size

    @property
    def state_sizes(self) -> list[int]:
        return self._parts.context.state_sizes

    def _run(self, ids, states, lengths):
        parts = self._parts
        windows, final = parts.context.run(ids, states, lengths)
        x = parts.embedding(windows)                                # [B, T, n, E]
        x = tf.reshape(x, tf.concat([tf.shape(x)[:2], [x.shape[2] * x.shape[3]]], 0))
        for layer in parts.hidden:
            x = layer(x)
        return x, final


class _Parts:
    """The layers the stateless interface runs (not tracked a second time)."""

    def __init__(self, context, embedding, hidden, logits):
        self.context, self.embedding, self.hidden, self.logits = context, embedding, hidden, logits


def build_nnlm(vocabulary_size: int, batch_size: int | None = None, context: int = 4, layers: int = 1,
               units: int = 200, embedding_dim: int = 0, tie_embeddings: bool = False, dropout: float = 0.0,
               init_scale: float = 0.0, softmax_precision: str = "float32", stateful: bool = True,
               sampled_softmax: int = 0, name: str = "language_model") -> FeedForwardLanguageModel:
    """Build (not compile) the fixed-window feed-forward language model.

    Args:
        vocabulary_size: V.
        batch_size: the fixed batch size B (needed when `stateful`).
        context: n, the tokens each prediction reads (the current one and n − 1 before).
        layers, units: the tanh hidden layers and their width.
        embedding_dim: E (0 = `units`).
        tie_embeddings: logits use the embedding matrix (through a projection when
            units ≠ E).
        dropout: on the concatenated embeddings and on the top hidden layer.
        init_scale: > 0 initialises every weight uniform(−s, s).
        softmax_precision: ``"float32"`` or ``"bfloat16"`` output matmuls.
        stateful: carry the last n − 1 ids across batches (consecutive BPTT windows).
        sampled_softmax: k > 0 trains with a sampled softmax (see `LanguageModel`).

    Returns:
        `FeedForwardLanguageModel` ``int32[B, T] → float32[B, T, V]`` (not compiled).

    Example:
        >>> model = build_nnlm(50, batch_size=4, context=3, units=16)
        >>> model(np.zeros((4, 7), "int32")).shape
        TensorShape([4, 7, 50])
    """
    if stateful and not batch_size:
        raise ValueError("A stateful language model needs `batch_size` (the number of parallel streams)")
    embedding_dim = embedding_dim or units
    inputs = keras.Input(batch_shape=(batch_size, None), dtype="int32", name="ids")
    windows = ContextWindow(context, stateful=stateful, name="context")(inputs)
    embedding = token_embedding(vocabulary_size, embedding_dim, init_scale)
    x = keras.layers.Reshape((-1, context * embedding_dim), name="concatenate")(embedding(windows))
    if dropout:
        x = keras.layers.Dropout(dropout, name="embedding_dropout")(x)
    for depth in range(layers):
        x = keras.layers.Dense(units, activation="tanh", name=f"hidden_{depth}",
                               kernel_initializer=uniform_initializer(init_scale) or "glorot_uniform")(x)
    if dropout:
        x = keras.layers.Dropout(dropout, name="output_dropout")(x)
    logits = output_logits(vocabulary_size, embedding, tie_embeddings, softmax_precision, init_scale)(x)
    return FeedForwardLanguageModel(inputs, logits, sampled_softmax=sampled_softmax, name=name)
