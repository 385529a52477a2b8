"""`AttentionDecoder`: a recurrent token decoder attending to a fixed memory.

Shared by every encoder–decoder application (translation attends to the encoder
outputs of a source sentence, captioning to the feature map of an image). What it
attends to is a `DecoderContext` (memory, mask, precomputed keys, fixed-size
summary); the decoder has one step function, ``step(y_{t-1}, states, context) →
(o_t, states)``, used for decoding and — for the variants that need it — for
training inside a `tf.while_loop` over the target steps. Per ``attention``:

=====================  ==============================================================
``"luong"``            h_t = cells(y_{t-1}) ; c_t = attend(h_t) ;
                       o_t = tanh(W_c [c_t ; h_t]) (score "general" or "dot")
``"luong"`` + feeding  as above with the input [y_{t-1} ; o_{t-1}] (Luong's input feeding)
``"bahdanau"``         c_t = attend(h_{t-1}) (additive score) ; h_t = cells([y_{t-1} ; c_t]) ;
                       o_t = tanh(W_c [c_t ; h_t])  (the soft attention of Show, Attend
                       and Tell has this shape)
``"none"``             the lecture notes' vector-to-sequence pattern (Show and Tell):
                       the context is the summary s only, h_t = cells([y_{t-1} ; s]) ;
                       o_t = tanh(W_c [s ; h_t])
=====================  ==============================================================

``"luong"`` without feeding and ``"none"`` train on the fast path: each decoder level
is a `seqkeras.layers.Recurrent` over the whole teacher-forced sequence (hoisted
input projection, compiled loop), then attention for all steps in one batched
product. They are the same equations as `AttentionDecoder.step` (a test checks it).

`TokenDecoding` is the model half around it: target embedding, the bridge from the
summary to the initial states, the output layer (optionally tied to the embedding)
and dropout, with the token-level ``step`` that `seqkeras.sampling.greedy_decode` /
`beam_decode` call. A model mixes it in and supplies ``encode(inputs) →
(DecoderContext, states)``.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from seqkeras.layers.attention import Attention
from seqkeras.layers.logits import Logits
from seqkeras.layers.recurrent import Recurrent

ATTENTIONS = ("luong", "bahdanau", "none")


class DecoderContext:
    """What the decoder attends to (constant over the target steps).

    Attributes:
        memory: encoder outputs [B, S, Dm].
        mask: bool [B, S], False at padded source positions.
        keys: the attention's precomputed key side (see `Attention.keys`) or None.
        summary: the fixed-size source summary s [B, 2·Ue].
    """

    def __init__(self, memory, mask, keys, summary):
        self.memory, self.mask, self.keys, self.summary = memory, mask, keys, summary

    def tile(self, width):
        """Each row repeated `width` times (rows b·W … b·W + W − 1), for beam search."""
        rep = lambda t: None if t is None else tf.repeat(t, width, axis=0)  # noqa: E731
        return DecoderContext(rep(self.memory), rep(self.mask), rep(self.keys), rep(self.summary))


@keras.saving.register_keras_serializable(package="seqkeras")
class AttentionDecoder(keras.layers.Layer):
    """Recurrent decoder with Bahdanau / Luong / no attention (see the module doc).

    Args:
        cell: seqkeras cell name (``"gru"``, ``"lstm"``, ``"lstm:cifg"``, ...).
        units: width U of every decoder cell and of o_t.
        layers: stacked cells.
        attention: ``"luong"``, ``"bahdanau"`` or ``"none"``.
        luong_score: ``"general"`` or ``"dot"``.
        input_feeding: Luong input feeding (o_{t-1} in the next input).
        attention_units: width of the additive score (0 = U).
        cell_options: passed to each cell.

    The states of a step are the cells' states, bottom first, then o_{t-1} when
    input feeding.
    """

    def __init__(self, cell="gru", units=512, layers=1, attention="luong", luong_score="general",
                 input_feeding=False, attention_units=0, cell_options=None, **kwargs):
        super().__init__(**kwargs)
        if attention not in ATTENTIONS:
            raise ValueError(f"Received an invalid value for argument `attention`, expected one of "
                             f"{list(ATTENTIONS)}, received attention={attention!r}")
        self.cell_name, self.units, self.num_layers = cell, units, layers
        self.attention_kind, self.luong_score = attention, luong_score
        self.input_feeding = bool(input_feeding) and attention == "luong"
        self.attention_units, self.cell_options = attention_units, dict(cell_options or {})
        from seqkeras.encoders import make_cell  # seqkeras.encoders imports this package

        self.levels = [Recurrent(make_cell(cell, units, cell_options), return_sequences=True,
                                 name=f"decoder_level_{i}") for i in range(layers)]
        self.attention = None
        if attention == "luong":
            self.attention = Attention(luong_score, name="attention")
        elif attention == "bahdanau":
            self.attention = Attention("additive", units=attention_units, name="attention")
        self.combine = keras.layers.Dense(units, activation="tanh", use_bias=False, name="combine")

    @property
    def cells(self):
        return [level.cell for level in self.levels]

    @property
    def fast_path(self) -> bool:
        """Whether teacher forcing can run each level over the whole sequence at once."""
        return self.attention_kind == "none" or (self.attention_kind == "luong" and not self.input_feeding)

    @property
    def state_sizes(self) -> list[int]:
        sizes = [int(s) for cell in self.cells for s in cell.state_size]
        return sizes + ([self.units] if self.input_feeding else [])

    @property
    def cell_state_sizes(self) -> list[int]:
        return [int(s) for cell in self.cells for s in cell.state_size]

    def build_for(self, embedding_dim: int, memory_dim: int, summary_dim: int):
        """Create every weight (called by the owning model; shapes are not call arguments)."""
        extra = {"none": summary_dim, "bahdanau": memory_dim, "luong": self.units if self.input_feeding else 0}
        width = embedding_dim + extra[self.attention_kind]
        for level in self.levels:
            level.build((None, None, width))
            width = self.units
        if self.attention is not None:
            self.attention.build((None, self.units), (None, None, memory_dim))
        context_dim = summary_dim if self.attention_kind == "none" else memory_dim
        self.combine.build((None, context_dim + self.units))
        self.built = True

    def build(self, *args, **kwargs):
        self.built = True

    def initial_states(self, cell_states, batch):
        """The step's states from the bridged cell states (+ o₀ = 0 when input feeding)."""
        extra = [tf.zeros([batch, self.units], cell_states[0].dtype)] if self.input_feeding else []
        return list(cell_states) + extra

    def _attend(self, query, context: DecoderContext):
        if self.attention_kind == "none":
            return context.summary
        return self.attention(query, context.memory, memory_mask=context.mask, keys=context.keys)[0]

    def step(self, y, states, context: DecoderContext):
        """One decoder step: y [B, E] (embedded y_{t-1}), states → (o_t [B, U], states)."""
        states = list(states)
        cell_states = states[:len(self.cell_state_sizes)]
        if self.attention_kind == "bahdanau":
            c = self._attend(cell_states[-len(self.cells[-1].state_size)], context)  # h_{t-1} of the top cell
            x = tf.concat([y, c], -1)
        elif self.attention_kind == "none":
            x = tf.concat([y, context.summary], -1)
        elif self.input_feeding:
            x = tf.concat([y, states[-1]], -1)
        else:
            x = y
        new_states, offset = [], 0
        for cell in self.cells:
            count = len(cell.state_size)
            x, cell_new = cell(x, cell_states[offset:offset + count])
            new_states += list(cell_new)
            offset += count
        if self.attention_kind == "luong":
            c = self._attend(x, context)
        elif self.attention_kind == "none":
            c = context.summary
        o = self.combine(tf.concat([c, x], -1))
        if self.input_feeding:
            new_states.append(o)
        return o, new_states

    def call(self, targets, states, context: DecoderContext, training=False):
        """Teacher forcing: embedded target-in [B, T, E] → o [B, T, U]."""
        if self.fast_path:
            steps = tf.shape(targets)[1]
            x = targets
            if self.attention_kind == "none":
                x = tf.concat([x, tf.tile(context.summary[:, None, :], [1, steps, 1])], -1)
            offset = 0
            for level in self.levels:
                count = len(level.cell.state_size)
                x = level(x, initial_state=list(states[offset:offset + count]), training=training)
                offset += count
            if self.attention_kind == "none":
                c = tf.tile(context.summary[:, None, :], [1, steps, 1])
            else:
                c = self.attention(x, context.memory, memory_mask=context.mask, keys=context.keys)[0]
            return self.combine(tf.concat([c, x], -1))
        inputs = tf.TensorArray(targets.dtype, size=tf.shape(targets)[1]).unstack(tf.transpose(targets, [1, 0, 2]))
        outputs = tf.TensorArray(targets.dtype, size=tf.shape(targets)[1])

        def body(t, states, outputs):
            o, states = self.step(inputs.read(t), states, context)
            return t + 1, states, outputs.write(t, o)

        _, _, outputs = tf.while_loop(lambda t, *_: t < tf.shape(targets)[1], body,
                                      (tf.constant(0), list(states), outputs))
        return tf.transpose(outputs.stack(), [1, 0, 2])

    def get_config(self):
        config = super().get_config()
        config.update({"cell": self.cell_name, "units": self.units, "layers": self.num_layers,
                       "attention": self.attention_kind, "luong_score": self.luong_score,
                       "input_feeding": self.input_feeding, "attention_units": self.attention_units,
                       "cell_options": self.cell_options})
        return config


