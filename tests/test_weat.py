"""WEAT (Caliskan et al. 2017) and the analogy probe against hand-made vectors and brute force."""

import itertools
import math

import numpy as np
import pytest

from seqkeras.word2vec import bias
from seqkeras.word2vec.evaluation import WordVectors


def _unit(v):
    v = np.asarray(v, np.float64)
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def _test(x, y, a, b, id_="t"):
    return {"id": id_, "name": id_, "targets": [{"name": "X", "words": x}, {"name": "Y", "words": y}],
            "attributes": [{"name": "A", "words": a}, {"name": "B", "words": b}]}


def test_effect_size_known_answer():
    # With A = {e1}, B = {e2} and unit targets, s(w) = w₁ − w₂: s(X) = {1, −0.2},
    # s(Y) = {−1, 0.2}, so d = (0.4 − (−0.4)) / std_{ddof=1}{1, −0.2, −1, 0.2}.
    x = np.array([[1.0, 0.0], [0.6, 0.8]])
    y = np.array([[0.0, 1.0], [0.8, 0.6]])
    a, b = np.array([[1.0, 0.0]]), np.array([[0.0, 1.0]])
    assert bias.effect_size(x, y, a, b) == pytest.approx(0.8 / math.sqrt(2.08 / 3), rel=1e-12)
    assert bias.effect_size(y, x, a, b) == pytest.approx(-0.8 / math.sqrt(2.08 / 3), rel=1e-12)


def _brute_force(vectors, x, y, a, b):
    """d and the exact p from the paper's formulas, word by word with plain loops."""
    def cos(u, v):
        return float(np.dot(vectors[u], vectors[v]) / np.linalg.norm(vectors[u]) / np.linalg.norm(vectors[v]))

    def s(w):
        return sum(cos(w, i) for i in a) / len(a) - sum(cos(w, j) for j in b) / len(b)

    def statistic(xs, ys):
        return sum(s(w) for w in xs) - sum(s(w) for w in ys)

    values = [s(w) for w in x + y]
    mean = sum(values) / len(values)
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))
    d = (sum(s(w) for w in x) / len(x) - sum(s(w) for w in y) / len(y)) / std
    observed = statistic(x, y)
    union = x + y
    larger = total = 0
    for xs in itertools.combinations(union, len(x)):
        ys = [w for w in union if w not in xs]
        total += 1
        larger += statistic(list(xs), ys) > observed + 1e-12
    return d, larger / total


def test_weat_equals_brute_force_on_random_vectors():
    rng = np.random.default_rng(3)
    words = [f"w{i}" for i in range(16)]
    vectors = rng.normal(size=(16, 5))
    vectors[:4] += 1.5 * vectors[8]                 # X leans towards attribute A
    wv = WordVectors(words, vectors)
    x, y, a, b = words[:4], words[4:8], words[8:11], words[11:16]    # |A| ≠ |B| is allowed
    (result,) = bias.weat_tests(wv, [_test(x, y, a, b)], min_words=3)
    index = {w: i for i, w in enumerate(words)}
    d, p = _brute_force(vectors, *[[index[w] for w in group] for group in (x, y, a, b)])
    assert result.effect_size == pytest.approx(d, rel=1e-5)
    assert result.exact and result.partitions == math.comb(8, 4)
    assert result.p_value == pytest.approx(p)
    assert result.sizes == [4, 4, 3, 5] and not result.skipped


def test_permutation_p_value_exhaustive_and_sampled():
    rng = np.random.default_rng(0)
    x, y, a, b = (_unit(rng.normal(size=(n, 4))) for n in (5, 5, 3, 3))
    s = np.concatenate([bias.association(x, a, b), bias.association(y, a, b)])
    observed = s[:5].sum() - s[5:].sum()
    # Every equal split of the 10 targets, enumerated here independently.
    stats = [s[list(c)].sum() - s[[i for i in range(10) if i not in c]].sum()
             for c in itertools.combinations(range(10), 5)]
    expected = np.mean(np.array(stats) > observed + 1e-9)
    p, partitions, exact = bias.permutation_p_value(x, y, a, b)
    assert exact and partitions == 252 and p == pytest.approx(expected)
    p_sampled, partitions, exact = bias.permutation_p_value(x, y, a, b, exact_limit=0, samples=20_000, seed=1)
    assert not exact and partitions == 20_000
    assert abs(p_sampled - expected) < 0.02


