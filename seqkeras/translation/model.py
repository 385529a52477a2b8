"""The encoder–decoder translator: bidirectional encoder, attentional recurrent decoder.

    source ids [B, S] ─ "encoder" (`seqkeras.encoders.TextEncoder`: embedding →
        deep bidirectional seqkeras stack) → memory [B, S, 2·Ue],
        summary s = [h→_S ; h←_1] [B, 2·Ue] (the last valid forward output — masked
        steps repeat it — and the backward output at position 1)
    decoder states₀ = "bridge"(s) = tanh(W s + b), split over the decoder's cells
    target-in ids [B, T] ─ "target_embedding" ─ "decoder" → o_t ─ "logits" → [B, T, V]

With ``tie_embeddings`` the output layer shares the target embedding E [V, E]
(Press & Wolf, 2017; `seqkeras.layers.Logits`): logits = (o_t P) Eᵀ + b, P [units, E].
It removes the [units, V] output matrix: fewer parameters to overfit a small corpus
(Multi30k de→en: validation token accuracy 0.554 → 0.659 with dropout 0.3 → 0.4).

The decoder is the shared `seqkeras.layers.AttentionDecoder` (``"luong"``,
``"bahdanau"`` or ``"none"``; its module doc gives the equations and the fast
teacher-forcing path) with the embedding, bridge and output layer of
`seqkeras.layers.TokenDecoding`; `Decoder` and `Context` are its names here.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from seqkeras.encoders import build_text_encoder
from seqkeras.layers import AttentionDecoder, DecoderContext, TokenDecoding

# The names translation has always exported.
Decoder, Context = AttentionDecoder, DecoderContext


@keras.saving.register_keras_serializable(package="seqkeras")
class Translator(TokenDecoding, keras.Model):
    """Encoder–decoder with attention (module doc). Call on ``(source, target_in)`` ids.

    Args:
        source_vocabulary_size, target_vocabulary_size: V_s, V_t.
        cell, decoder_cell: seqkeras cell names of the encoder and the decoder.
        embedding_dim: E of both embeddings.
        encoder_units, encoder_layers: per-direction width and depth of the encoder.
        units, decoder_layers, attention, luong_score, input_feeding,
        attention_units: see `Decoder`.
        dropout: on both embeddings and on o_t.
        tie_embeddings: share the target embedding with the output layer (see the
            module docstring).

    The encoder is the shared `seqkeras.encoders.build_text_encoder` (bidirectional,
    ``return_sequences=True``).
        cell_options: passed to every cell.

    Example:
        >>> model = Translator(40, 50, embedding_dim=8, encoder_units=8, units=16)
        >>> model((np.ones((2, 5), "int32"), np.ones((2, 7), "int32"))).shape
        TensorShape([2, 7, 50])
    """

    def __init__(self, source_vocabulary_size, target_vocabulary_size, cell="gru", decoder_cell="",
                 embedding_dim=256, encoder_units=256, encoder_layers=1, units=512, decoder_layers=1,
                 attention="luong", luong_score="general", input_feeding=False, attention_units=0,
                 dropout=0.0, cell_options=None, tie_embeddings=False, **kwargs):
        super().__init__(**kwargs)
        self.translator_config = dict(source_vocabulary_size=source_vocabulary_size,
                           target_vocabulary_size=target_vocabulary_size, cell=cell, decoder_cell=decoder_cell,
                           embedding_dim=embedding_dim, encoder_units=encoder_units, encoder_layers=encoder_layers,
                           units=units, decoder_layers=decoder_layers, attention=attention, luong_score=luong_score,
                           input_feeding=input_feeding, attention_units=attention_units, dropout=dropout,
                           cell_options=dict(cell_options or {}), tie_embeddings=tie_embeddings)
        self.encoder = build_text_encoder(source_vocabulary_size, embedding_dim, cell=cell, cell_options=cell_options,
                                          layers=encoder_layers, units=encoder_units, bidirectional=True,
                                          dropout=dropout, return_sequences=True, name="encoder")
        self.encoder.build((None, None))
        self.make_token_decoder(target_vocabulary_size, embedding_dim, 2 * encoder_units, 2 * encoder_units,
                                decoder_cell or cell, units, decoder_layers, attention, luong_score, input_feeding,
                                attention_units, cell_options, dropout, tie_embeddings)
        self.summary_dim = 2 * encoder_units
        self.encoder_units = encoder_units
        self.built = True  # every weight exists now (fit's BackupAndRestore needs a built model)

    # -- pieces used by training, decoding and serving ------------------------------------
    def encode(self, source_ids, training=False):
        """Source ids int[B, S] (0 = padding) → (`Context`, initial decoder states)."""
        source_ids = tf.cast(source_ids, tf.int32)
        mask = tf.not_equal(source_ids, 0)
        memory = self.encoder(source_ids, training=training)
        u = self.encoder_units
        summary = tf.concat([memory[:, -1, :u], memory[:, 0, u:]], -1)  # h→ at the end, h← at the start
        states = self.decoder_states(summary)
        return Context(memory, mask, self.attention_keys(memory), summary), states

    def call(self, inputs, training=False):
        source_ids, target_in = inputs
        context, states = self.encode(source_ids, training=training)
        return self.teacher_forced_logits(target_in, states, context, training=training)

    def get_config(self):
        return dict(self.translator_config, name=self.name)


def translation_loss(label_smoothing: float = 0.0):
    """Masked (target 0 = padding) token cross-entropy with label smoothing ε:
    ``(1 − ε) · (−log p(y)) + ε · mean_v(−log p(v))``, averaged over real tokens."""

    def loss(y_true, y_pred):
        y_true = tf.cast(y_true, tf.int32)
        mask = tf.cast(tf.not_equal(y_true, 0), tf.float32)
        log_p = tf.nn.log_softmax(tf.cast(y_pred, tf.float32))
        nll = -tf.gather(log_p, y_true, batch_dims=2)
        if label_smoothing:
            nll = (1.0 - label_smoothing) * nll - label_smoothing * tf.reduce_mean(log_p, -1)
        return tf.reduce_sum(nll * mask) / tf.maximum(tf.reduce_sum(mask), 1.0)

    loss.__name__ = "translation_loss"
    return loss


def masked_accuracy(y_true, y_pred):
    """Token accuracy over real (non-padding) target positions."""
    y_true = tf.cast(y_true, tf.int32)
    mask = tf.cast(tf.not_equal(y_true, 0), tf.float32)
    hit = tf.cast(tf.equal(tf.argmax(y_pred, -1, output_type=tf.int32), y_true), tf.float32)
    return tf.reduce_sum(hit * mask) / tf.maximum(tf.reduce_sum(mask), 1.0)
