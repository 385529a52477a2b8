"""Classification pipeline: readers, hash split, and a tiny `seqkeras run` whose export is
reloaded in a process where `import seqkeras` fails."""

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from seqkeras.classification import hash_split, read_labelled
from seqkeras.cli import main as cli_main

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


LOAD_WITHOUT_SEQKERAS = textwrap.dedent("""
    import json, sys
    sys.modules["seqkeras"] = None          # `import seqkeras` raises ImportError from here on
    try:
        import seqkeras
        raise SystemExit("seqkeras is importable")
    except ImportError:
        pass
    import tensorflow as tf
    loaded = tf.saved_model.load(sys.argv[1])
    classify = loaded.signatures["serving_default"]
    texts = ["good great lovely film", "bad awful dull", "", " ".join(["good"] * 20000), "zzz unknown words"]
    out = {k: v.numpy() for k, v in classify(text=tf.constant(texts)).items()}
    empty = {k: v.numpy() for k, v in classify(text=tf.constant([], tf.string)).items()}
    print(json.dumps({
        "label": [x.decode() for x in out["label"]],
        "probabilities": out["probabilities"].tolist(),
        "classes": [[c.decode() for c in row] for row in out["classes"]],
        "dtypes": [str(out["probabilities"].dtype)],
        "empty_shapes": [list(empty["label"].shape), list(empty["probabilities"].shape)],
    }))
""")


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

    result = subprocess.run([sys.executable, "-c", LOAD_WITHOUT_SEQKERAS, str(version)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["label"][:2] == ["positive", "negative"]
    assert out["label"][3] == "positive"                       # 20,000 tokens: cut to the first 50
    probabilities = np.array(out["probabilities"])
    assert probabilities.shape == (5, 2) and out["dtypes"] == ["float32"]
    assert np.all(np.isfinite(probabilities)) and np.allclose(probabilities.sum(1), 1.0, atol=1e-5)
    assert out["classes"] == [["negative", "positive"]] * 5
    assert out["empty_shapes"] == [[0], [0, 2]]