def test_coverage_skips_and_truncates():
    rng = np.random.default_rng(1)
    words = ["alpha", "beta", "gamma", "delta", "eps", "zeta", "eta", "theta", "iota", "kappa", "lam"]
    wv = WordVectors(words, rng.normal(size=(len(words), 3)))
    # Capitalised words are found lower-cased; X keeps 3 of 4 words, Y all 3.
    kept = _test(["Alpha", "beta", "missing1", "gamma"], ["delta", "eps", "zeta"], ["eta", "theta"], ["iota", "kappa"])
    # Y keeps one word: below min_words = 2.
    short = _test(["alpha", "beta"], ["delta", "nope", "nada"], ["eta", "theta"], ["iota", "kappa"], id_="short")
    long_x = _test(["alpha", "beta", "gamma", "lam"], ["delta", "eps"], ["eta", "theta"], ["iota", "kappa"],
                   id_="long_x")
    first, second, third = bias.weat_tests(wv, [kept, short, long_x], min_words=2)
    assert first.sizes == [3, 3, 2, 2] and first.missing == ["missing1"] and not first.skipped
    assert second.skipped and "Y 1/3" in second.skipped and second.effect_size is None
    # The larger target list is cut to the smaller's size, in published order.
    assert third.sizes == [2, 2, 2, 2]
    (direct,) = bias.weat_tests(wv, [_test(["alpha", "beta"], ["delta", "eps"], ["eta", "theta"],
                                           ["iota", "kappa"])], min_words=2)
    assert third.effect_size == pytest.approx(direct.effect_size)
    table = bias.weat_table([first, second])
    assert "skipped" in table and "Y 1/3" in table
    with pytest.raises(ValueError, match="min_words"):
        bias.weat_tests(wv, [kept], min_words=1)


def test_shipped_lists_cover_the_paper():
    lists = bias.load_weat_lists()
    assert [t["id"] for t in lists["tests"]] == [f"weat{i}" for i in range(1, 11)]
    for test in lists["tests"]:
        x, y = (g["words"] for g in test["targets"])
        assert len(x) == len(y) and all(len(g["words"]) >= 6 for g in test["targets"] + test["attributes"])
    assert "Caliskan" in lists["source"] and lists["analogy_probe"]["pair"] == ["he", "she"]


def test_analogy_probe():
    words = ["he", "she", "doctor", "nurse", "table", "chair", "engineer"]
    vectors = np.array([[1, 0, 0, 0], [0, 1, 0, 0], [1, 0, 1, 0], [0, 1, 1, 0], [0, 0, 0, 1], [0, 0, .2, 1],
                        [.5, 0, 0, 1]], np.float32)
    wv = WordVectors(words, vectors)
    probe = bias.analogy_probe(wv, ["doctor", "astronaut"], topn=2)
    assert probe["completions"]["doctor"][0][0] == "nurse"
    assert probe["missing"] == ["astronaut"]
    assert "| doctor | nurse" in bias.probe_table(probe)


def test_weat_command_on_a_vectors_file(tmp_path, capsys):
    from seqkeras import cli
    from seqkeras.word2vec.vectors import save_word2vec_format

    words = ["he", "she", "doctor", "nurse", "table", "chair", "engineer"]
    vectors = np.array([[1, 0, 0, 0], [0, 1, 0, 0], [1, 0, 1, 0], [0, 1, 1, 0], [0, 0, 0, 1], [0, 0, .2, 1],
                        [.5, 0, 0, 1]], np.float32)
    path = save_word2vec_format(tmp_path / "v.txt", words, vectors)
    assert cli.main(["weat", str(path), "--occupation", "doctor", "--topn", "1"]) == 0
    out = capsys.readouterr().out
    # Seven words cover no published test: all ten are skipped, and the output says so.
    assert "skipped for coverage" in out and "weat1, weat2" in out and "| doctor | nurse |" in out
