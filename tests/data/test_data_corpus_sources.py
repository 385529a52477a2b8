"""CoNLL, parallel, labelled, time-series, interaction-log and TFDS sources."""

import gzip

import numpy as np
import pytest
import tensorflow as tf

from seqkeras.data import DataError
from seqkeras.data.sources import (conll_sentences, interaction_log, labelled_text, parallel_lines,
                                   source_from_spec, tfds_source, time_series_csv)

CONLLU = """# sent_id = 1
# text = Don't go.
1-2\tDon't\t_\t_\t_\t_\t_\t_\t_\t_
1\tDo\tdo\tAUX\tVBP\t_\t3\taux\t_\t_
2\tn't\tnot\tPART\tRB\t_\t3\tadvmod\t_\t_
3\tgo\tgo\tVERB\tVB\t_\t0\troot\t_\t_
3.1\tgone\tgo\tVERB\tVB\t_\t_\t_\t3:x\t_
4\t.\t.\tPUNCT\t.\t_\t3\tpunct\t_\t_

1\tHi\thi\tINTJ\tUH\t_\t0\troot\t_\t_
"""


def decoded(dataset):
    return [{k: [t.decode() for t in v] for k, v in s.items()} for s in dataset.as_numpy_iterator()]


def test_conllu_skips_comments_ranges_and_empty_nodes(tmp_path):
    (tmp_path / "a.conllu").write_text(CONLLU, encoding="utf-8")
    assert decoded(conll_sentences(tmp_path / "a.conllu")) == [
        {"tokens": ["Do", "n't", "go", "."], "tags": ["AUX", "PART", "VERB", "PUNCT"]},
        {"tokens": ["Hi"], "tags": ["INTJ"]},
    ]
    xpos = decoded(conll_sentences(tmp_path / "a.conllu", tag_column=4))
    assert xpos[0]["tags"] == ["VBP", "RB", "VB", "."]


def test_conll2003_and_wikiann_formats(tmp_path):
    (tmp_path / "eng").write_text("-DOCSTART- -X- O O\n\nEU NNP I-NP I-ORG\nrejects VBZ I-VP O\n\n\nOK UH O O\n")
    assert decoded(conll_sentences(tmp_path / "eng", "conll2003")) == [
        {"tokens": ["EU", "rejects"], "tags": ["I-ORG", "O"]}, {"tokens": ["OK"], "tags": ["O"]}]
    with gzip.open(tmp_path / "wiki.gz", "wt") as f:
        f.write("en:R.H.\tB-ORG\nen:http://x\tO\n\nen:Paris\tB-LOC\n\n")
    assert decoded(conll_sentences(tmp_path / "wiki.gz", "wikiann")) == [
        {"tokens": ["R.H.", "http://x"], "tags": ["B-ORG", "O"]}, {"tokens": ["Paris"], "tags": ["B-LOC"]}]


def test_sentences_span_chunk_boundaries(tmp_path):
    sentences = [[f"w{i}_{j}" for j in range(1 + i % 7)] for i in range(3000)]
    text = "\n\n".join("\n".join(f"{w}\t{'T' + w[-1]}" for w in s) for s in sentences)
    (tmp_path / "big").write_text(text)
    got = decoded(conll_sentences(tmp_path / "big", "wikiann"))
    assert [s["tokens"] for s in got] == sentences
    assert all(t == "T" + w[-1] for s in got for w, t in zip(s["tokens"], s["tags"]))


@pytest.mark.parametrize("line, fmt, problem", [
    ("1\tDo\tdo\tAUX\n", "conllu", "expected 10"),
    ("x\tDo\tdo\tAUX\t_\t_\t_\t_\t_\t_\n", "conllu", "ID 'x'"),
    ("EU\n", "conll2003", "at least 4"),
    ("en:EU B-ORG\n", "wikiann", "expected 2"),
])
def test_malformed_conll_line_names_file_and_line(tmp_path, line, fmt, problem):
    good = {"conllu": "1\tA\ta\tX\t_\t_\t0\troot\t_\t_\n", "conll2003": "A B C O\n", "wikiann": "en:A\tO\n"}[fmt]
    path = tmp_path / "bad"
    path.write_text(good + "\n" + good + line)
    with pytest.raises(DataError, match=problem) as info:
        conll_sentences(path, fmt)
    assert (info.value.path, info.value.line) == (str(path), 4)


