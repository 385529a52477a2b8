"""word2vec text/binary files ↔ gensim; embedding initialisation; SavedModel export."""

import numpy as np
import pytest
from without_seqkeras import call_signatures

from seqkeras.data import DataError
from seqkeras.word2vec import vectors as io
from seqkeras.word2vec.evaluation import WordVectors

WORDS = ["the", "king", "queen", "café", "naïve"]


def _vectors(dim=6):
    return np.random.default_rng(0).normal(size=(len(WORDS), dim)).astype(np.float32)


@pytest.mark.parametrize("binary", [False, True])
def test_round_trip_with_gensim(tmp_path, binary):
    KeyedVectors = pytest.importorskip("gensim.models").KeyedVectors
    vectors = _vectors()
    path = tmp_path / ("v.bin" if binary else "v.txt")
    io.save_word2vec_format(path, WORDS, vectors, binary=binary)
    kv = KeyedVectors.load_word2vec_format(str(path), binary=binary)
    assert kv.index_to_key == WORDS
    np.testing.assert_allclose(kv.vectors, vectors, rtol=1e-6)
    back = io.load_word2vec_format(path)                     # format guessed
    assert back.words == WORDS
    np.testing.assert_allclose(back.vectors, vectors, rtol=1e-6)
    # and files written by gensim read back here
    theirs = tmp_path / ("g.bin" if binary else "g.txt")
    kv.save_word2vec_format(str(theirs), binary=binary)
    again = io.load_word2vec_format(theirs, binary=binary)
    assert again.words == WORDS
    np.testing.assert_allclose(again.vectors, vectors, rtol=1e-6)


def test_bad_vector_files(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("2 3\nthe 1 2 3\nking 1 2\n")
    with pytest.raises(DataError, match="bad.txt:3"):
        io.load_word2vec_format(bad, binary=False)
    header = tmp_path / "header.txt"
    header.write_text("the 1 2 3\n")
    with pytest.raises(DataError, match="header.txt:1"):
        io.load_word2vec_format(header)
    with pytest.raises(ValueError, match="whitespace"):
        io.save_word2vec_format(tmp_path / "x.txt", ["two words"], np.zeros((1, 2)))


def test_embedding_matrix_for_another_vocabulary():
    wv = WordVectors(WORDS, _vectors())
    tokens = ["<pad>", "<unk>", "King", "the", "unseen"]
    matrix, found = io.embedding_matrix(tokens, wv, lowercase=True)
    assert found == 2 and matrix.shape == (5, 6)
    np.testing.assert_array_equal(matrix[0], 0)
    np.testing.assert_array_equal(matrix[2], wv["king"])
    np.testing.assert_array_equal(matrix[3], wv["the"])
    assert np.abs(matrix[4]).max() > 0


def test_export_loads_without_seqkeras(tmp_path):
    from seqkeras.serving import read_warmup_requests
    from seqkeras.word2vec.server import export_vectors

    vectors = _vectors()
    path = export_vectors(WORDS, vectors, tmp_path / "saved_models", "word2vec", version="auto")
    assert path.name == "1" and (path / "assets.extra" / "tf_serving_warmup_requests").is_file()
    assert read_warmup_requests(path)[0][0] == "word2vec"
    signatures, (out, empty) = call_signatures(path, [
        ("serving_default", {"words": ["king", " Queen ", "nosuchword", "café"]}),
        ("serving_default", {"words": []})])
    assert signatures == ["serving_default"]
    assert out["vectors"].dtype == np.float32 and out["known"].dtype == np.bool_
    np.testing.assert_allclose(out["vectors"][[0, 1, 3]], vectors[[1, 2, 3]], rtol=1e-6)
    assert (out["vectors"][2] == 0).all()
    assert out["known"].tolist() == [True, True, False, True]
    assert empty["vectors"].size == 0
    second = export_vectors(WORDS, vectors, tmp_path / "saved_models", "word2vec")
    assert second.name == "2"


def test_starter_reads_text_files_and_csv_text_columns(tmp_path):
    from seqkeras.pipeline import registry

    app = registry.get("word2vec")
    text = tmp_path / "corpus.txt"
    text.write_text("the cat sat\n", encoding="utf-8")
    reviews = tmp_path / "reviews.csv"
    reviews.write_text("label,Text\n1,a fine film\n", encoding="utf-8")
    assert app.starter([str(text), str(reviews)]) == {"data.sources": [str(text), f"{reviews}#Text"]}
    numbers = tmp_path / "numbers.csv"
    numbers.write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(ValueError, match="text column"):
        app.starter([str(numbers)])
    empty = tmp_path / "empty.txt"
    empty.write_text("\n", encoding="utf-8")
    with pytest.raises(ValueError, match="empty"):
        app.starter([str(empty)])
