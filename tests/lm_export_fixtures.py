"""Tiny trained language models for the export tests (word-level with <eos>, char-level)."""

import numpy as np
import tensorflow as tf
import keras

from seqkeras.cells import GRUCell, LSTMCell
from seqkeras.data.tokenizers import CharacterTokenizer, WordTokenizer
from seqkeras.layers import StackedRecurrent

WORD_CORPUS = ["the cat sat on the mat", "a dog ran to the park", "my bird sang in the tree"]
CHAR_CORPUS = ["hello world\n", "help me well\n"]


def build_lm(vocab_size, units=(24, 24), embedding_dim=16, residual=False, seed=0):
    """Embedding → StackedRecurrent(LSTM, GRU, ...) → Dense "logits", as the LM contract says."""
    keras.utils.set_random_seed(seed)
    cells = [LSTMCell(units[0])] + [GRUCell(u) for u in units[1:]]
    inputs = keras.Input((None,), dtype="int32")
    x = keras.layers.Embedding(vocab_size, embedding_dim, name="embedding")(inputs)
    x = keras.layers.Dropout(0.1)(x)
    x = StackedRecurrent(cells, return_sequences=True, residual=residual, name="recurrent")(x)
    x = keras.layers.Dropout(0.1)(x)
    logits = keras.layers.Dense(vocab_size, name="logits")(x)
    return keras.Model(inputs, logits)


def train(model, stream, steps=150, window=24, learning_rate=0.02, seed=0):
    """A few Adam steps on random windows of one id stream (stateless, teacher forcing)."""
    rng = np.random.default_rng(seed)
    stream = np.asarray(stream, np.int32)
    starts = rng.integers(0, len(stream) - window - 1, size=(steps, 8))
    x = np.stack([[stream[s:s + window] for s in row] for row in starts])
    y = np.stack([[stream[s + 1:s + window + 1] for s in row] for row in starts])
    model.compile(keras.optimizers.Adam(learning_rate),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    history = model.fit(x.reshape(-1, window), y.reshape(-1, window), batch_size=8, epochs=1,
                        verbose=0, shuffle=False)
    return history.history["loss"][-1]


def word_lm(seed=0, steps=150):
    tokenizer = WordTokenizer(add_eos=True)
    tokenizer.adapt(tf.data.Dataset.from_tensor_slices(WORD_CORPUS), reserved=("<pad>", "<unk>", "<eos>"))
    eos = tokenizer.vocabulary.eos_id
    lines = tokenizer(tf.constant(WORD_CORPUS)).to_list()
    # A stream that starts with <eos>, as a Mikolov stream does after the first line.
    stream = [eos] + [i for _ in range(40) for line in lines for i in line]
    model = build_lm(len(tokenizer.vocabulary), seed=seed)
    train(model, stream, steps=steps, seed=seed)
    return model, tokenizer


def char_lm(seed=0, steps=150):
    tokenizer = CharacterTokenizer()
    tokenizer.adapt(tf.data.Dataset.from_tensor_slices(CHAR_CORPUS))
    stream = tokenizer(tf.constant(["".join(CHAR_CORPUS) * 30])).flat_values.numpy()
    model = build_lm(len(tokenizer.vocabulary), seed=seed, residual=True, units=(20, 20))
    train(model, stream, steps=steps, seed=seed)
    return model, tokenizer
