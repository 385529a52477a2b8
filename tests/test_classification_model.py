"""Classifier model: shapes for every pooling, padding invariance, empty rows, spec checks."""

import keras
import numpy as np
import pytest

from seqkeras.classification import AttentionPooling, SequencePooling, Spec, build_classifier
from seqkeras.pipeline.spec import SpecError, parse_spec

IDS = np.array([[4, 5, 6, 0], [7, 0, 0, 0], [0, 0, 0, 0]], "int32")


@pytest.mark.parametrize("pooling", ["final", "mean", "max", "attention"])
def test_shapes_padding_and_empty_rows(pooling):
    model = build_classifier(30, 3, cell="gru", units=4, embedding_dim=4, pooling=pooling)
    out = keras.ops.convert_to_numpy(model(IDS))
    assert out.shape == (3, 3)
    assert np.all(np.isfinite(out))                                  # empty row 2: defined
    np.testing.assert_allclose(out.sum(axis=1), 1.0, atol=1e-5)
    alone = keras.ops.convert_to_numpy(model(IDS[:1, :3]))          # padding changes nothing
    np.testing.assert_allclose(out[0], alone[0], atol=1e-5)
    assert (pooling == "final") == ("pooling" not in [layer.name for layer in model.layers])


def test_pooling_layers_match_numpy():
    x = np.random.default_rng(0).normal(size=(2, 3, 5)).astype("float32")
    mask = np.array([[True, True, False], [False, False, False]])
    mean = keras.ops.convert_to_numpy(SequencePooling("mean")(x, mask=mask))
    top = keras.ops.convert_to_numpy(SequencePooling("max")(x, mask=mask))
    np.testing.assert_allclose(mean[0], x[0, :2].mean(0), atol=1e-6)
    np.testing.assert_allclose(top[0], x[0, :2].max(0), atol=1e-6)
    np.testing.assert_allclose(mean[1], 0.0)
    np.testing.assert_allclose(top[1], 0.0)
    attention = AttentionPooling(4)
    attention(x, mask=mask)
    weights = keras.ops.convert_to_numpy(attention.attention_weights(x, mask))
    np.testing.assert_allclose(weights[0].sum(), 1.0, atol=1e-6)
    assert weights[0, 2] == 0.0 and np.all(weights[1] == 0.0)


def test_spec_rejects_bad_values():
    base = {"application": "classification", "data": {"train": "x.tsv"}}
    parse_spec(Spec, base)
    with pytest.raises(SpecError, match="model.pooling"):
        parse_spec(Spec, {**base, "model": {"pooling": "sum"}})
    with pytest.raises(SpecError, match="data.format"):
        parse_spec(Spec, {**base, "data": {"train": "x", "format": "json"}})
    with pytest.raises(SpecError, match="unknown key"):
        parse_spec(Spec, {**base, "model": {"unit": 3}})
    with pytest.raises(SpecError, match="model.cell"):
        parse_spec(Spec, {**base, "model": {"cell": "lstm-cifg"}})
    with pytest.raises(SpecError, match="model.output_dropout"):
        parse_spec(Spec, {**base, "model": {"output_dropout": 1.0}})
    with pytest.raises(SpecError, match="data.tokenizer"):
        parse_spec(Spec, {**base, "data": {"train": "x", "tokenizer": "bpe"}})
    with pytest.raises(SpecError, match="data.strip_punctuation.*treebank"):
        parse_spec(Spec, {**base, "data": {"train": "x", "tokenizer": "treebank", "strip_punctuation": True}})


def test_serving_token_limit_defaults_to_the_training_cut():
    base = {"application": "classification", "data": {"train": "x.tsv"}}
    assert parse_spec(Spec, base).max_tokens == 2048
    assert parse_spec(Spec, {**base, "data": {"train": "x", "max_length": 50}}).max_tokens == 50
    limited = {**base, "data": {"train": "x", "max_length": 50}, "export": {"max_tokens": 7}}
    assert parse_spec(Spec, limited).max_tokens == 7
