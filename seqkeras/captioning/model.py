"""The captioner: a CNN image encoder and the shared attentional recurrent decoder.

    images uint8[B, S, S, 3] ─ "image_encoder" (a Keras CNN) → feature map [B, h, w, C]
        memory m = the h·w map positions [B, h·w, C] (optionally "memory_projection" → D)
        summary s = mean over the positions [B, C] (global average pooling)
    decoder states₀ = "bridge"(dropout(s)) = tanh(W s + b)
    caption-in ids [B·K, T] ─ "target_embedding" ─ "decoder" (attends to m) ─ "logits"

The decoder, its attention (``"luong"``, ``"bahdanau"`` — the soft attention of Show,
Attend and Tell — or ``"none"``, Show and Tell's vector-to-sequence pattern, where
s enters every step) and the token-level ``step`` used by greedy and beam search
are the shared `seqkeras.layers.AttentionDecoder` / `TokenDecoding`.

Efficiency: with K captions per image in a batch the encoder runs once per image;
its memory and initial states are repeated K times (rows b·K … b·K + K − 1, the
order of ``caption_in``) before teacher forcing.

Encoders (`build_image_encoder`):

* ``"cnn"``: built here and trained from scratch: ``blocks`` × (``convs`` × [3×3
  conv → batch norm → ReLU] → 2×2 max pool), ``width`` channels doubled every
  block; 96 × 96 with 4 blocks → a 6 × 6 map of 8·width channels;
* any `keras.applications` constructor by name, in snake case or as written
  (``"mobilenet_v3_small"``, ``"ResNet50"``), ``include_top=False``, with its own
  ``preprocess_input``; ``weights`` "" builds it with random weights (as the tests
  do), ``"imagenet"`` downloads the pretrained ones where that is reachable.
"""

from __future__ import annotations

import importlib

import keras
import tensorflow as tf

from seqkeras.layers import DecoderContext, TokenDecoding


def application_constructor(name: str):
    """The `keras.applications` constructor called `name` (case and underscores ignored)."""
    wanted = name.replace("_", "").lower()
    for attribute in dir(keras.applications):
        candidate = getattr(keras.applications, attribute)
        if callable(candidate) and attribute[0].isupper() and attribute.lower() == wanted:
            return candidate
    known = sorted(a for a in dir(keras.applications) if a[0].isupper())
    raise ValueError(f"Received an invalid value for argument `encoder`: {name!r} is neither 'cnn' nor a "
                     f"keras.applications constructor ({', '.join(known)})")


def build_image_encoder(kind: str = "cnn", image_size: int = 96, width: int = 32, blocks: int = 4, convs: int = 1,
                        weights: str = "", name: str = "image_encoder") -> keras.Model:
    """A Keras model: float32 images [B, S, S, 3] with values 0–255 → feature map [B, h, w, C].

    Args:
        kind: ``"cnn"`` or a `keras.applications` constructor name (module doc).
        image_size: S.
        width, blocks, convs: the ``"cnn"`` shape (module doc).
        weights: `keras.applications` weights ("" = random initialisation).

    Example:
        >>> build_image_encoder(image_size=96, width=8).output_shape
        (None, 6, 6, 64)
    """
    inputs = keras.Input((image_size, image_size, 3), name="image")
    if kind == "cnn":
        x = keras.layers.Rescaling(1 / 127.5, offset=-1.0, name="rescale")(inputs)
        for block in range(blocks):
            for conv in range(convs):
                prefix = f"block{block + 1}_conv{conv + 1}"
                x = keras.layers.Conv2D(width * 2 ** block, 3, padding="same", use_bias=False, name=prefix)(x)
                x = keras.layers.BatchNormalization(name=prefix + "_bn")(x)
                x = keras.layers.ReLU(name=prefix + "_relu")(x)
            x = keras.layers.MaxPooling2D(2, name=f"block{block + 1}_pool")(x)
        return keras.Model(inputs, x, name=name)
    constructor = application_constructor(kind)
    preprocess = getattr(importlib.import_module(constructor.__module__), "preprocess_input", None)
    base = constructor(include_top=False, weights=weights or None, input_shape=(image_size, image_size, 3))
    x = keras.layers.Lambda(preprocess, name="preprocess")(inputs) if preprocess is not None else inputs
    return keras.Model(inputs, base(x), name=name)


