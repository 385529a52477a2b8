"""Classification pipeline: readers, hash split, `seqkeras init` on a user's file, and a
tiny `seqkeras run` whose export is reloaded in a process where `import seqkeras` fails."""

import json
import textwrap

import numpy as np
import pytest
import tensorflow as tf

from seqkeras.classification import detect_format, hash_split, read_labelled, starter_keys
from seqkeras.cli import main as cli_main
from seqkeras.pipeline import load_spec
from without_seqkeras import call_signatures

GOOD = ["good", "great", "fine", "lovely"]
BAD = ["bad", "awful", "poor", "dull"]


def _synthetic_rows(n, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        label = i % 2
        words = list(rng.choice(GOOD if label else BAD, size=rng.integers(2, 6))) + ["film"] * int(rng.integers(0, 3))
        rng.shuffle(words)
        rows.append((" ".join(words), str(label)))
    return rows


def test_last_tab_reader_keeps_quotes_and_tabs(tmp_path):
    path = tmp_path / "reviews_labelled.txt"
    path.write_text('A "quoted\tpart" stays intact.\t1\nno "closing quote\t0\n\nplain\t1\n', encoding="utf-8")
    texts, labels = read_labelled(path, "last_tab")
    assert texts.tolist() == [b'A "quoted\tpart" stays intact.', b'no "closing quote', b"plain"]
    assert labels.tolist() == [b"1", b"0", b"1"]


def test_hash_split_is_deterministic_and_keeps_duplicates_together():
    texts = np.array([f"review number {i}".encode() for i in range(2000)] + [b"same"] * 5)
    first, second = hash_split(texts, 0.1), hash_split(texts, 0.1)
    np.testing.assert_array_equal(first, second)
    assert 0.07 < first[:2000].mean() < 0.13
    assert len(set(first[2000:].tolist())) == 1


def test_uci_files_read_1000_rows_each(shared_data):
    folder = shared_data / "sentiment_labelled_sentences"
    for name in ("amazon_cells_labelled.txt", "imdb_labelled.txt", "yelp_labelled.txt"):
        texts, labels = read_labelled(folder / name, "last_tab")
        assert len(texts) == 1000 and (labels == b"1").sum() == 500 and (labels == b"0").sum() == 500
    texts, _ = read_labelled(folder / "imdb_labelled.txt", "last_tab")
    quoted = [t for t in texts if b'"' in t]
    assert len(quoted) == 43                                        # stray quotes kept, no merged lines
    assert all(b"\n" not in t and b"\t" not in t for t in texts)
    texts, _ = read_labelled(folder / "*_labelled.txt", "last_tab")
    assert len(texts) == 3000


def test_seqkeras_run_end_to_end_and_export_loads_without_seqkeras(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    for name, rows in (("train.tsv", _synthetic_rows(384)), ("valid.tsv", _synthetic_rows(64, seed=1))):
        lines = ["sentence\tlabel"] + [f"{text}\t{label}" for text, label in rows]
        (data / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    spec = tmp_path / "tiny.toml"
    spec.write_text(textwrap.dedent("""
        application = "classification"
        name = "tiny_sentiment"
        [data]
        train = "train.tsv"
        validation = "valid.tsv"
        labels = ["0", "1"]
        class_names = ["negative", "positive"]
        max_length = 50
        [model]
        cell = "gru"
        units = 8
        embedding_dim = 8
        pooling = "attention"
        dropout = 0.0
        output_dropout = 0.0
        [training]
        learning_rate = 0.02
        epochs = 3
        batch_size = 32
        [export]
        model_name = "tiny_sentiment"
    """), encoding="utf-8")
    output, work = tmp_path / "saved_models", tmp_path / "runs"
    assert cli_main(["run", str(spec), "--data-dir", str(data), "--output", str(output),
                     "--work-dir", str(work)]) == 0
    report = json.loads((work / "tiny_sentiment" / "report.json").read_text())
    assert report["validation"]["accuracy"] > 0.9
    version = output / "tiny_sentiment" / "1"
    assert (version / "saved_model.pb").is_file()
    assert (version / "assets.extra" / "tf_serving_warmup_requests").is_file()

    texts = ["good great lovely film", "bad awful dull", "", " ".join(["good"] * 20000), "zzz unknown words"]
    signatures, (out, same) = call_signatures(version, [("serving_default", {"text": texts}),
                                                         ("classify", {"text": texts[:2]})])
    assert signatures == ["classify", "serving_default"]
    assert out["label"][:2].tolist() == ["positive", "negative"] == same["label"].tolist()
    assert out["label"][3] == "positive"                       # 20,000 tokens: cut to the first 50
    probabilities = out["probabilities"]
    assert probabilities.shape == (5, 2) and probabilities.dtype == np.float32
    assert np.all(np.isfinite(probabilities)) and np.allclose(probabilities.sum(1), 1.0, atol=1e-5)
    assert out["classes"].tolist() == [["negative", "positive"]] * 5
    empty = tf.saved_model.load(str(version)).signatures["serving_default"](text=tf.constant([], tf.string))
    assert [list(empty["label"].shape), list(empty["probabilities"].shape)] == [[0], [0, 2]]


def test_seqkeras_init_detects_csv_columns_and_labels(tmp_path):
    rows = [(i, f'"{text}, really"', "pos" if label == "1" else "neg") for i, (text, label) in
            enumerate(_synthetic_rows(40))]
    reviews = tmp_path / "reviews.csv"
    reviews.write_text("id,review,sentiment\n" + "".join(f"{i},{text},{label}\n" for i, text, label in rows),
                       encoding="utf-8")
    output = tmp_path / "my_classification.toml"
    assert cli_main(["init", "classification", "--data", str(reviews), "--output", str(output)]) == 0
    spec = load_spec(output)
    assert spec.application == "classification" and spec.data.train == str(reviews)
    assert (spec.data.format, spec.data.text_column, spec.data.label_column) == ("csv", "review", "sentiment")
    assert spec.data.labels == ["neg", "pos"]
    texts, labels = read_labelled(reviews, spec.data.format, spec.data.text_column, spec.data.label_column)
    assert len(texts) == 40 and texts[0].endswith(b", really") and set(labels.tolist()) == {b"neg", b"pos"}


def test_starter_detects_headerless_last_tab_and_rejects_unknown_columns(tmp_path):
    uci = tmp_path / "amazon_labelled.txt"
    uci.write_text('A "quoted\tpart" stays.\t1\nbad phone\t0\n\nfine\t1\n', encoding="utf-8")
    assert starter_keys([str(uci)]) == {"data.train": str(uci), "data.format": "last_tab",
                                         "data.labels": ["0", "1"]}
    headed = tmp_path / "sst.txt"
    headed.write_text("sentence\tlabel\ngood\t1\nbad\t0\n", encoding="utf-8")
    assert detect_format(headed) == "tsv"
    assert starter_keys([str(headed)])["data.labels"] == ["0", "1"]
    odd = tmp_path / "odd.tsv"
    odd.write_text("words\tscore\ngood\t1\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"\['words', 'score'\]"):
        starter_keys([str(odd)])