def test_parallel_lines_and_length_mismatch(tmp_path):
    (tmp_path / "s.en").write_text("a\nb\nc\n")
    (tmp_path / "t.de").write_text("x\ny\nz")
    assert [(s.decode(), t.decode()) for s, t in parallel_lines(tmp_path / "s.en", tmp_path / "t.de").as_numpy_iterator()] == [
        ("a", "x"), ("b", "y"), ("c", "z")]
    (tmp_path / "short.de").write_text("x\ny\n")
    with pytest.raises(DataError, match="parallel files differ in length") as info:
        parallel_lines(tmp_path / "s.en", tmp_path / "short.de")
    assert (info.value.path, info.value.line) == (str(tmp_path / "short.de"), 3)


def pairs(dataset):
    return [(t.decode(), l.decode()) for t, l in dataset.as_numpy_iterator()]


def test_labelled_text_layouts(tmp_path):
    (tmp_path / "sst.tsv").write_text("sentence\tlabel\ngood film \t1\nbad \t0\n")
    assert pairs(labelled_text(tmp_path / "sst.tsv", "sentence", "label")) == [("good film ", "1"), ("bad ", "0")]
    (tmp_path / "uci.txt").write_text('He said "wow\tno\t1\nA\u0085B \t0\n', encoding="utf-8")
    uci = labelled_text(tmp_path / "uci.txt", header=False, split_on_last=True)
    assert pairs(uci) == [('He said "wow\tno', "1"), ("A\u0085B ", "0")]
    with gzip.open(tmp_path / "imdb.csv.gz", "wt", newline="") as f:
        f.write('id,rating,label,text\n0,3,0,"Bad, ""very"" bad<br />"\n1,9,1,"two\nlines"\n')
    imdb = labelled_text(tmp_path / "imdb.csv.gz", "text", "label", delimiter=",", quoting=True)
    assert pairs(imdb) == [('Bad, "very" bad<br />', "0"), ("two\nlines", "1")]


def test_labelled_text_missing_column_and_nan(tmp_path):
    (tmp_path / "a.csv").write_text("id,text,label\n1,hi,1\n2,yo,nan\n")
    with pytest.raises(DataError, match=r"a.csv:1: missing column 'sentiment'"):
        labelled_text(tmp_path / "a.csv", "text", "sentiment", delimiter=",", quoting=True)
    with pytest.raises(DataError, match=r"a.csv:3: missing label"):
        labelled_text(tmp_path / "a.csv", "text", "label", delimiter=",", quoting=True)
    (tmp_path / "b.tsv").write_text("sentence\tlabel\nok\t1\nno label here\n")
    with pytest.raises(DataError, match=r"b.tsv:3: expected 2"):
        labelled_text(tmp_path / "b.tsv", "sentence", "label")


def test_time_series_csv_reads_quoted_header_crlf_and_rejects_nan(tmp_path):
    path = tmp_path / "s.csv"
    path.write_bytes(b'"Month","A","B"\r\n"1949-01",1,2.5\r\n"1949-02",3,NA\r\n"1949-03",5,6\r\n')
    with pytest.raises(DataError, match=r"s.csv:3: column 'B' has a missing"):
        time_series_csv(path, "Month", ["B", "A"])
    rows = list(time_series_csv(path, "Month", ["B", "A"], missing="skip").as_numpy_iterator())
    assert [r["time"] for r in rows] == [b"1949-01", b"1949-03"]
    np.testing.assert_allclose(np.stack([r["features"] for r in rows]), [[2.5, 1], [6, 5]])
    assert [r["features"].tolist() for r in time_series_csv(path, None, ["A"]).as_numpy_iterator()] == [[1], [3], [5]]
    with pytest.raises(DataError, match="missing column 'C'"):
        time_series_csv(path, "Month", ["C"])


