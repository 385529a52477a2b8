"""Tagger shapes (CRF / softmax, with / without character features), masks, layers."""

import numpy as np
import pytest
import tensorflow as tf

from seqkeras.layers.crf import CRF
from seqkeras.tagging.model import WordDropout, build_tagger, tagger_loss, tagger_model

V, K, CV = 30, 5, 20


def _batch():
    rng = np.random.default_rng(0)
    tokens = rng.integers(2, V, (3, 6))
    tokens[1, 4:] = 0
    tokens[2, 1:] = 0
    chars = rng.integers(1, CV, (3, 6, 4))
    chars[tokens == 0] = 0
    return {"tokens": tokens, "chars": chars}, rng.integers(0, K, (3, 6)).astype("int32")


@pytest.mark.parametrize("output, char_features", [("crf", True), ("crf", False), ("softmax", True),
                                                    ("softmax", False)])
def test_tagger_shapes_and_masks(output, char_features):
    model = build_tagger(V, K, CV, units=4, layers=2, embedding_dim=4, char_embedding_dim=3, char_units=2,
                         output=output, char_features=char_features)
    x, _ = _batch()
    out = model(x)
    assert out["emissions"].shape == (3, 6, K) and out["tags"].shape == (3, 6)
    np.testing.assert_array_equal(np.asarray(out["emissions"]._keras_mask), x["tokens"] != 0)
    tags = np.asarray(tagger_model(model)(x))
    assert tags.dtype == np.int32 and tags.shape == (3, 6)
    assert np.all(tags[x["tokens"] == 0] == 0) and np.all((tags >= 0) & (tags < K))
    names = {v.path for v in model.trainable_variables}
    assert any("transitions" in n for n in names) == (output == "crf")
    assert any("char_features" in n for n in names) == char_features


def test_train_step_trains_the_crf_transitions():
    model = build_tagger(V, K, CV, units=4, layers=1, embedding_dim=4, char_embedding_dim=3, char_units=2,
                         word_dropout=0.1)
    model.compile(optimizer="adam", loss={"emissions": tagger_loss(model)})
    x, y = _batch()
    before = np.array(model.get_layer("crf").transitions)
    assert np.isfinite(model.train_on_batch(x, y))
    assert not np.allclose(before, np.array(model.get_layer("crf").transitions))


def test_padding_does_not_change_the_tags():
    model = build_tagger(V, K, CV, units=4, layers=1, embedding_dim=4, char_embedding_dim=3, char_units=2)
    decoder = tagger_model(model)
    x, _ = _batch()
    short = {"tokens": x["tokens"][:1, :3], "chars": x["chars"][:1, :3]}
    longer = {"tokens": np.pad(short["tokens"], [[0, 0], [0, 4]]),
              "chars": np.pad(short["chars"], [[0, 0], [0, 4], [0, 2]])}
    np.testing.assert_array_equal(np.asarray(decoder(short)), np.asarray(decoder(longer))[:, :3])


def test_crf_skips_viterbi_in_training_mode():
    crf = CRF(3)
    emissions = tf.constant([[[0.0, 2.0, 0.0], [3.0, 0.0, 0.0]]])
    mask = tf.constant([[True, False]])
    np.testing.assert_array_equal(crf(emissions, mask=mask, training=True), [[1, 0]])
    decoding = CRF(3, viterbi_in_training=True)
    np.testing.assert_array_equal(decoding(emissions, mask=mask, training=True),
                                  decoding.decode(emissions, mask)[0])
    assert CRF.from_config(decoding.get_config()).viterbi_in_training


def test_word_dropout():
    ids = tf.constant([[5, 6, 7, 0]] * 200, tf.int64)
    layer = WordDropout(0.5, seed=1)
    np.testing.assert_array_equal(layer(ids), ids)
    dropped = np.asarray(layer(ids, training=True))
    assert np.all(dropped[:, 3] == 0)
    assert 0.3 < np.mean(dropped[:, :3] == 1) < 0.7
    with pytest.raises(ValueError, match="rate"):
        WordDropout(1.0)
    with pytest.raises(ValueError, match="output"):
        build_tagger(V, K, CV, output="mlp")
