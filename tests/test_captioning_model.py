"""Captioner: shapes, one encoder pass for K captions == decoding each image alone, greedy ==
beam width 1, beam search == the exhaustive optimum, the keras.applications encoder path."""

import itertools

import keras
import numpy as np
import pytest
import tensorflow as tf

from seqkeras.captioning.data import BOS_ID, EOS_ID
from seqkeras.captioning.model import Captioner, application_constructor, build_image_encoder
from seqkeras.sampling import beam_decode, greedy_decode

ATTENTIONS = ["luong", "bahdanau", "none"]


def _model(attention="luong", vocab=12, cell="gru", **kwargs):
    keras.utils.set_random_seed(0)
    return Captioner(vocab, image_size=32, encoder_width=4, encoder_blocks=2, cell=cell, units=8, embedding_dim=6,
                     attention=attention, dropout=0.0, **kwargs)


def _images(count, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (count, 32, 32, 3)).astype("uint8")


def test_encoder_map_and_logits_shapes():
    assert build_image_encoder(image_size=96, width=8, blocks=4).output_shape == (None, 6, 6, 64)
    model = _model(memory_dim=10)
    memory, summary = model.image_features(_images(3))
    assert memory.shape == (3, 8 * 8, 10) and summary.shape == (3, 10)       # 32 / 2² = 8 → 64 positions
    logits = model((_images(3), np.ones((6, 5), "int32")))                   # K = 2 captions per image
    assert logits.shape == (6, 5, 12) and logits.dtype == tf.float32


@pytest.mark.parametrize("attention", ATTENTIONS)
def test_k_captions_per_image_equal_step_by_step_decoding(attention):
    """One encoder pass for K captions: row b·K + j is caption j of image b, decoded alone."""
    model = _model(attention, cell="lstm")
    images = _images(2, seed=1)
    captions = np.random.default_rng(2).integers(1, 12, (6, 4))               # K = 3
    full = model((images, captions)).numpy()
    for row in range(6):
        context, states = model.encode(images[row // 3:row // 3 + 1])
        for t in range(4):
            logits, states = model.step(captions[row:row + 1, t], states, context)
            np.testing.assert_allclose(full[row, t], logits.numpy()[0], atol=1e-5)


@pytest.mark.parametrize("attention", ["luong", "none"])
def test_greedy_equals_beam_width_one(attention):
    model = _model(attention)
    context, states = model.encode(_images(4, seed=3))
    limits = tf.constant([6, 3, 6, 1])
    tokens, lengths = greedy_decode(model, context, states, limits, BOS_ID, EOS_ID)
    beam_tokens, beam_lengths, _ = beam_decode(model, context, states, limits, 1, 0.0, BOS_ID, EOS_ID)
    np.testing.assert_array_equal(tokens, beam_tokens[:, :tokens.shape[1]])
    np.testing.assert_array_equal(lengths, beam_lengths)
    assert np.all(lengths.numpy() <= limits.numpy())


def test_beam_search_finds_the_exhaustive_optimum():
    """Vocabulary of 5 (pad, unk, bos, eos, x): width ≥ V^(L−1) makes beam search exhaustive."""
    vocab, max_len = 5, 3
    model = _model("bahdanau", vocab=vocab)
    image = _images(1, seed=4)
    context, states0 = model.encode(image)

    def log_prob(sequence):
        logits, states = model.step(tf.constant([BOS_ID]), states0, context)
        total = 0.0
        for token in sequence:
            total += float(tf.nn.log_softmax(logits)[0, token])
            logits, states = model.step(tf.constant([token]), states, context)
        return total

    best_score, best = -np.inf, None
    for length in range(1, max_len + 1):
        for sequence in itertools.product(range(vocab), repeat=length):
            if EOS_ID in sequence[:-1] or not (sequence[-1] == EOS_ID or length == max_len):
                continue
            score = log_prob(sequence)
            if score > best_score:
                best_score, best = score, sequence
    tokens, lengths, scores = beam_decode(model, context, states0, tf.constant([max_len]), vocab ** 2, 0.0,
                                          BOS_ID, EOS_ID)
    assert tuple(tokens[0, :int(lengths[0])].numpy()) == best
    np.testing.assert_allclose(scores[0], best_score, rtol=1e-5)


def test_keras_applications_encoder_with_random_weights():
    assert application_constructor("mobilenet_v3_small") is keras.applications.MobileNetV3Small
    model = Captioner(9, image_size=32, encoder="mobilenet_v3_small", units=8, embedding_dim=4, memory_dim=6)
    logits = model((_images(2), np.ones((2, 3), "int32")))
    assert logits.shape == (2, 3, 9) and np.all(np.isfinite(logits.numpy()))
    with pytest.raises(ValueError, match="keras.applications"):
        application_constructor("alexnet")


def test_weights_round_trip(tmp_path):
    model = _model()
    images, captions = _images(2), np.ones((4, 3), "int32")
    model.save_weights(str(tmp_path / "c.weights.h5"))
    other = _model()
    other.decoder.combine.kernel.assign(other.decoder.combine.kernel + 1.0)
    other.load_weights(str(tmp_path / "c.weights.h5"))
    np.testing.assert_allclose(model((images, captions)), other((images, captions)), atol=1e-6)
    assert Captioner.from_config(model.get_config()).get_config() == model.get_config()
