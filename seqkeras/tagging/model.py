"""The tagger: word embedding (+ character BiRNN per word) → deep BiRNN → CRF or softmax.

    tokens int[B, T] ─ WordDropout ─ Embedding (mask_zero) ─┐
    chars int[B, T, C] ─ "char_features" (CharacterFeatures) ┴ concat ─ Dropout ─
        "recurrent" (StackedRecurrent, deep bidirectional, return_sequences) ─ Dropout ─
        "emissions" (Dense K) ─┬─ "tags" (CRF: Viterbi, or ArgmaxTags) → int32[B, T]
                               └─ output "emissions" float32[B, T, K] (masked)

Character features (Lample et al. 2016): each word's characters run through a
bidirectional RNN (`seqkeras.encoders.TextEncoder`, final states: the forward
direction's last valid step ⊕ the backward direction's first) and the result is
concatenated to the word embedding. The word-level stack is Irsoy & Cardie's deep
bidirectional RNN (`seqkeras.layers.StackedRecurrent(bidirectional=True)`).

Training (the design of `seqkeras.layers.crf`): the model has two outputs; the loss
sits on ``"emissions"`` only — `crf_loss(crf)` (sentence negative log-likelihood,
which trains the CRF's transitions with the rest) or the masked token cross-entropy
for the softmax head. During `fit` the CRF does not run Viterbi (its training-mode
output is a cheap placeholder); evaluation and serving use `tagger_model(model)`,
which outputs only the decoded tags.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from seqkeras.encoders import TextEncoder, make_cell
from seqkeras.layers import StackedRecurrent
from seqkeras.layers.crf import CRF, crf_loss

UNK_ID = 1  # seqkeras.data.vocabulary: 0 = <pad>, 1 = <unk>


@keras.saving.register_keras_serializable(package="seqkeras")
class WordDropout(keras.layers.Layer):
    """Training only: replace each non-padding word id by `unk_id` with probability `rate`.

    Teaches the model the ``<unk>`` embedding that unseen words get at test time.

    Args:
        rate: replacement probability in [0, 1).
        unk_id: the id of ``<unk>``.
        seed: seed of the replacement draws.

    Call args:
        ids: int ``[B, T]`` (0 = padding, never replaced).
    """

    def __init__(self, rate: float = 0.0, unk_id: int = UNK_ID, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"Argument `rate` must be in [0, 1), received rate={rate!r}")
        self.rate = float(rate)
        self.unk_id = int(unk_id)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, ids, training=False):
        if not training or self.rate == 0.0:
            return ids
        draw = keras.random.uniform(keras.ops.shape(ids), seed=self.seed_generator)
        replace = keras.ops.logical_and(draw < self.rate, keras.ops.not_equal(ids, 0))
        return keras.ops.where(replace, keras.ops.cast(self.unk_id, ids.dtype), ids)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "unk_id": self.unk_id, "seed": self.seed}


@keras.saving.register_keras_serializable(package="seqkeras")
class CharacterFeatures(keras.layers.Layer):
    """Per-word features from characters: a bidirectional RNN's final states per word.

    Args:
        vocab_size: character vocabulary size (id 0 = padding).
        embedding_dim: character embedding width.
        units: state size per direction (output width 2·units).
        cell: cell name (``"lstm"``, ``"gru"``, ...).

    Call args:
        chars: int ``[B, T, C]`` character ids, 0-padded (a padding word is all 0).

    Returns:
        float32 ``[B, T, 2·units]`` (zeros for padding words).
    """

    def __init__(self, vocab_size: int, embedding_dim: int = 32, units: int = 32, cell: str = "lstm",
                 jit_compile="auto", **kwargs):
        super().__init__(**kwargs)
        self.vocab_size, self.embedding_dim, self.units, self.cell = vocab_size, embedding_dim, units, cell
        self.jit_compile = jit_compile
        self.encoder = TextEncoder(vocab_size, embedding_dim=embedding_dim, cell=cell, layers=1, units=units,
                                   bidirectional=True, return_sequences=False, jit_compile=jit_compile,
                                   name="char_encoder")

    def build(self, chars_shape):
        self.encoder.build((None, chars_shape[-1]))
        self.built = True

    def call(self, chars, training=False):
        chars = tf.convert_to_tensor(chars)
        shape = tf.shape(chars)
        flat = tf.reshape(chars, [-1, shape[2]])
        features = self.encoder(flat, training=training)
        words = tf.cast(tf.reduce_any(flat != 0, axis=1), features.dtype)[:, None]
        features = features * words
        return tf.reshape(features, tf.concat([shape[:2], [2 * self.units]], 0))

    def compute_output_shape(self, chars_shape):
        return tuple(chars_shape[:2]) + (2 * self.units,)

    def get_config(self):
        return {**super().get_config(), "vocab_size": self.vocab_size, "embedding_dim": self.embedding_dim,
                "units": self.units, "cell": self.cell, "jit_compile": self.jit_compile}


@keras.saving.register_keras_serializable(package="seqkeras")
class TokenMask(keras.layers.Layer):
    """``[x, ids]`` → x carrying the Keras mask ``ids != 0`` (right-padded words).

    Keras's `Concatenate` ORs the masks of its inputs, so after joining masked word
    embeddings with (unmasked) character features the padding mask is set again here.
    """

    def call(self, inputs):
        return inputs[0]

    def compute_mask(self, inputs, mask=None):
        return keras.ops.not_equal(inputs[1], 0)

    def compute_output_shape(self, input_shape):
        return input_shape[0]


@keras.saving.register_keras_serializable(package="seqkeras")
class ArgmaxTags(keras.layers.Layer):
    """Softmax head's decoding: per-token argmax of the emissions, 0 where masked."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, emissions, mask=None):
        tags = tf.argmax(emissions, axis=-1, output_type=tf.int32)
        return tags if mask is None else tf.where(tf.cast(mask, tf.bool), tags, 0)

    def compute_output_spec(self, emissions, mask=None):
        return keras.KerasTensor(tuple(emissions.shape)[:-1], dtype="int32")

    def compute_mask(self, inputs, mask=None):
        return mask


