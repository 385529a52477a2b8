"""End to end: `seqkeras run` on a synthetic CoNLL-2003 spec, the export reloaded where
`import seqkeras` fails (both signatures, empty and over-long sentences); real corpora."""

import json
import random
import subprocess
import sys
import textwrap

import pytest

from seqkeras.tagging.schemes import chunks, convert

NAMES = {"PER": ["John", "Mary", "Smith"], "LOC": ["Paris", "Berlin"]}
OTHER = ["the", "in", "went", "to", "a", "city", "and"]


def _write_conll(path, sentences, seed):
    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8") as out:
        out.write("-DOCSTART- -X- O O\n\n")
        for _ in range(sentences):
            previous = None
            for _ in range(rng.randint(1, 6)):
                kind = rng.choice(["PER", "LOC", None, None])
                words = [rng.choice(NAMES[kind]) for _ in range(rng.randint(1, 2))] if kind else [rng.choice(OTHER)]
                for i, word in enumerate(words):
                    # IOB1: B- only when a chunk directly follows one of the same type
                    tag = "O" if not kind else ("B-" if i == 0 and previous == kind else "I-") + kind
                    out.write(f"{word} NNP O {tag}\n")
                previous = kind
            out.write("\n")


SPEC = """
application = "tagging"
name = "tiny_ner"
[data]
train = "train.txt"
validation = "dev.txt"
format = "conll2003"
tag_format = "iob1"
tag_scheme = "bioes"
[model]
layers = 1
units = 6
embedding_dim = 6
char_embedding_dim = 4
char_units = 3
dropout = 0.0
[training]
epochs = 1
batch_size = 32
learning_rate = 0.01
[export]
max_tokens = 8
"""

LOAD_WITHOUT_SEQKERAS = textwrap.dedent("""
    import json, sys
    sys.modules["seqkeras"] = None          # `import seqkeras` now fails
    import tensorflow as tf
    text = lambda t: [[s.decode("utf-8") for s in row] for row in t.numpy()]
    loaded = tf.saved_model.load(sys.argv[1])
    serve, tag_tokens = loaded.signatures["serving_default"], loaded.signatures["tag_tokens"]
    texts = ["John went to Paris", "", "   ", " ".join(["Mary"] * 20), b"Berlin \\xff"]
    out = serve(text=tf.constant(texts))
    tokens = tf.constant([["John", "went", "to", "Paris"], ["Mary", "", "x", ""]])
    gold = tag_tokens(tokens=tokens)
    empty = serve(text=tf.constant(["", ""]))
    none = serve(text=tf.constant([], tf.string))
    print(json.dumps({
        "tokens": text(out["tokens"]), "tags": text(out["tags"]),
        "length": out["length"].numpy().tolist(),
        "gold_tags": text(gold["tags"]),
        "empty_shape": empty["tags"].shape.as_list(), "empty_length": empty["length"].numpy().tolist(),
        "none_shape": none["tags"].shape.as_list(),
    }))
""")


def test_seqkeras_run_and_export_without_seqkeras(tmp_path):
    from seqkeras.cli import main

    _write_conll(tmp_path / "train.txt", 64, seed=0)
    _write_conll(tmp_path / "dev.txt", 16, seed=1)
    (tmp_path / "tiny.toml").write_text(SPEC)
    code = main(["run", str(tmp_path / "tiny.toml"), "--data-dir", str(tmp_path), "--work-dir",
                 str(tmp_path / "runs"), "--output", str(tmp_path / "saved")])
    assert code == 0
    import seqkeras.tagging

    assert callable(seqkeras.tagging.export) and seqkeras.tagging.export.__name__ == "export"
    report = json.loads((tmp_path / "runs" / "tiny_ner" / "report.json").read_text())
    assert set(report["validation"]) >= {"precision", "recall", "f1", "f1_strict", "accuracy"}
    tags = (tmp_path / "runs" / "tiny_ner" / "tags.txt").read_text().split()
    assert tags[0] == "O" and {"S-PER", "B-PER", "E-PER", "S-LOC"} <= set(tags)   # IOB1 → BIOES
    version = tmp_path / "saved" / "tiny_ner" / "1"
    assert (version / "assets.extra" / "tf_serving_warmup_requests").is_file()

    result = subprocess.run([sys.executable, "-c", LOAD_WITHOUT_SEQKERAS, str(version)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["length"] == [4, 0, 0, 8, 2]                    # over-long → max_tokens = 8
    assert out["tokens"][0][:4] == ["John", "went", "to", "Paris"]
    assert out["tokens"][4][:2] == ["Berlin", "\ufffd"]          # invalid UTF-8 replaced
    assert len(out["tags"]) == 5 and all(len(row) == 8 for row in out["tags"])
    for row, n in zip(out["tags"], out["length"]):
        assert all(t in tags for t in row[:n]) and all(t == "" for t in row[n:])
    assert out["gold_tags"][0] == out["tags"][0][:4]            # same sentence, same tags
    assert out["gold_tags"][1][1:] == ["", "", ""]             # a row ends at its first ""
    assert out["empty_shape"] == [2, 0] and out["empty_length"] == [0, 0]
    assert out["none_shape"] == [0, 0]


def test_real_conll2003_dev_conversion(shared_data):
    from seqkeras.tagging.data import count_sentences, read_sentences, tag_inventory

    path = shared_data / "conll2003" / "eng.testa"
    iob1 = read_sentences(path, "conll2003")
    bioes = read_sentences(path, "conll2003", tag_format="iob1", tag_scheme="bioes")
    assert count_sentences(iob1) == count_sentences(bioes) == (3250, 51362)
    decode = lambda s: [t.decode() for t in s["tags"]]  # noqa: E731
    for a, b in zip(iob1.take(500).as_numpy_iterator(), bioes.take(500).as_numpy_iterator()):
        tags, converted = decode(a), decode(b)
        assert converted == convert(tags, "iob1", "bioes")        # the graph conversion = the Python one
        assert chunks(converted) == chunks(tags)
        assert convert(converted, "bioes", "iob1") == tags
    assert tag_inventory(bioes) == ["O"] + sorted(f"{p}-{k}" for p in "BIES" for k in ("LOC", "MISC", "ORG", "PER"))


def test_validation_decoding_traces_once_per_model():
    import numpy as np
    import tensorflow as tf

    from seqkeras import tagging
    from seqkeras.tagging.model import build_tagger

    model = build_tagger(20, 5, 10, layers=1, units=4, embedding_dim=4, char_embedding_dim=3, char_units=2)
    batches = [({"tokens": np.array([[3, 4, 0]] * 2), "chars": np.ones((2, 3, n), np.int64)},
                np.zeros((2, 3), np.int64)) for n in (2, 5)]
    dataset = tf.data.Dataset.from_generator(lambda: iter(batches), output_signature=(
        {"tokens": tf.TensorSpec([None, None], tf.int64), "chars": tf.TensorSpec([None, None, None], tf.int64)},
        tf.TensorSpec([None, None], tf.int64)))
    for _ in range(2):                                      # e.g. two epochs of ValidationScore
        _, predicted = tagging.predict_tags(model, dataset, ["O", "A", "B", "C", "D"])
        assert [len(p) for p in predicted] == [2, 2, 2, 2]
    assert tagging._decoder(model).experimental_get_tracing_count() == 1
