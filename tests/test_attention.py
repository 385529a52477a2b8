"""`seqkeras.layers.Attention`: shapes, masking, NumPy references, config."""

import numpy as np
import pytest
import tensorflow as tf

from seqkeras.layers import Attention


def _softmax(x, axis=-1):
    x = x - x.max(axis=axis, keepdims=True)
    e = np.exp(x)
    return e / e.sum(axis=axis, keepdims=True)


def _reference(layer, query, memory, mask):
    """Scores, masked softmax and context written out in NumPy, one query at a time."""
    weights = [w.numpy() for w in layer.weights]
    B, S, _ = memory.shape
    scores = np.zeros((B, S))
    for b in range(B):
        for s in range(S):
            q, m = query[b], memory[b, s]
            if layer.score == "additive":
                wq, wk, v = weights
                scores[b, s] = v @ np.tanh(q @ wq + m @ wk)
            elif layer.score == "general":
                scores[b, s] = q @ weights[0] @ m
            else:
                scores[b, s] = q @ m
    alpha = np.zeros((B, S))
    for b in range(B):
        valid = mask[b]
        alpha[b, valid] = _softmax(scores[b, valid])
    return np.einsum("bs,bsd->bd", alpha, memory), alpha


@pytest.mark.parametrize("score", ["additive", "general", "dot"])
def test_matches_numpy_reference(score):
    rng = np.random.default_rng(0)
    query = rng.normal(size=(3, 4)).astype("float32")
    memory = rng.normal(size=(3, 5, 4)).astype("float32")
    mask = np.array([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0], [1, 0, 0, 0, 0]], bool)
    layer = Attention(score, units=6)
    context, weights = layer(query, memory, memory_mask=mask)
    ref_context, ref_weights = _reference(layer, query.astype("float64"), memory.astype("float64"), mask)
    np.testing.assert_allclose(weights.numpy(), ref_weights, atol=1e-5)
    np.testing.assert_allclose(context.numpy(), ref_context, atol=1e-5)


@pytest.mark.parametrize("score", ["additive", "general", "dot"])
def test_sequence_query_equals_per_step_queries(score):
    rng = np.random.default_rng(1)
    queries = rng.normal(size=(2, 3, 4)).astype("float32")
    memory = rng.normal(size=(2, 6, 4)).astype("float32")
    mask = np.array([[1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1]], bool)
    layer = Attention(score)
    context, weights = layer(queries, memory, memory_mask=mask)
    assert context.shape == (2, 3, 4) and weights.shape == (2, 3, 6)
    for t in range(3):
        c_t, w_t = layer(queries[:, t], memory, memory_mask=mask, keys=layer.keys(memory))
        np.testing.assert_allclose(context[:, t], c_t, atol=1e-6)
        np.testing.assert_allclose(weights[:, t], w_t, atol=1e-6)


def test_padded_positions_get_zero_weight_and_padding_values_do_not_matter():
    rng = np.random.default_rng(2)
    memory = rng.normal(size=(2, 5, 4)).astype("float32")
    mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 0]], bool)
    query = rng.normal(size=(2, 4)).astype("float32")
    layer = Attention("general")
    context, weights = layer(query, memory, memory_mask=mask)
    assert np.all(weights.numpy()[~mask] == 0.0)
    np.testing.assert_allclose(weights.numpy().sum(-1), 1.0, atol=1e-6)
    garbage = memory.copy()
    garbage[~mask] = 1e3
    context2, _ = layer(query, garbage, memory_mask=mask)
    np.testing.assert_allclose(context, context2, atol=1e-5)


def test_fully_masked_row_gives_zeros_not_nan():
    layer = Attention("additive")
    context, weights = layer(np.ones((2, 3), "float32"), np.ones((2, 4, 3), "float32"),
                             memory_mask=np.array([[0, 0, 0, 0], [1, 0, 0, 0]], bool))
    assert np.all(np.isfinite(context)) and np.all(context.numpy()[0] == 0) and np.all(weights.numpy()[0] == 0)
    np.testing.assert_allclose(weights.numpy()[1], [1, 0, 0, 0])


def test_errors_and_config_round_trip():
    with pytest.raises(ValueError, match="score"):
        Attention("cosine")
    with pytest.raises(ValueError, match="same width"):
        Attention("dot")(np.ones((1, 3), "float32"), np.ones((1, 2, 4), "float32"))
    layer = Attention("additive", units=7, name="att")
    clone = Attention.from_config(layer.get_config())
    assert (clone.score, clone.units, clone.name) == ("additive", 7, "att")


def test_gradients_flow_to_every_weight():
    layer = Attention("additive")
    query = tf.Variable(np.ones((2, 3), "float32"))
    memory = tf.constant(np.random.default_rng(3).normal(size=(2, 4, 3)).astype("float32"))
    with tf.GradientTape() as tape:
        context, _ = layer(query, memory)
        loss = tf.reduce_sum(context ** 2)
    grads = tape.gradient(loss, [query, *layer.trainable_weights])
    assert all(g is not None and np.all(np.isfinite(g)) for g in grads)
