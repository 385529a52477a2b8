"""The acceptor: token ids → `seqkeras.encoders.TextEncoder` → pooling → softmax.

    ids int[B, T] ─ "encoder" (embedding + (bi)directional stack) ─┬─ final state [B, F]
                                                                   └─ [B, T, F] ─ "pooling"
                    ─ "output_dropout" ─ "probabilities" (Dense, softmax) → float32[B, C]

Pooling over the encoder's outputs h_1..h_T (padding masked out):

* ``"final"``: the last state — forward h_T ⊕ backward h_1 when bidirectional;
* ``"mean"``: Σ_t m_t h_t / max(Σ_t m_t, 1);
* ``"max"``: max_t over valid steps (0 for a text with no tokens);
* ``"attention"``: a_t = softmax_t(vᵀ tanh(W h_t + b)) over valid steps, Σ_t a_t h_t
  (Yang et al. 2016's word attention; 0 for a text with no tokens).

Binary tasks use C = 2 (a softmax over two classes), so every task has the same
output contract.
"""

from __future__ import annotations

import keras
from keras import ops

from seqkeras.encoders import build_text_encoder


def _mask_or_ones(inputs, mask):
    if mask is None:
        return ops.ones(ops.shape(inputs)[:2], dtype=inputs.dtype)
    return ops.cast(mask, inputs.dtype)


@keras.saving.register_keras_serializable(package="seqkeras")
class SequencePooling(keras.layers.Layer):
    """Masked mean or max over time: ``[B, T, F]`` (+ mask ``[B, T]``) → ``[B, F]``.

    Rows with no valid step give zeros (defined, never NaN).

    Args:
        mode: ``"mean"`` or ``"max"``.
    """

    def __init__(self, mode="mean", **kwargs):
        super().__init__(**kwargs)
        if mode not in ("mean", "max"):
            raise ValueError(f"Argument `mode` must be 'mean' or 'max', received mode={mode!r}")
        self.mode = mode
        self.supports_masking = True

    def call(self, inputs, mask=None):
        weights = _mask_or_ones(inputs, mask)[:, :, None]
        if self.mode == "mean":
            return ops.sum(inputs * weights, axis=1) / ops.maximum(ops.sum(weights, axis=1), 1.0)
        pooled = ops.max(ops.where(weights > 0, inputs, ops.full_like(inputs, -1e9)), axis=1)
        return ops.where(ops.sum(weights, axis=1) > 0, pooled, ops.zeros_like(pooled))

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[2])

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}


@keras.saving.register_keras_serializable(package="seqkeras")
class AttentionPooling(keras.layers.Layer):
    """Additive attention pooling: a_t = softmax_t(vᵀ tanh(W h_t + b)), out = Σ_t a_t h_t.

    Masked steps get weight 0; a row with no valid step gives zeros.

    Args:
        units: width of the hidden layer W (0 = the input width F).

    Call args:
        inputs: ``[B, T, F]``; mask ``[B, T]``.

    Returns:
        ``[B, F]``; the weights ``[B, T]`` of the last call are not kept (use
        `attention_weights` to compute them).
    """

    def __init__(self, units=0, **kwargs):
        super().__init__(**kwargs)
        self.units = int(units)
        self.supports_masking = True

    def build(self, input_shape):
        width = input_shape[-1]
        units = self.units or width
        self.kernel = self.add_weight(shape=(width, units), initializer="glorot_uniform", name="kernel")
        self.bias = self.add_weight(shape=(units,), initializer="zeros", name="bias")
        self.context = self.add_weight(shape=(units,), initializer="glorot_uniform", name="context")
        self.built = True

    def attention_weights(self, inputs, mask=None):
        """``[B, T]`` weights, each valid row summing to 1 (all-zero for an empty row)."""
        valid = _mask_or_ones(inputs, mask)
        scores = ops.einsum("btu,u->bt", ops.tanh(ops.einsum("btf,fu->btu", inputs, self.kernel) + self.bias),
                            self.context)
        scores = ops.where(valid > 0, scores, ops.full_like(scores, -1e9))
        scores = scores - ops.max(scores, axis=1, keepdims=True)
        weights = ops.exp(scores) * valid
        return weights / ops.maximum(ops.sum(weights, axis=1, keepdims=True), 1e-9)

    def call(self, inputs, mask=None):
        return ops.einsum("bt,btf->bf", self.attention_weights(inputs, mask), inputs)

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[2])

    def get_config(self):
        return {**super().get_config(), "units": self.units}


def build_classifier(vocab_size: int, num_classes: int, cell: str = "lstm", cell_options: dict | None = None,
                     layers: int = 1, units: int = 128, embedding_dim: int = 128, bidirectional: bool = True,
                     pooling: str = "final", attention_units: int = 0, dropout: float = 0.2,
                     layer_dropout: float = 0.0, recurrent_dropout: float = 0.0, output_dropout: float = 0.2,
                     embeddings=None, train_embeddings: bool = True, jit_compile="auto",
                     name: str = "classifier") -> keras.Model:
    """Build (not compile) the sentence classifier.

    Args:
        vocab_size: V (id 0 = padding).
        num_classes: C ≥ 2.
        cell, cell_options, layers, units, embedding_dim, bidirectional, dropout,
        layer_dropout, recurrent_dropout, embeddings, train_embeddings, jit_compile:
            the `seqkeras.encoders.TextEncoder`.
        pooling: ``"final"``, ``"mean"``, ``"max"`` or ``"attention"`` (module doc).
        attention_units: hidden width of attention pooling (0 = encoder width).
        output_dropout: dropout on the pooled vector.

    Returns:
        `keras.Model` ``int[B, T] → float32[B, C]`` class probabilities. Layers:
        ``"encoder"``, ``"pooling"`` (unless final), ``"probabilities"``.

    Example:
        >>> model = build_classifier(100, 3, units=8, embedding_dim=8, pooling="attention")
        >>> model(np.array([[4, 5, 0]])).shape
        TensorShape([1, 3])
    """
    if num_classes < 2:
        raise ValueError(f"Argument `num_classes` must be ≥ 2, received num_classes={num_classes}")
    if pooling not in ("final", "mean", "max", "attention"):
        raise ValueError("Argument `pooling` must be 'final', 'mean', 'max' or 'attention', "
                         f"received pooling={pooling!r}")
    ids = keras.Input((None,), dtype="int32", name="ids")
    encoder = build_text_encoder(vocab_size, embedding_dim, cell=cell, cell_options=cell_options, layers=layers,
                                 units=units, bidirectional=bidirectional, dropout=dropout,
                                 layer_dropout=layer_dropout, recurrent_dropout=recurrent_dropout,
                                 embeddings=embeddings, train_embeddings=train_embeddings,
                                 jit_compile=jit_compile, return_sequences=pooling != "final", name="encoder")
    x = encoder(ids)
    if pooling in ("mean", "max"):
        x = SequencePooling(pooling, name="pooling")(x)
    elif pooling == "attention":
        x = AttentionPooling(attention_units, name="pooling")(x)
    x = keras.layers.Dropout(output_dropout, name="output_dropout")(x)
    probabilities = keras.layers.Dense(num_classes, activation="softmax", dtype="float32", name="probabilities")(x)
    return keras.Model(ids, probabilities, name=name)