def test_interaction_log_groups_users_chronologically(tmp_path):
    rows = [(2, 10, 5, 300), (1, 11, 3, 200), (2, 12, 4, 100), (1, 13, 1, 100), (2, 14, 2, 300)]
    path = tmp_path / "u.data"
    path.write_text("".join("\t".join(map(str, r)) + "\n" for r in rows))
    got = [(e["user"], e["items"].tolist(), e["times"].tolist()) for e in interaction_log(path).as_numpy_iterator()]
    assert got == [(1, [13, 11], [100, 200]), (2, [12, 10, 14], [100, 300, 300])]
    path.write_text("1\t2\t3\t4\n1\tx\t3\t5\n")
    with pytest.raises(DataError, match=r"u.data:2: item must be an integer"):
        interaction_log(path)


def test_interaction_log_bounded_passes_give_the_same_users(tmp_path):
    rows = [(u, 100 * u + k, 1, (7 * k + u) % 5) for k in range(6) for u in (5, 1, 9, 3, 7, 2)][::-1]
    path = tmp_path / "u.data"
    path.write_text("".join("\t".join(map(str, r)) + "\n" for r in rows))
    read = lambda **kw: [(e["user"], e["items"].tolist(), e["times"].tolist())
                         for e in interaction_log(path, **kw).as_numpy_iterator()]
    whole = read()
    assert [u for u, _, _ in whole] == [1, 2, 3, 5, 7, 9]
    for budget in (1, 6, 13, 1000):               # one user per pass, … , one pass
        assert read(max_events_in_memory=budget) == whole


def test_tfds_source_offline_with_mock_data():
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=4):
        text, label = next(iter(tfds_source("tfds:imdb_reviews", "train")))
        assert text.dtype == tf.string and label.dtype == tf.int64
        glue = source_from_spec("tfds:glue/sst2", split="train", keys=("sentence", "label"))
        assert len(list(glue)) == 4
        with pytest.raises(DataError, match="unknown feature"):
            tfds_source("glue/sst2", keys=("text",))
    with pytest.raises(DataError, match="tfds:no_such_dataset: unknown TensorFlow Datasets name"):
        tfds_source("tfds:no_such_dataset")


def test_source_from_spec_resolves_relative_to_data_dir(tmp_path):
    (tmp_path / "ptb").mkdir()
    (tmp_path / "ptb" / "x.txt").write_text("a b\n")
    assert [x.decode() for x in source_from_spec("ptb/*.txt", tmp_path).as_numpy_iterator()] == ["a b"]


# ---------------------------------------------------------------------- real corpora (DATA.md counts)
def count_sentences(dataset):
    return dataset.reduce((0, 0), lambda acc, s: (acc[0] + 1, acc[1] + tf.size(s["tokens"])))


@pytest.mark.parametrize("path, fmt, sentences, tokens", [
    ("ud_en_ewt/en_ewt-ud-train.conllu.gz", "conllu", 12_544, 204_577),
    ("conll2003/eng.train.gz", "conll2003", 14_041, 203_621),
    ("wikiann_en/train.gz", "wikiann", 20_000, 160_394),
])
def test_real_conll_counts(shared_data, path, fmt, sentences, tokens):
    n, t = count_sentences(conll_sentences(shared_data / path, fmt))
    assert (int(n), int(t)) == (sentences, tokens)


def test_real_multi30k_and_labelled_counts(shared_data):
    m30k = parallel_lines(shared_data / "multi30k/train.en.gz", shared_data / "multi30k/train.de.gz")
    assert int(m30k.reduce(0, lambda a, _: a + 1)) == 29_000
    uci = labelled_text(shared_data / "sentiment_labelled_sentences/imdb_labelled.txt", header=False, split_on_last=True)
    labels = [int(l) for _, l in uci.as_numpy_iterator()]
    assert (len(labels), sum(labels)) == (1_000, 500)
    sst = labelled_text(shared_data / "sst2/train.tsv.gz", "sentence", "label")
    assert int(sst.reduce(0, lambda a, _: a + 1)) == 60_614


def test_real_movielens_and_pollution(shared_data):
    users = interaction_log(shared_data / "movielens/ml-100k/u.data.gz")
    n_users, n_ratings = users.reduce((0, 0), lambda a, u: (a[0] + 1, a[1] + tf.size(u["items"])))
    assert (int(n_users), int(n_ratings)) == (943, 100_000)
    with pytest.raises(DataError, match=r"pollution.csv.gz:2: column 'pm2.5'"):
        time_series_csv(shared_data / "timeseries/pollution.csv.gz", "No", ["pm2.5"])