def build_tagger(vocabulary_size: int, num_tags: int, char_vocabulary_size: int = 0, cell: str = "lstm",
                 cell_options: dict | None = None, layers: int = 2, units: int = 128, embedding_dim: int = 100,
                 word_dropout: float = 0.0, char_features: bool = True, char_cell: str = "lstm",
                 char_embedding_dim: int = 32, char_units: int = 32, dropout: float = 0.5,
                 recurrent_dropout: float = 0.0, output: str = "crf", jit_compile="auto",
                 name: str = "tagger") -> keras.Model:
    """Build (not compile) the tagger.

    Args:
        vocabulary_size: word vocabulary size V (0 = padding, 1 = ``<unk>``).
        num_tags: K.
        char_vocabulary_size: character vocabulary size (needed with `char_features`).
        cell, cell_options, layers, units: the word-level deep bidirectional stack
            (`units` per direction).
        embedding_dim: word embedding width.
        word_dropout: probability of replacing a training word by ``<unk>``.
        char_features: add the character BiRNN features (`char_cell`,
            `char_embedding_dim`, `char_units`).
        dropout: on the stack's input and output; recurrent_dropout: variational on h.
        output: ``"crf"`` or ``"softmax"``.
        jit_compile: passed to the recurrent layers.

    Returns:
        `keras.Model` ``{"tokens": int[B, T], "chars": int[B, T, C]}`` →
        ``{"emissions": float32[B, T, K], "tags": int32[B, T]}`` (``"chars"`` is
        ignored without `char_features`, so every variant takes the same batches).

    Example:
        >>> model = build_tagger(50, 5, 30, units=8, layers=1, embedding_dim=8)
        >>> out = model({"tokens": np.ones((2, 4)), "chars": np.ones((2, 4, 3))})
        >>> out["emissions"].shape, out["tags"].shape
        (TensorShape([2, 4, 5]), TensorShape([2, 4]))
    """
    if output not in ("crf", "softmax"):
        raise ValueError(f"Argument `output` must be 'crf' or 'softmax', received output={output!r}")
    if char_features and char_vocabulary_size < 2:
        raise ValueError("char_features needs `char_vocabulary_size` ≥ 2, "
                         f"received char_vocabulary_size={char_vocabulary_size!r}")
    tokens = keras.Input((None,), dtype="int64", name="tokens")
    chars = keras.Input((None, None), dtype="int64", name="chars")
    inputs = {"tokens": tokens, "chars": chars}  # "chars" is unused without char_features
    ids = WordDropout(word_dropout, name="word_dropout")(tokens)
    x = keras.layers.Embedding(vocabulary_size, embedding_dim, mask_zero=True, name="embedding")(ids)
    if char_features:
        features = CharacterFeatures(char_vocabulary_size, char_embedding_dim, char_units, char_cell,
                                     jit_compile=jit_compile, name="char_features")(chars)
        x = keras.layers.Concatenate(name="word_features")([x, features])
    x = TokenMask(name="token_mask")([x, tokens])
    x = keras.layers.Dropout(dropout, name="input_dropout")(x)
    cells = [make_cell(cell, units, cell_options) for _ in range(layers)]
    x = StackedRecurrent(cells, bidirectional=True, return_sequences=True, recurrent_dropout=recurrent_dropout,
                         jit_compile=jit_compile, name="recurrent")(x)
    x = keras.layers.Dropout(dropout, name="output_dropout")(x)
    emissions = keras.layers.Dense(num_tags, name="emissions")(x)
    head = CRF(num_tags, name="crf") if output == "crf" else ArgmaxTags(name="argmax")
    tags = head(emissions)
    return keras.Model(inputs, {"emissions": emissions, "tags": tags}, name=name)


def tagger_loss(model: keras.Model):
    """The training loss on the ``"emissions"`` output: CRF NLL or masked cross-entropy."""
    if _has_layer(model, "crf"):
        return crf_loss(model.get_layer("crf"))
    return keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def tagger_model(model: keras.Model) -> keras.Model:
    """The decoding model sharing `model`'s layers: inputs → ``int32[B, T]`` tag ids."""
    return keras.Model(model.input, model.get_layer("crf" if _has_layer(model, "crf") else "argmax").output,
                       name=f"{model.name}_decoder")


def _has_layer(model, name) -> bool:
    return any(layer.name == name for layer in model.layers)