@keras.saving.register_keras_serializable(package="seqkeras")
class Captioner(TokenDecoding, keras.Model):
    """Image encoder + attentional decoder (module doc). Call on ``(images, caption_in)``.

    Args:
        vocabulary_size: V (reserved tokens included).
        image_size: S of the square input images.
        encoder, encoder_weights, encoder_width, encoder_blocks, encoder_convs: see
            `build_image_encoder`.
        memory_dim: project the map to this width (0 = keep its channels).
        cell, units, layers, attention, luong_score, attention_units, cell_options:
            the decoder (`seqkeras.layers.AttentionDecoder`).
        embedding_dim: E of the word embedding.
        dropout: on the word embeddings, o_t and the pooled image vector.
        tie_embeddings: the output layer shares the word embedding.

    Call args:
        images: uint8 or float [B, S, S, 3], values 0–255.
        caption_in: int [B·K, T] (0 = padding), K captions per image.

    Returns:
        logits float32 [B·K, T, V].

    Example:
        >>> model = Captioner(30, image_size=32, encoder_width=4, encoder_blocks=2, units=8, embedding_dim=8)
        >>> model((np.zeros((2, 32, 32, 3), "uint8"), np.ones((6, 5), "int32"))).shape
        TensorShape([6, 5, 30])
    """

    def __init__(self, vocabulary_size, image_size=96, encoder="cnn", encoder_weights="", encoder_width=32,
                 encoder_blocks=4, encoder_convs=1, memory_dim=0, cell="lstm", units=512, layers=1,
                 attention="luong", luong_score="general", attention_units=0, embedding_dim=256, dropout=0.3,
                 cell_options=None, tie_embeddings=False, **kwargs):
        super().__init__(**kwargs)
        self.captioner_config = dict(
            vocabulary_size=vocabulary_size, image_size=image_size, encoder=encoder,
            encoder_weights=encoder_weights, encoder_width=encoder_width, encoder_blocks=encoder_blocks,
            encoder_convs=encoder_convs, memory_dim=memory_dim, cell=cell, units=units, layers=layers,
            attention=attention, luong_score=luong_score, attention_units=attention_units,
            embedding_dim=embedding_dim, dropout=dropout, cell_options=dict(cell_options or {}),
            tie_embeddings=tie_embeddings)
        self.image_size = image_size
        self.image_encoder = build_image_encoder(encoder, image_size, encoder_width, encoder_blocks, encoder_convs,
                                                 encoder_weights)
        channels = int(self.image_encoder.output_shape[-1])
        self.memory_projection = None
        if memory_dim:
            self.memory_projection = keras.layers.Dense(memory_dim, name="memory_projection")
            self.memory_projection.build((None, None, channels))
        self.memory_dim = memory_dim or channels
        self.image_dropout = keras.layers.Dropout(dropout)
        self.make_token_decoder(vocabulary_size, embedding_dim, self.memory_dim, self.memory_dim, cell, units,
                                layers, attention, luong_score, False, attention_units, cell_options, dropout,
                                tie_embeddings)
        self.built = True  # every weight exists now (fit's BackupAndRestore needs a built model)

    def image_features(self, images, training=False):
        """Images [B, S, S, 3] → (memory [B, h·w, D], pooled summary [B, D])."""
        x = self.image_encoder(tf.cast(images, self.compute_dtype), training=training)
        shape = tf.shape(x)
        memory = tf.reshape(x, [shape[0], shape[1] * shape[2], x.shape[-1]])
        if self.memory_projection is not None:
            memory = self.memory_projection(memory)
        return memory, tf.reduce_mean(memory, axis=1)

    def encode(self, images, training=False):
        """Images → (`DecoderContext` (no mask: every map position is real), initial states)."""
        memory, summary = self.image_features(images, training=training)
        states = self.decoder_states(self.image_dropout(summary, training=training))
        return DecoderContext(memory, None, self.attention_keys(memory), summary), states

    def call(self, inputs, training=False):
        images, caption_in = inputs
        context, states = self.encode(images, training=training)
        k = tf.shape(caption_in)[0] // tf.shape(images)[0]
        context = context.tile(k)
        states = [tf.repeat(s, k, axis=0) for s in states]
        return self.teacher_forced_logits(caption_in, states, context, training=training)

    def get_config(self):
        return dict(self.captioner_config, name=self.name)
