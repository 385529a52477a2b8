"""`Logits`: hidden states → vocabulary logits, optionally tied to an embedding matrix.

The output layer of the language model and of the translation decoder.
"""

from __future__ import annotations

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="seqkeras")
class Logits(keras.layers.Layer):
    """Output layer: hidden states → unnormalised log-probabilities over the vocabulary.

    Untied: logits = h W + b with W [units, V]. Tied (Press & Wolf 2017; Inan et al.
    2017): logits = (h P) Eᵀ + b, where E [V, E_dim] is the embedding matrix of the
    `embedding` layer (not copied: the same variable) and P [units, E_dim] a projection
    present only when units ≠ E_dim.

    With ``precision="bfloat16"`` the matmuls run in bfloat16 (AVX-512 BF16 / AMX on
    CPU) and the logits are returned as float32, so the softmax and loss stay float32.

    Args:
        vocabulary_size: V.
        embedding: the `keras.layers.Embedding` to tie to, or None (untied).
        use_bias: add b [V].
        precision: ``"float32"`` or ``"bfloat16"``.
        kernel_initializer: initializer of W (or P).

    Call args:
        hidden: ``[B, units]`` or ``[B, T, units]``.

    Returns:
        float32 ``[B, V]`` or ``[B, T, V]``.
    """

    def __init__(self, vocabulary_size, embedding=None, use_bias=True, precision="float32",
                 kernel_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        if precision not in ("float32", "bfloat16"):
            raise ValueError(f"Argument `precision` must be 'float32' or 'bfloat16', received {precision!r}")
        self.vocabulary_size = int(vocabulary_size)
        self.use_bias = use_bias
        self.precision = precision
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        # A reference, not a tracked sublayer: the variable belongs to the embedding.
        object.__setattr__(self, "_tied_embedding", embedding)
        self.projection = None
        self.kernel = None
        self.supports_masking = True

    @property
    def tied(self) -> bool:
        return self._tied_embedding is not None

    def build(self, input_shape):
        units = input_shape[-1]
        if self.tied:
            dim = self._tied_embedding.output_dim
            if units != dim:
                self.projection = self.add_weight(shape=(units, dim), initializer=self.kernel_initializer,
                                                  name="projection")
        else:
            self.kernel = self.add_weight(shape=(units, self.vocabulary_size),
                                          initializer=self.kernel_initializer, name="kernel")
        self.bias = (self.add_weight(shape=(self.vocabulary_size,), initializer="zeros", name="bias")
                     if self.use_bias else None)
        self.built = True

    def call(self, hidden):
        hidden = tf.convert_to_tensor(hidden)
        shape = tf.shape(hidden)
        flat = tf.reshape(hidden, [-1, hidden.shape[-1]])
        dtype = tf.bfloat16 if self.precision == "bfloat16" else tf.float32
        flat = tf.cast(flat, dtype)
        if self.projection is not None:
            flat = tf.matmul(flat, tf.cast(self.projection, dtype))
        if self.tied:
            weights = tf.cast(self._tied_embedding.embeddings, dtype)
            logits = tf.matmul(flat, weights, transpose_b=True)
        else:
            logits = tf.matmul(flat, tf.cast(self.kernel, dtype))
        logits = tf.cast(logits, tf.float32)
        if self.bias is not None:
            logits = logits + tf.cast(self.bias, tf.float32)
        return tf.reshape(logits, tf.concat([shape[:-1], [self.vocabulary_size]], 0))

    def output_weights(self, hidden):
        """``(weights [V, D], bias [V], inputs [N, D])`` with logits = inputs · weightsᵀ + bias
        for the flattened `hidden` [..., units] (what `tf.nn.sampled_softmax_loss` takes)."""
        flat = tf.reshape(tf.convert_to_tensor(hidden, tf.float32), [-1, hidden.shape[-1]])
        if self.projection is not None:
            flat = tf.matmul(flat, self.projection)
        weights = self._tied_embedding.embeddings if self.tied else tf.transpose(self.kernel)
        bias = self.bias if self.bias is not None else tf.zeros([self.vocabulary_size])
        return tf.convert_to_tensor(weights), tf.convert_to_tensor(bias), flat

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.vocabulary_size,)

    def compute_output_spec(self, hidden):
        return keras.KerasTensor(self.compute_output_shape(hidden.shape), dtype="float32")

    def get_config(self):
        config = super().get_config()
        config.update({"vocabulary_size": self.vocabulary_size, "use_bias": self.use_bias,
                       "precision": self.precision,
                       "kernel_initializer": keras.initializers.serialize(self.kernel_initializer)})
        return config