class TokenDecoding:
    """Mixin of a `keras.Model` that decodes tokens with an `AttentionDecoder`.

    `make_token_decoder` creates the layers ``decoder``, ``bridge``,
    ``target_embedding``, ``output_layer`` and ``dropout_layer`` (those attribute
    names, so weight files keep their paths); the model supplies ``encode``.
    """

    def make_token_decoder(self, vocabulary_size, embedding_dim, memory_dim, summary_dim, cell="gru", units=512,
                           layers=1, attention="luong", luong_score="general", input_feeding=False,
                           attention_units=0, cell_options=None, dropout=0.0, tie_embeddings=False):
        """Create and build the decoding layers.

        Args:
            vocabulary_size: V of the target tokens.
            embedding_dim: E of the target embedding.
            memory_dim: width Dm of the memory rows attended to.
            summary_dim: width of the summary s that the bridge maps to the initial states.
            cell ... cell_options: see `AttentionDecoder`.
            dropout: on the target embedding and on o_t.
            tie_embeddings: the output layer shares the target embedding (Press & Wolf,
                `seqkeras.layers.Logits`).
        """
        self.decoder = AttentionDecoder(cell, units, layers, attention, luong_score, input_feeding,
                                        attention_units, cell_options, name="decoder")
        self.bridge = keras.layers.Dense(sum(self.decoder.cell_state_sizes), activation="tanh", name="bridge")
        self.target_embedding = keras.layers.Embedding(vocabulary_size, embedding_dim, name="target_embedding")
        if tie_embeddings:
            self.output_layer = Logits(vocabulary_size, embedding=self.target_embedding, name="logits")
        else:
            self.output_layer = keras.layers.Dense(vocabulary_size, name="logits")
        self.dropout_layer = keras.layers.Dropout(dropout)
        self.bridge.build((None, summary_dim))
        self.target_embedding.build((None, None))
        self.decoder.build_for(embedding_dim, memory_dim, summary_dim)
        self.output_layer.build((None, units))

    def decoder_states(self, summary):
        """The decoder's initial states from the summary s [B, Ds]: tanh(W s + b), split."""
        cell_states = tf.split(self.bridge(summary), self.decoder.cell_state_sizes, axis=-1)
        return self.decoder.initial_states(cell_states, tf.shape(summary)[0])

    def attention_keys(self, memory):
        """The attention's precomputed key side of a memory (None without attention)."""
        return None if self.decoder.attention is None else self.decoder.attention.keys(memory)

    def step(self, token_ids, states, context: DecoderContext):
        """One decoding step: token ids int[B] → (logits float32[B, V], states)."""
        y = self.target_embedding(tf.cast(token_ids, tf.int32))
        o, states = self.decoder.step(y, states, context)
        return tf.cast(self.output_layer(o), tf.float32), states

    def teacher_forced_logits(self, target_in, states, context: DecoderContext, training=False):
        """Teacher forcing: target-in ids int[B, T] → logits float32[B, T, V]."""
        y = self.dropout_layer(self.target_embedding(tf.cast(target_in, tf.int32)), training=training)
        o = self.decoder(y, states, context=context, training=training)
        return tf.cast(self.output_layer(self.dropout_layer(o, training=training)), tf.float32)
