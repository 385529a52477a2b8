"""Translator: teacher forcing == the decoding step; greedy == beam 1; exhaustive beam optimum."""

import itertools

import keras
import numpy as np
import pytest
import tensorflow as tf

from seqkeras.translation import decoding
from seqkeras.translation.model import Translator, translation_loss

VARIANTS = [("luong", False, "general"), ("luong", True, "general"), ("luong", False, "dot"),
            ("bahdanau", False, "general"), ("none", False, "general")]


def _model(attention="luong", feeding=False, score="general", cell="gru", vocab=12, layers=1, tie=False):
    keras.utils.set_random_seed(0)  # also the Keras seed generator: the same weights in any test order
    return Translator(10, vocab, cell=cell, embedding_dim=6, encoder_units=4, units=8, decoder_layers=layers,
                      attention=attention, input_feeding=feeding, luong_score=score, tie_embeddings=tie)


@pytest.mark.parametrize("attention,feeding,score", VARIANTS)
def test_teacher_forcing_equals_step_by_step(attention, feeding, score):
    model = _model(attention, feeding, score, cell="lstm", layers=2)
    rng = np.random.default_rng(0)
    source = rng.integers(1, 10, (3, 6))
    source[0, 3:] = 0
    target_in = rng.integers(1, 12, (3, 5))
    full = model((source, target_in)).numpy()
    context, states = model.encode(source)
    steps = []
    for t in range(target_in.shape[1]):
        logits, states = model.step(target_in[:, t], states, context)
        steps.append(logits.numpy())
    np.testing.assert_allclose(full, np.stack(steps, 1), atol=1e-5)


def test_tied_output_layer_is_the_target_embedding(tmp_path):
    model = _model(tie=True)
    rng = np.random.default_rng(1)
    source, target_in = rng.integers(1, 10, (2, 4)), rng.integers(1, 12, (2, 3))
    context, states = model.encode(source)
    logits, _ = model.step(target_in[:, 0], states, context)
    o, _ = model.decoder.step(model.target_embedding(target_in[:, 0]), states, context)
    embedding = model.target_embedding.embeddings.numpy()
    projection = model.output_layer.projection.numpy()
    expected = o.numpy() @ projection @ embedding.T + model.output_layer.bias.numpy()
    np.testing.assert_allclose(logits.numpy(), expected, rtol=1e-5, atol=1e-5)
    # one shared matrix: no [units, V] kernel, each variable trained once
    assert len(model.trainable_weights) == len({id(v) for v in model.trainable_weights})
    assert not any(v.shape == (8, 12) for v in model.trainable_weights)
    model.target_embedding.embeddings.assign(embedding + 0.5)  # differ from a fresh model's
    model.save_weights(str(tmp_path / "tied.weights.h5"))
    reloaded = _model(tie=True)
    assert not np.allclose(reloaded((source, target_in)).numpy(), model((source, target_in)).numpy())
    reloaded.load_weights(str(tmp_path / "tied.weights.h5"))
    np.testing.assert_allclose(reloaded((source, target_in)).numpy(), model((source, target_in)).numpy(), atol=1e-6)


def test_source_padding_does_not_change_the_output():
    model = _model("bahdanau")
    source = np.array([[4, 5, 6]])
    padded = np.array([[4, 5, 6, 0, 0]])
    target_in = np.array([[2, 7, 8]])
    np.testing.assert_allclose(model((source, target_in)), model((padded, target_in)), atol=1e-5)


def test_label_smoothed_loss_ignores_padding():
    logits = tf.constant(np.random.default_rng(1).normal(size=(2, 3, 5)).astype("float32"))
    y = tf.constant([[1, 2, 0], [3, 0, 0]])
    loss = translation_loss(0.1)(y, logits)
    log_p = tf.nn.log_softmax(logits).numpy()
    terms = [0.9 * -log_p[b, t, y[b, t]] - 0.1 * log_p[b, t].mean() for b, t in [(0, 0), (0, 1), (1, 0)]]
    np.testing.assert_allclose(loss, np.mean(terms), rtol=1e-5)


@pytest.mark.parametrize("attention", ["luong", "none"])
def test_greedy_equals_beam_width_one(attention):
    model = _model(attention)
    source = np.random.default_rng(2).integers(1, 10, (4, 5))
    source[1, 2:] = 0
    limits = decoding.length_limits(source, 0, 1.5, 2, 20)
    tokens, lengths = decoding.greedy(model, source, limits)
    beam_tokens, beam_lengths, _ = decoding.beam_search(model, source, limits, 1, length_penalty=0.6)
    n = tokens.shape[1]
    np.testing.assert_array_equal(tokens, beam_tokens[:, :n])
    np.testing.assert_array_equal(lengths, beam_lengths)


def _sequence_log_prob(model, source, tokens):
    context, states = model.encode(source[None])
    logits, states = model.step(tf.constant([decoding.BOS_ID]), states, context)
    total = 0.0
    for token in tokens:
        total += float(tf.nn.log_softmax(logits)[0, token])
        logits, states = model.step(tf.constant([token]), states, context)
    return total


def test_beam_search_finds_the_exhaustive_optimum():
    """Vocabulary of 5 (pad, unk, bos, eos, x): width ≥ V^(L−1) makes beam search exhaustive."""
    vocab, max_len = 5, 3
    model = _model("luong", vocab=vocab)
    source = np.array([3, 4, 5, 6])
    best_score, best = -np.inf, None
    for length in range(1, max_len + 1):
        for seq in itertools.product(range(vocab), repeat=length):
            ends = seq[-1] == decoding.EOS_ID or length == max_len
            if decoding.EOS_ID in seq[:-1] or not ends:
                continue
            score = _sequence_log_prob(model, source, seq)
            if score > best_score:
                best_score, best = score, seq
    tokens, lengths, scores = decoding.beam_search(model, source[None], tf.constant([max_len]), vocab ** 2,
                                                   length_penalty=0.0)
    found = tuple(tokens[0, :int(lengths[0])].numpy())
    assert found == best
    np.testing.assert_allclose(scores[0], best_score, rtol=1e-5)


def test_length_limits():
    source = np.array([[5, 6, 7, 0], [0, 0, 0, 0]])
    np.testing.assert_array_equal(decoding.length_limits(source, 0, 1.5, 2, 100), [6, 2])
    np.testing.assert_array_equal(decoding.length_limits(source, 4, 1.5, 2, 100), [4, 4])
    np.testing.assert_array_equal(decoding.length_limits(source, 0, 1.5, 2, 3), [3, 2])
