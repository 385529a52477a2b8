"""The language model: every cell, tied/untied softmax, bf16 output, state carrying."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from seqkeras.cells import CELLS
from seqkeras.language_model import LanguageModel, Logits, build_language_model, reset_states
from seqkeras.language_model.metrics import stream_nll, summarize
from seqkeras.layers import StackedRecurrent

V, B, T = 23, 3, 5


def ids(batch=B, steps=T, seed=0):
    return np.random.default_rng(seed).integers(0, V, size=(batch, steps)).astype("int32")


@pytest.mark.parametrize("cell", sorted(CELLS))
@pytest.mark.parametrize("tied", [False, True])
def test_builds_every_cell(cell, tied):
    dim = 8 if cell == "additive" else 6      # the additive cell sums its input into the state
    model = build_language_model(V, B, cell, layers=2, units=8, embedding_dim=dim, tie_embeddings=tied,
                                 dropout=0.1, jit_compile=False)
    assert model(ids()).shape == (B, T, V)
    assert isinstance(model.get_layer("recurrent"), StackedRecurrent)
    assert isinstance(model.get_layer("embedding"), keras.layers.Embedding)
    logits = model.get_layer("logits")
    assert logits.tied == tied
    # The contract with the export: logits callable on [B, units] as on [B, T, units].
    assert logits(tf.zeros([B, 8])).shape == (B, V)
    names = [w.path for w in logits.weights]
    assert any("projection" in n for n in names) == (tied and dim != 8)   # units ≠ embedding dims
    assert any("kernel" in n for n in names) == (not tied)


def test_tied_logits_use_the_embedding_matrix():
    model = build_language_model(V, B, "gru", layers=1, units=6, tie_embeddings=True, jit_compile=False)
    hidden = tf.random.normal([B, 6])
    embedding = model.get_layer("embedding").embeddings
    expected = tf.matmul(hidden, embedding, transpose_b=True) + model.get_layer("logits").bias
    np.testing.assert_allclose(model.get_layer("logits")(hidden), expected, rtol=1e-5, atol=1e-5)
    # One variable, trained through both uses: no copy of the embedding in the logits layer.
    assert len(model.trainable_variables) == len({id(v) for v in model.trainable_variables})
    assert not [w for w in model.get_layer("logits").weights if w.shape == embedding.shape]


def test_bfloat16_softmax_close_to_float32():
    hidden = tf.random.normal([4, 16], seed=1)
    full = Logits(V, kernel_initializer=keras.initializers.GlorotUniform(seed=0))
    half = Logits(V, precision="bfloat16", kernel_initializer=keras.initializers.GlorotUniform(seed=0))
    a, b = full(hidden), half(hidden)
    assert b.dtype == tf.float32
    np.testing.assert_allclose(a, b, atol=0.05)


def test_state_carried_across_batches_and_reset():
    model = build_language_model(V, B, "lstm", layers=1, units=8, jit_compile=False)
    x = ids(steps=10)
    whole = model(x).numpy()
    reset_states(model)
    first, second = model(x[:, :5]).numpy(), model(x[:, 5:]).numpy()
    np.testing.assert_allclose(np.concatenate([first, second], 1), whole, rtol=1e-4, atol=1e-5)
    reset_states(model)
    np.testing.assert_allclose(model(x[:, :5]).numpy(), first, rtol=1e-5, atol=1e-6)


def test_whole_stream_metrics():
    model = build_language_model(V, 2, "lstm", layers=1, units=8, jit_compile=False)
    x = ids(batch=2, steps=9, seed=3)
    windows = [(x[:, :4], x[:, 1:5]), (x[:, 4:8], x[:, 5:9])]
    total, count = stream_nll(model, windows)
    reset_states(model)
    logits = model(x[:, :8])
    expected = tf.reduce_sum(tf.nn.sparse_softmax_cross_entropy_with_logits(x[:, 1:9], logits))
    assert count == 16
    np.testing.assert_allclose(total, float(expected), rtol=1e-4)
    word, char = summarize(total, count, "word"), summarize(total, count, "char")
    np.testing.assert_allclose(word["perplexity"], np.exp(total / count), rtol=1e-9)
    np.testing.assert_allclose(char["bits_per_character"], total / count / np.log(2), rtol=1e-9)


def test_stateful_needs_a_batch_size():
    with pytest.raises(ValueError, match="batch_size"):
        build_language_model(V, None, "lstm")


def test_sampled_softmax_training_exact_evaluation():
    keras.utils.set_random_seed(0)
    model = build_language_model(V, B, "lstm", layers=1, units=8, tie_embeddings=True, jit_compile=False,
                                 sampled_softmax=5)
    model.compile(keras.optimizers.Adam(0.01), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    x = ids(steps=6, seed=1)
    data = tf.data.Dataset.from_tensors((x[:, :-1], x[:, 1:])).repeat(4)
    history = model.fit(data, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    reset_states(model)
    exact = model.evaluate(data.take(1), verbose=0)
    reset_states(model)
    logits = model(x[:, :-1])
    expected = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(x[:, 1:], logits))
    np.testing.assert_allclose(exact, float(expected), rtol=1e-4)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_stateless_step_and_run_sequence_match_the_stateful_call(cell, tmp_path):
    model = build_language_model(V, B, cell, layers=2, units=8, embedding_dim=6, tie_embeddings=True,
                                 jit_compile=False)
    x = ids(steps=7, seed=2)
    model(x)                                   # moves the carried state away from zero
    reset_states(model)
    expected = model(x).numpy()
    assert model.state_sizes == [8] * (4 if cell == "lstm" else 2)
    states = model.initial_states(B)
    steps = []
    for t in range(x.shape[1]):
        logits, states = model.step(tf.constant(x[:, t]), states)
        steps.append(logits.numpy())
    np.testing.assert_allclose(np.stack(steps, 1), expected, rtol=1e-4, atol=1e-5)
    outputs, final = model.run_sequence(x, None, model.initial_states(B))
    np.testing.assert_allclose(model.output_logits(outputs).numpy(), expected, rtol=1e-4, atol=1e-5)
    for a, b in zip(final, states):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-4, atol=1e-5)
    # The stateless pieces add no variable: the weights file is the model's own.
    model.save_weights(tmp_path / "lm.weights.h5")
    again = build_language_model(V, B, cell, layers=2, units=8, embedding_dim=6, tie_embeddings=True,
                                 jit_compile=False)
    again.load_weights(tmp_path / "lm.weights.h5")
    reset_states(again)
    np.testing.assert_allclose(again(x).numpy(), expected, rtol=1e-5, atol=1e-6)
    h5py = pytest.importorskip("h5py")
    with h5py.File(tmp_path / "lm.weights.h5") as stored:
        arrays = []
        stored.visititems(lambda name, item: arrays.append(name) if isinstance(item, h5py.Dataset) else None)
    assert len(arrays) == len(model.weights)


def test_language_model_names_its_missing_part():
    inputs = keras.Input((None,), dtype="int32")
    x = keras.layers.Embedding(V, 4, name="embedding")(inputs)
    with pytest.raises(ValueError, match="'recurrent'"):
        LanguageModel(inputs, keras.layers.Dense(V, name="logits")(x))
