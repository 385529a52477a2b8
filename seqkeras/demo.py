"""`seqkeras demo`: a character LSTM on the embedded Tiny Shakespeare, in a minute or two.

A stand-in for the full language-model pipeline: it reads the packaged corpus with
tf.data, trains Embedding → Recurrent(LSTMCell) → Dense briefly and prints sampled text.
"""

import importlib.resources

import keras
import numpy as np
import tensorflow as tf

from seqkeras.cells import LSTMCell
from seqkeras.layers import Recurrent

CORPUS = "tinyshakespeare.txt.gz"


def corpus_path():
    """Path of the packaged Tiny Shakespeare (public domain)."""
    return str(importlib.resources.files("seqkeras") / "corpora" / CORPUS)


def configure(parser):
    parser.add_argument("--steps", type=int, default=300, help="training steps")
    parser.add_argument("--units", type=int, default=256)
    parser.add_argument("--length", type=int, default=300, help="characters to generate")
    parser.add_argument("--seed", type=int, default=0)


def main(args):
    keras.utils.set_random_seed(args.seed)
    text = tf.io.read_file(corpus_path())
    text = tf.io.decode_compressed(text, compression_type="GZIP")
    chars = tf.strings.unicode_split(text, "UTF-8")
    lookup = keras.layers.StringLookup(mask_token=None)
    lookup.adapt(tf.data.Dataset.from_tensor_slices(chars).batch(65536))
    ids = lookup(chars)
    window = 100
    dataset = (
        tf.data.Dataset.from_tensor_slices(ids)
        .batch(window + 1, drop_remainder=True)
        .map(lambda w: (w[:-1], w[1:]))
        .shuffle(2048, seed=args.seed)
        .batch(32, drop_remainder=True)
        .repeat()
        .prefetch(tf.data.AUTOTUNE)
    )
    vocab = lookup.vocabulary_size()
    model = keras.Sequential(
        [
            keras.layers.Embedding(vocab, 64),
            Recurrent(LSTMCell(args.units), return_sequences=True),
            keras.layers.Dense(vocab),
        ]
    )
    model.compile(
        keras.optimizers.Adam(3e-3, clipnorm=5.0),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    model.fit(dataset, steps_per_epoch=args.steps, epochs=1)

    # Sample with the cell one step at a time, carrying the state.
    embedding, recurrent, dense = model.layers
    vocabulary = lookup.get_vocabulary()
    rng = np.random.default_rng(args.seed)
    prompt = "ROMEO:\n"
    token_ids = list(np.array(lookup(tf.strings.unicode_split(prompt, "UTF-8"))))
    states = recurrent.cell.get_initial_state(1)
    for token in token_ids[:-1]:
        _, states = recurrent.cell(embedding(np.array([token])), states)
    token, generated = token_ids[-1], [prompt]
    for _ in range(args.length):
        output, states = recurrent.cell(embedding(np.array([token])), states)
        logits = np.array(dense(output), np.float64)[0] / 0.8
        probs = np.exp(logits - logits.max())
        token = rng.choice(vocab, p=probs / probs.sum())
        generated.append(vocabulary[token])
    print("".join(generated))
    return 0
