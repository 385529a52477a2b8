"""Analogy / word-pair evaluation equal to gensim's on the same vectors; clusters."""

import numpy as np
import pytest

gensim_models = pytest.importorskip("gensim.models")

from seqkeras.data import DataError  # noqa: E402
from seqkeras.word2vec import evaluation as ev  # noqa: E402


def _vectors(seed=0, n=400, dim=16):
    """Words with planted analogy structure (+ noise), a few mixed-case duplicates."""
    rng = np.random.default_rng(seed)
    words = [f"w{i}" for i in range(n)]
    base = rng.normal(size=(n, dim)).astype(np.float32)
    offset = rng.normal(size=dim).astype(np.float32)
    for i in range(0, 100, 2):                  # w{i+1} ≈ w{i} + offset
        base[i + 1] = base[i] + offset + rng.normal(scale=0.6, size=dim)
    words[300], words[301] = "W0", "W3"         # upper-case spellings, less frequent
    return words, base


def _keyed(words, vectors):
    kv = gensim_models.KeyedVectors(vectors.shape[1])
    kv.add_vectors(words, vectors)
    return kv


def _questions(tmp_path, words):
    rng = np.random.default_rng(1)
    lines = [": capital-world"]
    for _ in range(150):
        i, j = rng.choice(50, 2, replace=False) * 2
        lines.append(f"{words[i]} {words[i + 1]} {words[j]} {words[j + 1]}")
    lines.append(": gram1-adjective-to-adverb")
    for _ in range(100):
        i, j = rng.choice(50, 2, replace=False) * 2
        lines.append(f"{words[i].upper()} {words[i + 1]} {words[j]} {words[j + 1].upper()}")
    lines += ["w1 w2 nosuchword w3", "only three words"]      # unknown word; malformed line
    path = tmp_path / "questions.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("restrict", [30000, 120])
def test_analogies_equal_gensim(tmp_path, restrict):
    words, vectors = _vectors()
    path = _questions(tmp_path, words)
    ours = ev.evaluate_analogies(ev.WordVectors(words, vectors), path, restrict_vocab=restrict)
    score, sections = _keyed(words, vectors).evaluate_word_analogies(str(path), restrict_vocab=restrict,
                                                                      case_insensitive=True)
    assert ours.accuracy == pytest.approx(score)
    for mine, theirs in zip(ours.sections, sections):
        assert mine["section"] == theirs["section"]
        assert mine["correct"] == len(theirs["correct"])
        assert mine["total"] == len(theirs["correct"]) + len(theirs["incorrect"])
    assert ours.oov == 251 - ours.total and ours.oov >= 1
    assert 0 < ours.correct < ours.total
    assert ours.semantic[1] + ours.syntactic[1] == ours.total
    assert "total" in ours.report() and "out of vocabulary" in ours.report()
    cosmul = ev.evaluate_analogies(ev.WordVectors(words, vectors), path, method="3CosMul")
    assert 0 < cosmul.accuracy <= 1


def test_word_pairs_equal_gensim(tmp_path):
    words, vectors = _vectors()
    rng = np.random.default_rng(2)
    lines = ["# Word 1\tWord 2\tHuman (mean)", "#"]
    for _ in range(60):
        i, j = rng.choice(200, 2, replace=False)
        lines.append(f"{words[i]}\t{words[j].upper()}\t{rng.uniform(0, 10):.2f}")
    lines.append("w1\tunknownword\t5.0")
    path = tmp_path / "pairs.tsv"
    path.write_text("\n".join(lines) + "\n")
    ours = ev.evaluate_word_pairs(ev.WordVectors(words, vectors), path)
    pearson, spearman, oov_ratio = _keyed(words, vectors).evaluate_word_pairs(str(path))
    assert ours.spearman == pytest.approx(spearman.statistic, abs=1e-6)
    assert ours.pearson == pytest.approx(pearson.statistic, abs=1e-6)
    assert ours.oov == 1 and 100 * ours.oov_ratio == pytest.approx(oov_ratio)


def test_most_similar_equals_gensim():
    words, vectors = _vectors()
    ours = ev.WordVectors(words, vectors).most_similar(["w1", "w2"], negative=["w0"], topn=5)
    theirs = _keyed(words, vectors).most_similar(positive=["w1", "w2"], negative=["w0"], topn=5)
    assert [w for w, _ in ours] == [w for w, _ in theirs]
    np.testing.assert_allclose([s for _, s in ours], [s for _, s in theirs], atol=1e-5)
    with pytest.raises(KeyError, match="zzz"):
        ev.WordVectors(words, vectors).most_similar("zzz")


def test_real_evaluation_files_match_gensim(shared_data):
    words, vectors = _vectors(n=400)
    # real question words with random vectors: mostly OOV, but the parser and counts must agree
    kv = _keyed(words, vectors)
    path = shared_data / "word_eval" / "questions-words.txt"
    ours = ev.evaluate_analogies(ev.WordVectors(words, vectors), path)
    score, sections = kv.evaluate_word_analogies(str(path), restrict_vocab=30000)
    assert len(ours.sections) == 14 and ours.questions == 19544
    assert ours.oov == 19544 and ours.total == 0


def test_bad_evaluation_files(tmp_path):
    wv = ev.WordVectors(*_vectors())
    with pytest.raises(DataError, match="missing.txt"):
        ev.evaluate_analogies(wv, tmp_path / "missing.txt")
    orphan = tmp_path / "orphan.txt"
    orphan.write_text("a b c d\n")
    with pytest.raises(DataError, match="orphan.txt:1"):
        ev.evaluate_analogies(wv, orphan)
    unknown = tmp_path / "unknown.tsv"
    unknown.write_text("foo\tbar\t1.0\nbaz\tqux\t2.0\n")
    with pytest.raises(DataError, match="2 out of vocabulary"):
        ev.evaluate_word_pairs(wv, unknown)


def test_kmeans_clusters_group_planted_structure():
    rng = np.random.default_rng(0)
    centers = rng.normal(size=(3, 8)) * 5
    vectors = np.concatenate([c + rng.normal(size=(20, 8)) for c in centers]).astype(np.float32)
    words = [f"g{g}_{i}" for g in range(3) for i in range(20)]
    groups = ev.kmeans_clusters(ev.WordVectors(words, vectors), top_n=60, clusters=3, seed=1)
    assert sorted(len(g) for g in groups) == [20, 20, 20]
    assert all(len({w.split("_")[0] for w in g}) == 1 for g in groups)
    assert ev.cluster_report(groups).count("\n") == 2
