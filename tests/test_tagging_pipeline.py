"""End to end: `seqkeras run` on a synthetic CoNLL-2003 spec, the export reloaded where
`import seqkeras` fails (both signatures, empty and over-long sentences); `seqkeras init`
format detection; real corpora."""

import json
import random

import pytest
import tensorflow as tf
from without_seqkeras import call_signatures

from seqkeras import cli
from seqkeras.pipeline import load_spec, registry
from seqkeras.tagging import TaggingApplication
from seqkeras.tagging.data import detect_format
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

def test_seqkeras_run_and_export_without_seqkeras(tmp_path):
    _write_conll(tmp_path / "train.txt", 64, seed=0)
    _write_conll(tmp_path / "dev.txt", 16, seed=1)
    (tmp_path / "tiny.toml").write_text(SPEC)
    code = cli.main(["run", str(tmp_path / "tiny.toml"), "--data-dir", str(tmp_path), "--work-dir",
                 str(tmp_path / "runs"), "--output", str(tmp_path / "saved")])
    assert code == 0
    assert isinstance(registry.get("tagging"), TaggingApplication)
    report = json.loads((tmp_path / "runs" / "tiny_ner" / "report.json").read_text())
    assert set(report["validation"]) >= {"precision", "recall", "f1", "f1_strict", "accuracy", "score"}
    tags = (tmp_path / "runs" / "tiny_ner" / "tags.txt").read_text().split()
    assert tags[0] == "O" and {"S-PER", "B-PER", "E-PER", "S-LOC"} <= set(tags)   # IOB1 → BIOES
    assert report["data"]["num_tags"] == len(tags)
    version = tmp_path / "saved" / "tiny_ner" / "1"
    assert (version / "assets.extra" / "tf_serving_warmup_requests").is_file()

    signatures, (out, gold, empty) = call_signatures(version, [
        ("serving_default", {"text": ["John went to Paris", "", "   ", " ".join(["Mary"] * 20)]}),
        ("tag_tokens", {"tokens": [["John", "went", "to", "Paris"], ["Mary", "", "x", ""]]}),
        ("serving_default", {"text": ["", ""]}),
    ])
    assert {"serving_default", "tag_tokens"} <= set(signatures)
    assert out["length"].tolist() == [4, 0, 0, 8]                  # over-long → max_tokens = 8
    assert out["tokens"][0][:4].tolist() == ["John", "went", "to", "Paris"]
    assert out["tags"].shape == (4, 8)
    for row, n in zip(out["tags"].tolist(), out["length"]):
        assert all(t in tags for t in row[:n]) and all(t == "" for t in row[n:])
    assert gold["tags"][0].tolist() == out["tags"][0][:4].tolist()   # same sentence, same tags
    assert gold["tags"][1][1:].tolist() == ["", "", ""]             # a row ends at its first ""
    assert empty["tags"].shape == (2, 0) and empty["length"].tolist() == [0, 0]

    # Bytes that are not UTF-8, and an empty batch: JSON carries neither to the client.
    serve = tf.saved_model.load(str(version)).signatures["serving_default"]
    invalid = serve(text=tf.constant([b"Berlin \xff"]))
    assert invalid["length"].numpy().tolist() == [2]
    assert [t.decode("utf-8") for t in invalid["tokens"].numpy()[0]] == ["Berlin", "\ufffd"]   # replaced
    assert serve(text=tf.constant([], tf.string))["tags"].shape.as_list() == [0, 0]


CONLLU = """# sent_id = 1
# text = I ran home.
1	I	I	PRON	PRP	_	2	nsubj	_	_
2	ran	run	VERB	VBD	_	0	root	_	_
3-4	home.	_	_	_	_	_	_	_	_
3	home	home	ADV	RB	_	2	advmod	_	_
4	.	.	PUNCT	.	_	2	punct	_	_

1	Go	go	VERB	VB	_	0	root	_	_
"""


def _init(tmp_path, name, text):
    """`seqkeras init tagging --data FILE` on `text`; returns the loaded spec."""
    data = tmp_path / name
    data.write_text(text, encoding="utf-8")
    output = tmp_path / f"{name}.toml"
    assert cli.main(["init", "tagging", "--data", str(data), "--output", str(output)]) == 0
    return load_spec(output)


def test_init_detects_format_and_tag_scheme(tmp_path):
    spec = _init(tmp_path, "train.conllu", CONLLU)
    assert (spec.data.format, spec.data.tag_format, spec.data.tag_scheme) == ("conllu", "none", "none")
    assert spec.data.train == str(tmp_path / "train.conllu") and spec.metric == "accuracy"
    # CoNLL-U recognised by its 10 columns whatever the file is called.
    assert detect_format(tmp_path / "train.conllu") == detect_format(_copy(tmp_path, "train.conllu", "ud.txt"))

    _write_conll(tmp_path / "eng.train", 40, seed=0)             # IOB1: B- only between same-type chunks
    spec = _init(tmp_path, "eng.train", (tmp_path / "eng.train").read_text())
    assert (spec.data.format, spec.data.tag_format, spec.data.tag_scheme) == ("conll2003", "iob1", "bioes")
    assert spec.metric == "span_f1"

    iob2 = "-DOCSTART- -X- O O\n\nJohn NNP B-NP B-PER\nSmith NNP I-NP I-PER\nwent VBD B-VP O\n"
    assert detect_format(_write(tmp_path, "iob2.txt", iob2))["tag_format"] == "iob2"   # B- after O / at a start
    wikiann = "en:John\tB-PER\nen:went\tO\n\nen:Paris\tB-LOC\n"
    assert detect_format(_write(tmp_path, "wikiann.txt", wikiann)) == {
        "format": "wikiann", "tag_format": "iob2", "tag_scheme": "bioes"}
    bioes = "John NNP B-NP S-PER\nwent VBD B-VP O\n"
    assert detect_format(_write(tmp_path, "bioes.txt", bioes))["tag_format"] == "bioes"

    with pytest.raises(ValueError, match="not a tagging file.*'text,label'"):
        registry.get("tagging").starter([str(_write(tmp_path, "reviews.csv", "text,label\ngood,1\n"))])
    with pytest.raises(SystemExit, match="not a tagging file"):
        cli.main(["init", "tagging", "--data", str(tmp_path / "reviews.csv"), "--output", str(tmp_path / "x.toml")])


def _write(folder, name, text):
    (folder / name).write_text(text, encoding="utf-8")
    return folder / name


def _copy(folder, source, name):
    return _write(folder, name, (folder / source).read_text(encoding="utf-8"))


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
