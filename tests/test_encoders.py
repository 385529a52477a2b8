"""Tests of `seqkeras.encoders`: shapes, masking, config round trip, pretrained embeddings."""

import keras
import numpy as np
import pytest

from seqkeras.cells import GRUCell, LSTMCell
from seqkeras.encoders import TextEncoder, build_text_encoder, make_cell

IDS = np.array([[5, 6, 7, 0, 0], [8, 9, 0, 0, 0], [0, 0, 0, 0, 0]], "int32")


@pytest.mark.parametrize("bidirectional,return_sequences,expected", [
    (True, False, (3, 16)), (False, False, (3, 8)), (True, True, (3, 5, 16)), (False, True, (3, 5, 8)),
])
def test_shapes(bidirectional, return_sequences, expected):
    encoder = build_text_encoder(20, 6, cell="gru", layers=2, units=8, bidirectional=bidirectional,
                                 return_sequences=return_sequences)
    out = encoder(IDS)
    assert tuple(out.shape) == expected
    assert encoder.output_dim == expected[-1]
    assert np.all(np.isfinite(keras.ops.convert_to_numpy(out)))


def test_padding_is_ignored_and_empty_rows_are_zero():
    encoder = build_text_encoder(20, 6, cell="lstm", layers=2, units=8, bidirectional=True)
    padded = keras.ops.convert_to_numpy(encoder(IDS))
    alone = keras.ops.convert_to_numpy(encoder(IDS[:1, :3]))
    np.testing.assert_allclose(padded[0], alone[0], atol=1e-5)
    np.testing.assert_allclose(padded[2], 0.0)          # all padding: the zero state


def test_mask_reaches_next_layer_in_functional_model():
    ids = keras.Input((None,), dtype="int32")
    seq = build_text_encoder(20, 6, units=4, bidirectional=False, return_sequences=True)(ids)
    assert getattr(seq, "_keras_mask", None) is not None
    pooled = keras.layers.GlobalAveragePooling1D()(seq)
    model = keras.Model(ids, pooled)
    out = keras.ops.convert_to_numpy(model(IDS))
    full = keras.ops.convert_to_numpy(model(IDS[:1, :3]))
    np.testing.assert_allclose(out[0], full[0], atol=1e-5)


def test_config_round_trip_and_keras_save(tmp_path):
    encoder = build_text_encoder(20, 6, cell="lstm:cifg", layers=1, units=4, dropout=0.1)
    ids = keras.Input((None,), dtype="int32")
    model = keras.Model(ids, encoder(ids))
    clone = TextEncoder.from_config(encoder.get_config())
    assert clone.get_config() == encoder.get_config()
    path = tmp_path / "encoder.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(loaded(IDS)),
                               keras.ops.convert_to_numpy(model(IDS)), atol=1e-6)


def test_pretrained_embeddings_frozen():
    matrix = np.random.default_rng(0).normal(size=(20, 6)).astype("float32")
    encoder = build_text_encoder(20, 6, units=4, embeddings=matrix, train_embeddings=False)
    encoder(IDS)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(encoder.embedding.embeddings), matrix)
    assert not encoder.embedding.trainable
    with pytest.raises(ValueError, match="embeddings"):
        build_text_encoder(20, 5, units=4, embeddings=matrix)


def test_make_cell():
    assert isinstance(make_cell("gru", 3), GRUCell)
    cell = make_cell("lstm:cifg", 3)
    assert isinstance(cell, LSTMCell) and cell.get_config()["variant"] == "cifg"
    with pytest.raises(ValueError, match="cell"):
        make_cell("transformer", 3)


def test_load_word_vectors(tmp_path):
    from seqkeras.data import Vocabulary
    from seqkeras.encoders import load_word_vectors

    path = tmp_path / "vectors.txt"
    path.write_text("3 2\ngood 1.0 2.0\nbad -1 -2\nunseen 5 5\n", encoding="utf-8")
    vocabulary = Vocabulary(["<pad>", "<unk>", "good", "bad", "film"])
    matrix, found = load_word_vectors(path, vocabulary)
    assert matrix.shape == (5, 2) and found == 2
    np.testing.assert_allclose(matrix[2:4], [[1, 2], [-1, -2]])
    np.testing.assert_allclose(matrix[0], 0.0)
    assert np.all(np.abs(matrix[4]) <= 0.05)
