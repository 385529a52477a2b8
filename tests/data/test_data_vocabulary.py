"""Vocabulary: counting from streams, ranking, file round trip, in-graph lookup."""

import collections

import pytest
import tensorflow as tf

from seqkeras.data import DataError, Vocabulary, load_or_fit

SENTENCES = [["b", "a", "c"], ["a", "b"], ["a", "d", "<unk>"]]


def ragged_dataset():
    return tf.data.Dataset.from_tensor_slices(tf.ragged.constant(SENTENCES))


def test_build_counts_and_orders_like_a_python_counter():
    counts = collections.Counter(t for s in SENTENCES for t in s)
    vocab = Vocabulary.build(ragged_dataset(), reserved=("<pad>", "<unk>", "<eos>"))
    expected = sorted((t for t in counts if t != "<unk>"), key=lambda t: (-counts[t], t))
    assert vocab.tokens == ["<pad>", "<unk>", "<eos>"] + expected
    assert vocab.counts["a"] == 3 and vocab.counts["<unk>"] == 1 and vocab.counts["<eos>"] == 0


@pytest.mark.parametrize("batching", ["scalars", "ragged_batches", "vectors"])
def test_build_accepts_every_element_layout(batching):
    flat = [t for s in SENTENCES for t in s]
    if batching == "scalars":
        dataset = tf.data.Dataset.from_tensor_slices(flat)
    elif batching == "ragged_batches":
        dataset = ragged_dataset().ragged_batch(2)
    else:
        dataset = tf.data.Dataset.from_generator(lambda: iter(SENTENCES), output_signature=tf.TensorSpec([None], tf.string))
    vocab = Vocabulary.build(dataset)
    assert vocab.counts == {**dict.fromkeys(vocab.tokens, 0), **collections.Counter(flat), "<pad>": 0}


def test_min_count_and_max_size_include_reserved():
    vocab = Vocabulary.build(ragged_dataset(), min_count=2)
    assert vocab.tokens == ["<pad>", "<unk>", "a", "b"]
    assert Vocabulary.build(ragged_dataset(), max_size=3).tokens == ["<pad>", "<unk>", "a"]


def test_save_load_round_trip_with_special_characters(tmp_path):
    vocab = Vocabulary(["<pad>", "<unk>", "<bos>", "\n", "\t", "\\", " ", "é"], {"\n": 5, "é": 2},
                       reserved=("<pad>", "<unk>", "<bos>"))
    loaded = Vocabulary.load(vocab.save(tmp_path / "v.txt"), expected_size=8)
    assert loaded == vocab and loaded.bos_id == 2 and loaded.eos_id is None


def test_load_plain_token_per_line_file(tmp_path):
    path = tmp_path / "plain.txt"
    path.write_text("<pad>\n<unk>\nthe\ncat\n", encoding="utf-8")
    assert Vocabulary.load(path).ids(["cat", "dog"]) == [3, 1]


def test_load_rejects_a_vocabulary_that_does_not_match_the_model(tmp_path):
    path = Vocabulary.build(ragged_dataset()).save(tmp_path / "v.txt")
    with pytest.raises(DataError, match="v.txt: vocabulary has 6 tokens but the model expects 10"):
        Vocabulary.load(path, expected_size=10)


def test_load_errors_name_file_and_line(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_text("<pad>\t0\n<unk>\t0\nx\tmany\n", encoding="utf-8")
    with pytest.raises(DataError) as info:
        Vocabulary.load(path)
    assert (info.value.path, info.value.line) == (str(path), 3)
    with pytest.raises(DataError, match="no such vocabulary file"):
        Vocabulary.load(tmp_path / "missing.txt")
    (tmp_path / "empty.txt").write_text("")
    with pytest.raises(DataError, match="empty"):
        Vocabulary.load(tmp_path / "empty.txt")


def test_lookup_layers_round_trip_ragged_and_dense():
    vocab = Vocabulary.build(ragged_dataset())
    ids = vocab.lookup_layer()(tf.ragged.constant([["a", "zz"], ["d"]]))
    assert ids.to_list() == [[vocab.id("a"), 1], [vocab.id("d")]]
    back = vocab.inverse_lookup_layer()(tf.constant([[vocab.id("b"), 99]]))
    assert back.numpy().tolist() == [[b"b", b"<unk>"]]


def test_lookup_layer_exports_in_a_saved_model(tmp_path):
    vocab = Vocabulary.build(ragged_dataset())
    module = tf.Module()
    module.lookup = vocab.lookup_layer()
    module.serve = tf.function(lambda x: module.lookup(x), input_signature=[tf.TensorSpec([None], tf.string)])
    tf.saved_model.save(module, str(tmp_path / "m"))
    del module
    loaded = tf.saved_model.load(str(tmp_path / "m"))
    assert loaded.serve(tf.constant(["a", "nope"])).numpy().tolist() == [vocab.id("a"), 1]


def test_load_or_fit_fits_and_saves_when_absent_then_loads_without_fitting(tmp_path):
    path = tmp_path / "run" / "vocabulary.txt"
    fitted = Vocabulary.build(ragged_dataset())
    assert load_or_fit(path, lambda: fitted) is fitted
    assert Vocabulary.load(path) == fitted

    def fit():
        raise AssertionError("fit called although the file exists")

    assert load_or_fit(path, fit) == fitted


def test_load_or_fit_without_a_path_never_writes(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    fitted = Vocabulary.build(ragged_dataset())
    assert load_or_fit(None, lambda: fitted) is fitted
    assert list(tmp_path.iterdir()) == []


def test_load_or_fit_with_other_load_and_save(tmp_path):
    path = tmp_path / "tags.txt"
    save = lambda tags, p: p.write_text("\n".join(tags))  # noqa: E731
    load = lambda p: p.read_text().split("\n")  # noqa: E731
    assert load_or_fit(path, lambda: ["O", "PER"], load=load, save=save) == ["O", "PER"]
    assert load_or_fit(path, lambda: [], load=load, save=save) == ["O", "PER"]
